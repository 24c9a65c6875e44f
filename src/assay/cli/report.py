"""`assay report` (one self-contained HTML file) and `assay serve` (the live app)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._common import bounded, console, fail, get_store, json_printed, output_file
from ._options import (
    MAX_BOOTSTRAP,
    JsonOption,
    StoreOption,
    TasksOption,
    report_confidence,
    seed_option,
    with_options,
)
from ._progress import progress_bar


@with_options(confidence=report_confidence)
def report(
    store: StoreOption = None,
    output: Annotated[
        Path,
        typer.Option("--output", "-o", callback=output_file(), help="HTML file to write."),
    ] = Path("report.html"),
    task: TasksOption = None,
    confidence: float = 0.95,
    bootstrap: Annotated[
        int | None,
        typer.Option(
            callback=bounded(0, MAX_BOOTSTRAP),
            help="Resamples of every bootstrap (arena ratings, calibration, judges), as the "
            "commands take them (default 1000, as `assay rank battles`; the arena with "
            "--method elo: 100).",
            show_default=False,
        ),
    ] = None,
    scaling_bootstrap: Annotated[
        int,
        typer.Option(
            callback=bounded(0, MAX_BOOTSTRAP),
            help="Bootstrap refits for the scaling forecast band.",
        ),
    ] = 30,
    max_docs: Annotated[
        int,
        typer.Option(
            callback=bounded(0), help="Documents per task embedded for the side-by-side view."
        ),
    ] = 300,
    seed: Annotated[int, seed_option("Seed for every bootstrap.")] = 0,
    method: Annotated[
        str, typer.Option(help="Arena ratings: bt, davidson or elo (as `assay rank battles`).")
    ] = "bt",
    anchor: Annotated[
        str | None,
        typer.Option(help="MODEL=RATING to pin one arena model (default: mean 1000 per group)."),
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            help="Open the report with every model against this one: per task the difference "
            "to it with its interval, regressions first, and the questions that flipped.",
            show_default=False,
        ),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Write one self-contained HTML report (findings, leaderboard, pairwise tests, flips,
    variance, plots, arena, scaling forecast, what was run, answers side by side) and print
    its path. Every interval and test is at --confidence (95% by default) and each panel
    equals its command at the same --confidence, --bootstrap and --seed."""
    from assay.errors import InputError
    from assay.report import write_report

    from .rank import METHODS, _parse_anchor

    if method not in METHODS:
        raise InputError(f"--method {method!r}: use one of {', '.join(METHODS)}")
    anchor_pair = _parse_anchor(anchor)
    st = get_store(store, must_exist=True)
    with progress_bar("building the report (panels)", enabled=not json_out) as update:
        written, data = write_report(
            st,
            output,
            tasks=task or None,
            confidence=confidence,
            bootstrap=bootstrap,
            seed=seed,
            max_docs=max_docs,
            scaling_bootstrap=scaling_bootstrap,
            method=method,
            anchor=anchor_pair,
            progress=update,
            baseline=baseline,
        )
    if json_printed(json_out, {"path": str(written), **data.to_dict()}):
        return
    if data.verdict is not None:
        for sentence in data.verdict.verdict.sentences:
            console.print(sentence, highlight=False, markup=False, soft_wrap=True)
    for sentence in [f.text for f in data.findings[:3]] or data.summary[:3]:
        console.print(sentence, highlight=False, markup=False)
    typer.echo(str(written))


def serve(
    store: StoreOption = None,
    host: Annotated[
        str, typer.Option(help="Interface to bind (keep 127.0.0.1 unless you mean it).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(callback=bounded(1, 65535), help="Port.")] = 8765,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="ASSAY_TOKEN",
            help="Require this token for votes and other writes (one is generated when "
            "--host is not loopback).",
        ),
    ] = None,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help="Also answer requests for this host name (repeatable; e.g. the machine's "
            "name when binding 0.0.0.0). Other Host headers get 400.",
        ),
    ] = None,
    write_rate: Annotated[
        float,
        typer.Option(
            callback=bounded(0, low_open=True), help="Writes per minute allowed per client."
        ),
    ] = 60.0,
    write_burst: Annotated[
        int, typer.Option(callback=bounded(1), help="Writes a client may make at once.")
    ] = 30,
    seed: Annotated[int, seed_option("Seed for arena draws and bootstraps.")] = 0,
) -> None:
    """Serve the report live, a JSON API (/docs) and an arena voting page (/arena)."""
    try:
        from assay.serve import RateLimit, create_app, host_name, is_loopback, run
    except ImportError as exc:
        fail(f"`assay serve` needs the serve extra: pip install 'assay[serve]' ({exc})")
    path = get_store(store, must_exist=True).path
    if token is not None and not token.strip():
        fail("--token is empty")
    app = create_app(
        path,
        token=token,
        seed=seed,
        host=host,
        port=port,
        allowed_hosts=allowed_host or (),
        rate=RateLimit(per_minute=write_rate, burst=write_burst),
    )
    url = f"http://{host_name(host)}:{port}/"
    console.print(
        f"serving {path} on {url} (arena: /arena, API docs: /docs)",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    if not is_loopback(host):
        secret = app.state.assay.token
        lines = [
            f"write token (generated): {secret}; voters open {url}arena?token={secret}"
            if not token
            else f"writes need the --token value; voters open {url}arena?token=TOKEN",
            "requests must name 127.0.0.1, localhost"
            + ("" if host_name(host) in ("0.0.0.0", "[::]") else f", {host_name(host)}")
            + "".join(f", {h}" for h in allowed_host or [])
            + " in their Host header (add names with --allowed-host)",
        ]
        for line in lines:
            console.print(line, highlight=False, markup=False, soft_wrap=True)
    run(app, host=host, port=port)


def register(app: typer.Typer) -> None:
    """Add this part's commands to the main app."""
    app.command("report")(report)
    app.command("serve")(serve)
