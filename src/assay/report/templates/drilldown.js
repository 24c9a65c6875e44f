(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("dd-data").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var task = $("dd-task"), selA = $("dd-a"), selB = $("dd-b");
  var only = $("dd-disagree"), search = $("dd-search"), list = $("dd-list"), count = $("dd-count");
  var PAGE = 12, shown = PAGE;  // cards on screen; "show more" adds a page

  function option(sel, value) {
    var o = document.createElement("option"); o.value = value; o.textContent = value; sel.appendChild(o);
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag); if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text; return e;
  }
  function fmt(v) { return (v === null || v === undefined) ? "—" : (Math.round(v * 1000) / 1000).toString(); }

  Object.keys(data).forEach(function (t) { option(task, t); });
  function fillModels() {
    var t = data[task.value]; selA.innerHTML = ""; selB.innerHTML = "";
    t.models.forEach(function (m) { option(selA, m); option(selB, m); });
    if (t.models.length > 1) selB.selectedIndex = 1;
    else only.checked = false;  // one model: show its answers, there is nothing to disagree with
  }
  function answerBox(doc, model, metric) {
    var box = el("div", "answer"), ans = doc.answers[model];
    var who = el("div", "who", model + " ");
    if (ans) {
      var s = ans[1], badge = el("span", "badge", metric + " " + fmt(s));
      if (s !== null) badge.className += (s > 0 ? " ok" : " no");
      who.appendChild(badge);
    }
    box.appendChild(who);
    box.appendChild(el("pre", "", ans ? (ans[0] === null ? "(no answer text)" : ans[0]) : "(not answered)"));
    return box;
  }
  function render() {
    var t = data[task.value], a = selA.value, b = selB.value, q = search.value.toLowerCase();
    var docs = t.docs.filter(function (d) {
      var x = d.answers[a], y = d.answers[b];
      if (only.checked) {
        if (!x || !y) return false;
        if (x[1] === y[1] && x[0] === y[0]) return false;
      }
      if (q && (d.prompt + " " + d.target + " " + d.id).toLowerCase().indexOf(q) < 0) return false;
      return true;
    });
    list.innerHTML = "";
    count.textContent = docs.length + " of " + t.docs.length + " embedded documents (" +
      t.total_docs + " in the store, " + t.disputed_docs + " with any disagreement)";
    docs.slice(0, shown).forEach(function (d) {
      var card = el("div", "dd-doc");
      card.setAttribute("data-doc", d.id);
      var head = el("div", "head");
      head.appendChild(el("span", "", "doc " + d.id));
      head.appendChild(el("span", "", "target: " + (d.target || "—")));
      card.appendChild(head);
      var p = el("div", "prompt"); p.appendChild(el("pre", "", d.prompt || "(no prompt stored)"));
      card.appendChild(p);
      var row = el("div", "answers");
      row.appendChild(answerBox(d, a, t.metric)); row.appendChild(answerBox(d, b, t.metric));
      card.appendChild(row); list.appendChild(card);
    });
    if (docs.length > shown) {
      var more = el("button", "", "show " + Math.min(PAGE, docs.length - shown) + " more (" + shown + " of " + docs.length + " shown)");
      more.id = "dd-more";
      more.addEventListener("click", function () { shown += PAGE; render(); });
      list.appendChild(more);
    }
  }
  function fresh() { shown = PAGE; render(); }
  task.addEventListener("change", function () { fillModels(); fresh(); });
  [selA, selB, only].forEach(function (s) { s.addEventListener("change", fresh); });
  search.addEventListener("input", fresh);
  fillModels(); render();
})();
