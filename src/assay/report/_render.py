"""Render a ``ReportData`` to one self-contained HTML page with the Jinja2 templates."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from ._build import ReportData, build_report
from ._panel import jsonable

_ALLOWED_TAGS = re.compile(r"&lt;(/?small|br)&gt;")
_CODE = re.compile(r"`([^`]+)`")


def _safe_cell(text: Any) -> Markup:
    """Escape a cell, keeping only <br> and <small> (used by the formatted number cells)."""
    return Markup(_ALLOWED_TAGS.sub(r"<\1>", str(escape(text))))


def _code_spans(text: Any) -> Markup:
    """Escape text and turn `backticks` into <code> spans."""
    return Markup(_CODE.sub(r"<code>\1</code>", str(escape(text))))


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
    """The Jinja2 environment over the package's templates (also used by ``assay serve``)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("assay.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"], default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["safe_cell"] = _safe_cell
    env.filters["code_spans"] = _code_spans
    env.filters["groupby_runs"] = _groupby_runs
    from assay import __version__

    env.globals["version"] = __version__
    return env


def embed_json(value: Any) -> str:
    """JSON safe to put inside <script type="application/json">."""
    text = json.dumps(jsonable(value), ensure_ascii=False, separators=(",", ":"))
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def render_report(report: ReportData, *, live: bool = False, max_docs: int = 300) -> str:
    """The report as one HTML string: inline CSS, inline SVG plots, inline JS, no network.

    ``live`` adds the navigation of ``assay serve``.
    """
    return (
        environment()
        .get_template("report.html.j2")
        .render(
            report=report,
            drilldown_json=embed_json(report.drilldown),
            live=live,
            page="report",
            max_docs=max_docs,
        )
    )


def write_report(
    store: Any,
    output: str | Path = "report.html",
    *,
    tasks: list[str] | None = None,
    alpha: float = 0.05,
    bootstrap: int = 100,
    seed: int = 0,
    max_docs: int = 300,
    scaling_bootstrap: int = 30,
) -> tuple[Path, ReportData]:
    """Build the report from ``store`` (a Store or a path) and write it; returns (path, data)."""
    data = build_report(
        store,
        tasks=tasks,
        alpha=alpha,
        bootstrap=bootstrap,
        seed=seed,
        max_docs=max_docs,
        scaling_bootstrap=scaling_bootstrap,
    )
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(data, max_docs=max_docs), encoding="utf-8")
    return path.resolve(), data
