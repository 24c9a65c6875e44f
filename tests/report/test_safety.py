"""Hostile text in the report and the web app's defences: JSON in <script> round-trips, plot
labels stay literal (no mathtext), Host check, security headers, body and rate limits, the
write token when exposed, offline API docs, and one-line errors for bad report options."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import run_main
from fastapi.testclient import TestClient

from assay.report import build_report, render_report
from assay.report._plots import plain_text
from assay.serve import RateLimit, create_app
from assay.store import Store, make_run_id

LOCAL = "http://127.0.0.1:8765"
MATH = "$\\frac{1}{0}$ \\x"  # mathtext would draw a fraction
BAD = "$x^$ \\y"  # invalid mathtext: matplotlib raises when it parses this
HOSTILE_MODELS = [MATH, "a$b", BAD, "<!--m {{ 7*7 }}</script>"]
HOSTILE_TEXT = [
    "<!--",
    "</script><script>alert(1)</script>",
    "$x$",
    "{{ 7*7 }}",
    "a\u2028b\u2029c",
    "</SCRIPT ><!-- <script>",
    "&amp; & <b>bold</b>",
]
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.I)


def make_hostile_store(path: Path) -> Path:
    """4 models with hostile names and sizes; prompts, targets and answers hostile too."""
    rng = np.random.default_rng(3)
    store = Store(path)
    records = []
    n = 24
    for k, model in enumerate(HOSTILE_MODELS):
        run_id = make_run_id(model, "t$sk")
        store.upsert_run({"run_id": run_id, "model": model, "task": "t$sk"})
        correct = rng.random(n) < 0.3 + 0.15 * k
        for i in range(n):
            text = HOSTILE_TEXT[i % len(HOSTILE_TEXT)]
            records.append(
                {
                    "run_id": run_id,
                    "model": model,
                    "task": "t$sk",
                    "repeat": 0,
                    "doc_id": f"d{i:02d}",
                    "prompt": f"{text} prompt {i}",
                    "target": text,
                    "prediction": text if correct[i] else f"{model} says {text}",
                    "metrics": {"acc": float(correct[i])},
                }
            )
    store.write_samples(records)
    store.upsert_models(
        [
            {"model": m, "params": 10.0 ** (7 + k), "tokens": 2e8 * 10**k}
            for k, m in enumerate(HOSTILE_MODELS)
        ]
    )
    store.add_battles(
        pd.DataFrame(
            {
                "model_a": [HOSTILE_MODELS[i % 4] for i in range(40)],
                "model_b": [HOSTILE_MODELS[(i + 1 + i // 4) % 4] for i in range(40)],
                "winner": ["model_a", "model_b", "tie", "model_a"] * 10,
                "judge": "sim",
            }
        ).query("model_a != model_b")
    )
    return path


@pytest.fixture(scope="module")
def hostile_path(tmp_path_factory) -> Path:
    return make_hostile_store(tmp_path_factory.mktemp("hostile") / "hostile.duckdb")


@pytest.fixture(scope="module")
def hostile_html(hostile_path) -> str:
    data = build_report(hostile_path, scaling_bootstrap=2, bootstrap=5)
    return render_report(data)


class _Tags(HTMLParser):
    """Start tags with their attributes, and each <script>'s text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._in_script: dict[str, str | None] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = dict(attrs)
            self.scripts.append((self._in_script, ""))

    def handle_data(self, data):
        if self._in_script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = None


def _parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser


# -- the report ---------------------------------------------------------------------------
def test_drilldown_json_round_trips_hostile_text(hostile_path, hostile_html):
    parsed = _parse(hostile_html)
    # exactly the two scripts of the template: the data block and the drill-down code
    assert [a.get("id") or a.get("type") for a, _ in parsed.scripts] == ["dd-data", None]
    assert not any(tag in ("img", "b") for tag, _ in parsed.tags)  # no text became markup
    raw = parsed.scripts[0][1]
    assert not re.search(r"[<>&\u2028\u2029]", raw)  # nothing that can end or alter <script>
    data = json.loads(raw)["t$sk"]
    samples = Store(hostile_path).samples().set_index(["model", "doc_id"])
    assert set(data["models"]) == set(HOSTILE_MODELS)
    assert len(data["docs"]) == 24
    for doc in data["docs"]:
        row = samples.loc[(HOSTILE_MODELS[0], doc["id"])]
        assert doc["prompt"] == row["prompt"] and doc["target"] == row["target"]
        for model, (answer, _) in doc["answers"].items():
            assert answer == samples.at[(model, doc["id"]), "prediction"]
    assert {d["target"] for d in data["docs"]} == set(HOSTILE_TEXT)
    # the model names reach the tables as text, and no template ran on them
    assert "{{ 7*7 }}&lt;/script&gt;" in hostile_html and ">49<" not in hostile_html


