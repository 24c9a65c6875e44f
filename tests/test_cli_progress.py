"""Progress on long work: a Rich bar with a percentage and n/N on stderr when stderr is a
terminal (even with stdout redirected), nothing when stderr is piped; the analysis functions
take a ``progress(done, total)`` callback the commands wire to the bar."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assay.forecast import backtest, fit_law
from assay.store import SampleRecord, import_samples, merge_stores, open_store

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "data"
ROWS = ["--map", "model=system", "--map", "doc_id=item", "--metric", "correct"]


class _Terminal(io.StringIO):
    """A captured stream that says it is a terminal (as stderr is in an interactive shell)."""

    def isatty(self) -> bool:
        return True


def _run(args, *, stderr_terminal: bool) -> tuple[int, str, str]:
    """``assay ARGS`` with stdout redirected (never a terminal) and stderr a terminal or not."""
    from assay.cli import main

    out, err = io.StringIO(), (_Terminal() if stderr_terminal else io.StringIO())
    saved = sys.argv, {k: os.environ.pop(k, None) for k in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    os.environ.setdefault("TERM", "xterm")
    sys.argv = ["assay", *map(str, args)]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 0
    finally:
        sys.argv = saved[0]
        os.environ.update({k: v for k, v in saved[1].items() if v is not None})
    return code, out.getvalue(), err.getvalue()


def _two_stores(tmp_path) -> list[Path]:
    paths = []
    for k in range(2):
        store = open_store(tmp_path / f"shard{k}.duckdb")
        store.write_samples(
            [
                SampleRecord(
                    run_id="r", model="m", task="t", doc_id=f"d{k}-{i}", metrics={"acc": 1.0}
                )
                for i in range(5)
            ]
        )
        paths.append(store.path)
    return paths


def test_import_shows_a_bar_on_a_terminal_stderr_with_stdout_redirected(tmp_path):
    argv = ["import", "samples", EXAMPLES / "rows.csv", *ROWS, "--store", tmp_path / "s.db"]
    code, out, err = _run(argv, stderr_terminal=True)
    assert code == 0, err
    assert "importing sample files" in err
    assert "100%" in err and "2/2" in err  # one file read, then the write
    assert "━" in err  # the bar itself
    assert out.startswith("imported 240 samples") and "━" not in out and "100%" not in out


def test_import_is_quiet_when_stderr_is_piped(tmp_path):
    argv = ["import", "samples", EXAMPLES / "rows.csv", *ROWS, "--store", tmp_path / "s.db"]
    code, out, err = _run(argv, stderr_terminal=False)
    assert code == 0, err
    assert err == ""
    assert out.startswith("imported 240 samples")


def test_merge_shows_stores_merged(tmp_path):
    a, b = _two_stores(tmp_path)
    code, out, err = _run(
        ["store", "merge", a, b, "-o", tmp_path / "all.duckdb"], stderr_terminal=True
    )
    assert code == 0, err
    assert "merging stores" in err and "2/2" in err and "100%" in err
    assert "+10 samples" in out


def test_forecast_backtest_counts_its_fits(tmp_path):
    rng = np.random.default_rng(0)
    n = np.geomspace(1e7, 1e9, 12)
    loss = (1.7 + 400 / n**0.34) * np.exp(rng.normal(0, 1e-3, 12))
    path = tmp_path / "runs.csv"
    pd.DataFrame({"params": n, "flops": 120 * n * n, "loss": loss}).to_csv(path, index=False)
    argv = ["forecast", "backtest", path, "--law", "power", "--x", "params", "--on", "params"]
    code, out, err = _run([*argv, "--json"], stderr_terminal=False)
    assert code == 0 and err == ""
    calls = []
    direct = backtest(
        pd.read_csv(path),
        law="power",
        x="params",
        on="params",
        level=0.9,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert json.loads(out)["mae"] == pytest.approx(direct.mae)
    done, total = calls[-1]
    assert done == total >= 2  # the fit and at least one rolling origin
    assert calls[0] == (0, 1) and [d for d, _ in calls] == sorted(d for d, _ in calls)
    code, out2, err = _run(argv, stderr_terminal=True)
    assert code == 0, err
    assert "backtesting power (fits)" in err and f"{total}/{total}" in err and "100%" in err


def test_the_api_reports_progress(tmp_path):
    a, b = _two_stores(tmp_path)
    merged = []
    merge_stores([a, b], tmp_path / "all.duckdb", progress=lambda d, t: merged.append((d, t)))
    assert merged == [(0, 2), (1, 2), (2, 2)]

    imported = []
    import_samples(
        open_store(tmp_path / "s.duckdb"),
        EXAMPLES / "rows.csv",
        mapping={"model": "system", "doc_id": "item"},
        metrics=["correct"],
        progress=lambda d, t: imported.append((d, t)),
    )
    assert imported == [(0, 2), (2, 2)]

    n = np.geomspace(1e7, 1e9, 10)
    data = pd.DataFrame({"params": n, "loss": 1.7 + 400 / n**0.34})
    fit = fit_law(data, "power", x="params")
    refits = []
    fit.ensure_draws(7, progress=lambda d, t: refits.append((d, t)))
    assert refits == [(k, 7) for k in range(1, 8)]


def test_report_counts_its_panels(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    rng = np.random.default_rng(3)
    store.write_samples(
        [
            SampleRecord(
                run_id=f"{m}-t", model=m, task="t", doc_id=f"d{i}", metrics={"acc": float(x)}
            )
            for m, p in (("small", 0.4), ("big", 0.7))
            for i, x in enumerate(rng.random(40) < p)
        ]
    )
    argv = ["report", "--store", store.path, "-o", tmp_path / "r.html", "--bootstrap", "20"]
    code, out, err = _run(argv, stderr_terminal=True)
    assert code == 0, err
    assert "building the report (panels)" in err and "100%" in err
    assert int(re.search(r"(?<!\d)(\d+)/\1(?!\d)", err).group(1)) >= 10  # n/n panels
    assert out.strip().endswith("r.html") and "━" not in out
    code, out, err = _run(argv, stderr_terminal=False)
    assert code == 0 and err == ""
