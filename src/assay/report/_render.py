"""Render a ``ReportData`` to one self-contained HTML page with the Jinja2 templates."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import jinja2.sandbox
from markupsafe import Markup, escape

from assay.core import to_jsonable, visible
from assay.errors import InputError

from ._build import ReportData, build_report
from ._glossary import code_spans, explain, glossary_entries

# Characters that could end a <script> element, open an HTML comment or break a JS string.
_SCRIPT_ESCAPES = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


_INLINE_SCRIPT = re.compile(
    r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>(.*?)</script>", re.S
)
_INLINE_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.S)
_CHARSET = '<meta charset="utf-8">'


def _sha256(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def static_csp(html: str) -> str:
    """The Content-Security-Policy of a stand-alone report page: its own inline scripts and
    styles by SHA-256 hash (computed from this very page), plot ``style=`` attributes and
    ``data:`` images; nothing else: no other script, no eval, no network, no plugin, no form."""
    scripts = " ".join(dict.fromkeys(map(_sha256, _INLINE_SCRIPT.findall(html)))) or "'none'"
    styles = " ".join(dict.fromkeys(map(_sha256, _INLINE_STYLE.findall(html)))) or "'none'"
    return (
        f"default-src 'none'; script-src {scripts}; style-src {styles}; "
        "style-src-attr 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
    )


def with_static_csp(html: str) -> str:
    """``html`` with a ``<meta http-equiv="Content-Security-Policy">`` right after its charset,
    before any script or style."""
    meta = f'<meta http-equiv="Content-Security-Policy" content="{static_csp(html)}">'
    return html.replace(_CHARSET, f"{_CHARSET}\n{meta}", 1)


def _shown(value: Any) -> Any:
    """Every ``{{ }}`` value before it is escaped (Jinja2's ``finalize``): text with its control
    and bidirectional override characters made visible (:func:`assay.core.visible`), so a
    store string cannot reverse the numbers after it; markup the filters built is kept."""
    return visible(value) if isinstance(value, str) and not isinstance(value, Markup) else value


def _safe_cell(text: Any) -> Markup:
    """A table cell: escaped text, or the :class:`Markup` a panel built itself (a number with
    its interval in ``<small>``); a store string's "<small>" stays text."""
    return text if isinstance(text, Markup) else escape(visible(str(text)))


def _code_spans(text: Any) -> Markup:
    """Escape text and turn `backticks` into <code> spans."""
    return Markup(code_spans(text))


def _groupby_runs(items: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Consecutive items of the same kind, so runs of plots can share a grid row."""
    runs: list[tuple[str, list[dict[str, Any]]]] = []
    for item in items:
        if runs and runs[-1][0] == item["kind"]:
            runs[-1][1].append(item)
        else:
            runs.append((item["kind"], [item]))
    return runs


@cache
def environment() -> jinja2.Environment:
    """The sandboxed Jinja2 environment over the package's templates (also used by
    ``assay serve``); HTML is autoescaped."""
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        loader=jinja2.PackageLoader("assay.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"], default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_shown,
    )
    env.filters["safe_cell"] = _safe_cell
    env.filters["code_spans"] = _code_spans
    env.filters["groupby_runs"] = _groupby_runs
    env.filters["script_json"] = embed_json
    env.filters["explain"] = explain
    env.globals["glossary"] = glossary_entries()
    from assay import __version__

    env.globals["version"] = __version__
    return env


def embed_json(value: Any) -> Markup:
    """``value`` as JSON safe inside any HTML ``<script>`` element: ``<``, ``>``, ``&``, U+2028
    and U+2029 become ``\\uXXXX`` escapes, so no string can close the element, open a comment
    or end a JS string; ``JSON.parse`` / ``json.loads`` give back the original text."""
    text = json.dumps(
        to_jsonable(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )
    return Markup(text.translate(_SCRIPT_ESCAPES))


def render_report(
    report: ReportData, *, live: bool = False, max_docs: int | None = None, nonce: str = ""
) -> str:
    """The report as one HTML string: inline CSS, inline SVG plots, inline JS, no network.

    ``live`` adds the navigation of ``assay serve``; ``nonce`` marks the inline script and
    style for the server's Content-Security-Policy header; without one the page carries its
    own policy (:func:`static_csp`, hashes of its inline script and style) in a ``<meta>``.
    ``max_docs`` (the cap the drill-down names) defaults to the report's.
    """
    html = (
        environment()
        .get_template("report.html.j2")
        .render(
            report=report,
            drilldown_json=embed_json(report.drilldown),
            live=live,
            page="report",
            max_docs=report.max_docs if max_docs is None else max_docs,
            csp_nonce=nonce,
        )
    )
    return html if nonce else with_static_csp(html)


def write_report(
    store: Any, output: str | Path = "report.html", **options: Any
) -> tuple[Path, ReportData]:
    """Build the report from ``store`` (a Store or a path) with :func:`build_report`'s keyword
    ``options`` and write it; returns (path, data)."""
    data = build_report(store, **options)
    path = Path(output)
    html = render_report(data)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot write the report ({exc.strerror or exc})") from None
    return path.resolve(), data