def test_templates_render_in_the_sandbox():
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from assay.report import environment as report_env
    from assay.serve._app import environment as serve_env

    for env in (report_env(), serve_env()):
        assert isinstance(env, ImmutableSandboxedEnvironment) and env.autoescape


def test_plot_labels_are_literal_text(hostile_html):
    labels = set(re.findall(r"<text[^>]*>([^<]*)</text>", hostile_html))
    names = (MATH, "a$b", BAD, "&lt;!--m {{ 7*7 }}&lt;/script&gt;", "t$sk")
    for shown in names:  # tick labels, annotations, titles
        assert shown in labels, sorted(labels)
    assert "<style" not in hostile_html.split("</head>", 1)[1]  # plots carry no global CSS
    assert plain_text("a\\$b $x$") == "a\\\\$b \\$x\\$"


def test_forecast_plot_with_mathtext_column_names(tmp_path):
    forecast = pytest.importorskip("assay.forecast")
    n = np.geomspace(1e7, 1e10, 8)
    df = pd.DataFrame({MATH: n, BAD: 2.0 + 50 * n**-0.3})
    fit = forecast.fit_law(df, "power", x=MATH, y=BAD)
    out = forecast.plot_forecast(fit, df, path=tmp_path / "fit.svg", title="fit of $y$ \\z")
    svg = out.read_text()
    for label in (MATH, BAD, "fit of $y$ \\z"):
        assert f"<!-- {label} -->" in svg  # matplotlib notes each text as typed


# -- the web app --------------------------------------------------------------------------
@pytest.fixture()
def app_store(plain_store_path, tmp_path) -> Path:
    path = tmp_path / "app.duckdb"
    shutil.copy(plain_store_path, path)
    return path


def test_hostile_store_served(hostile_path):
    client = TestClient(create_app(hostile_path, port=8765), base_url=LOCAL)
    for url in ("/", "/arena", "/api/leaderboard", "/api/samples", "/api/ratings"):
        r = client.get(url)
        assert r.status_code == 200, (url, r.text[:300])
    page = _parse(client.get("/").text)
    assert json.loads(page.scripts[0][1])["t$sk"]["models"]


PAGES = ["/", "/arena", "/docs", "/api/info", "/api/models", "/openapi.json", "/healthz"]


def test_security_headers_on_every_response(app_store):
    client = TestClient(create_app(app_store, port=8765), base_url=LOCAL)
    responses = [client.get(u) for u in PAGES]
    responses += [
        client.get("/api/samples", params={"model": "nobody"}),  # 404 JSON
        client.get("/nowhere"),  # 404 page
        client.get("/", headers={"Host": "evil.example"}),  # 400 from the Host check
        client.post("/api/battles", content=b"{", headers={"Content-Type": "application/json"}),
    ]
    assert [r.status_code for r in responses] == [200] * len(PAGES) + [404, 404, 400, 422]
    nonces = set()
    for r in responses:
        h = r.headers
        csp = h["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, csp
        assert "object-src 'none'" in csp and "http" not in csp and "*" not in csp
        assert "'unsafe-inline'" not in csp.split("style-src-attr")[0]  # scripts: nonce only
        assert h["x-content-type-options"] == "nosniff"
        assert h["x-frame-options"] == "DENY" and h["referrer-policy"] == "no-referrer"
        nonce = re.search(r"script-src 'nonce-([^']+)'", csp).group(1)
        nonces.add(nonce)
        if h["content-type"].startswith("text/html"):
            parsed = _parse(r.text)
            for tag, attrs in parsed.tags:
                if tag == "style" or (tag == "script" and attrs.get("type") != "application/json"):
                    assert attrs.get("nonce") == nonce, (r.url, tag)
            assert not any(a.startswith("on") for _, attrs in parsed.tags for a in attrs)
    assert len(nonces) == len(responses)  # a fresh nonce per response


def test_host_check_blocks_dns_rebinding(app_store):
    before = len(Store(app_store).battles())
    client = TestClient(
        create_app(app_store, port=8765, allowed_hosts=["lab.example"]), base_url=LOCAL
    )
    battle = {"model_a": "tiny-10m", "model_b": "xl-30b", "winner": "tie"}
    for host in ("evil.example", "evil.example:8765", "127.0.0.1:9999", "127.0.0.1.evil:8765",
                 "localhost:8765@evil", "[::1", ""):  # fmt: skip
        r = client.get("/api/battles", headers={"Host": host})
        assert r.status_code == 400, host
        assert client.post("/api/battles", json=battle, headers={"Host": host}).status_code == 400
    assert len(Store(app_store).battles()) == before  # a rebinding page cannot vote
    for host in ("127.0.0.1:8765", "localhost:8765", "[::1]:8765", "LOCALHOST:8765",
                 "lab.example:8765"):  # fmt: skip
        assert client.get("/api/info", headers={"Host": host}).status_code == 200, host
    bound = TestClient(create_app(app_store, host="10.1.2.3", port=80), base_url=LOCAL)
    assert bound.get("/healthz", headers={"Host": "10.1.2.3"}).status_code == 200
    assert bound.get("/healthz", headers={"Host": "10.1.2.4"}).status_code == 400
    assert "allowed-host" in bound.get("/healthz", headers={"Host": "x.example"}).json()["detail"]


def test_body_size_limit(app_store):
    before = Path(app_store).read_bytes()
    client = TestClient(create_app(app_store), base_url=LOCAL)
    big = {"model_a": "tiny-10m", "model_b": "xl-30b", "winner": "tie", "judge": "x" * 70_000}
    r = client.post("/api/battles", json=big)
    assert r.status_code == 413 and "64" in r.json()["detail"]
    # no Content-Length (chunked): the limit still holds while the body streams in
    chunks = iter([b'{"pair_id": "abcdefgh", "winner": "tie", "x": "', b"y" * 70_000, b'"}'])
    r = client.post("/api/arena/vote", content=chunks, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert Path(app_store).read_bytes() == before
    small = {"model_a": "tiny-10m", "model_b": "xl-30b", "winner": "tie"}
    assert client.post("/api/battles", json=small).status_code == 200


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_limit_with_a_fake_clock(app_store):
    clock = FakeClock()
    app = create_app(app_store, rate=RateLimit(per_minute=30, burst=3, clock=clock))
    client = TestClient(app, base_url=LOCAL)
    votes = iter(range(100))  # a vote on a new prompt each time (a repeated vote is a 409)

    def battle_json():
        return {"model_a": "tiny-10m", "model_b": "xl-30b", "winner": "model_a",
                "prompt_id": f"p{next(votes)}"}  # fmt: skip

    before = len(Store(app_store).battles())
    codes = [client.post("/api/battles", json=battle_json()).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    limited = client.post("/api/battles", json=battle_json())
    assert limited.status_code == 429 and limited.headers["retry-after"] == "2"
    assert len(Store(app_store).battles()) == before + 3
    clock.now += 2.0  # 30 per minute: one write back every 2 s
    assert client.post("/api/battles", json=battle_json()).status_code == 200
    assert client.post("/api/battles", json=battle_json()).status_code == 429
    other = TestClient(app, base_url=LOCAL, client=("192.0.2.9", 4000))  # its own bucket
    assert other.post("/api/battles", json=battle_json()).status_code == 200
    clock.now += 3600  # refills to the burst, not beyond
    assert [client.post("/api/battles", json=battle_json()).status_code for _ in range(4)] == [
        200,
        200,
        200,
        429,
    ]


def test_token_required_when_not_on_loopback(app_store):
    app = create_app(app_store, host="0.0.0.0", port=8765)  # built, never bound
    token = app.state.assay.token
    assert token and len(token) >= 24
    battle = {"model_a": "tiny-10m", "model_b": "xl-30b", "winner": "tie"}
    remote = TestClient(app, base_url=LOCAL, client=("192.0.2.7", 5000))
    assert remote.post("/api/battles", json=battle).status_code == 401
    ok = remote.post("/api/battles", json=battle, headers={"X-Assay-Token": token})
    assert ok.status_code == 200
    assert token not in remote.get("/arena").text  # a remote visitor must be given it
    # the operator's own browser (a loopback client) gets the token in its arena page
    local = TestClient(app, base_url=LOCAL, client=("127.0.0.1", 5000))
    page = _parse(local.get("/arena").text)
    config = next(t for a, t in page.scripts if a.get("id") == "arena-config")
    assert json.loads(config) == {"token": token}
    pair = local.get("/api/arena/pair").json()
    vote = {"pair_id": pair["pair_id"], "winner": "tie"}
    assert local.post("/api/arena/vote", json=vote).status_code == 401
    assert local.post("/api/arena/vote", json=vote, headers={"X-Assay-Token": token}).is_success
    # loopback only: no token unless asked for; a given token is kept
    assert create_app(app_store).state.assay.token is None
    assert create_app(app_store, host="::", token="mine").state.assay.token == "mine"


def test_pages_load_nothing_from_the_internet(app_store, tmp_path):
    client = TestClient(create_app(app_store), base_url=LOCAL)
    docs = client.get("/docs")
    assert docs.status_code == 200 and "POST /api/battles" in docs.text
    assert "/api/arena/vote" in docs.text and "max length 200" in docs.text
    assert client.get("/redoc").status_code == 404
    missing = TestClient(create_app(tmp_path / "none.duckdb"), base_url=LOCAL)
    for r in [client.get("/"), client.get("/arena"), docs, missing.get("/")]:
        assert r.headers["content-type"].startswith("text/html")
        assert not EXTERNAL.search(r.text), EXTERNAL.search(r.text)
        assert "<link" not in r.text and "@import" not in r.text
        assert not re.search(r"url\(\s*['\"]?(?!#)", r.text)  # only url(#clip) in plots
    assert "swagger" not in docs.text.lower() and "cdn" not in docs.text.lower()


# -- the CLI ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--max-docs", "-1"], "--max-docs"),
        (["--bootstrap", "-1"], "--bootstrap"),
        (["--scaling-bootstrap", "-5"], "--scaling-bootstrap"),
        (["--seed", "-2"], "--seed"),
        (["--alpha", "1.5"], "--alpha"),
        (["-o", "{tmp}/missing/r.html"], "-o"),
        (["-o", "{tmp}"], "-o"),
    ],
)
def test_report_bad_options_one_line(app_store, tmp_path, args, option):
    before = Path(app_store).read_bytes()
    out = tmp_path / "r.html"
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    argv = ["report", "--store", str(app_store), *(["-o", str(out)] if "-o" not in args else [])]
    code, stdout, stderr = run_main([*argv, *args])
    assert code == 1 and stdout == ""
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr
    assert option in stderr, stderr
    assert not out.exists() and not (tmp_path / "missing").exists()
    assert Path(app_store).read_bytes() == before


@pytest.mark.parametrize(
    "args", [["--port", "0"], ["--write-burst", "0"], ["--write-rate", "-1"], ["--seed", "-1"]]
)
def test_serve_bad_options_one_line(tmp_path, args):
    # the store is missing too: a message naming the option proves it was checked first
    code, _, stderr = run_main(["serve", "--store", str(tmp_path / "none.duckdb"), *args])
    assert code == 1 and len(stderr.strip().splitlines()) == 1
    assert args[0] in stderr and "no store" not in stderr


def test_store_strings_cannot_reverse_numbers_or_add_tags(tmp_path):
    """An audit: a task named "math" + U+202E showed the verdict's numbers reversed, and model
    names holding "<small>" or "<br>" became tags in table cells."""
    store = Store(tmp_path / "s.duckdb")
    records = []
    for k, model in enumerate(["good<small>big", "bad</small><br>x"]):
        run_id = make_run_id(model, "math\u202e")
        store.upsert_run({"run_id": run_id, "model": model, "task": "math\u202e"})
        records += [
            {
                "run_id": run_id,
                "model": model,
                "task": "math\u202e",
                "repeat": 0,
                "doc_id": f"d{i}",
                "metrics": {"acc": float((i + k) % 3 == 0)},
            }
            for i in range(30)
        ]
    store.write_samples(records)
    html = render_report(build_report(tmp_path / "s.duckdb", scaling_bootstrap=0, bootstrap=0))
    parsed = _parse(html)
    outside_scripts = re.sub(r"<script\b.*?</script>", "", html, flags=re.S)
    assert "\u202e" not in outside_scripts and "math\\u202e" in outside_scripts
    assert "good&lt;small&gt;big" in outside_scripts
    assert "bad&lt;/small&gt;&lt;br&gt;x" in outside_scripts
    assert "good<small>" not in html and "</small><br>x" not in html
    assert any(tag == "small" for tag, _ in parsed.tags)  # the panels' own number markup stays


def test_backticks_inside_names_stay_text():
    """An audit: models gpt`4 and llama`3 made "gpt<code>4 against llama</code>3"."""
    from assay.report._glossary import code_spans, explain

    assert code_spans("gpt`4 against llama`3") == "gpt`4 against llama`3"
    assert "<code>" not in str(explain("gpt`4 − llama`3 on `x`y"))
    assert code_spans("run `assay eval -m MODEL`.") == "run <code>assay eval -m MODEL</code>."
    assert code_spans("(`a<b`)") == "(<code>a&lt;b</code>)"
