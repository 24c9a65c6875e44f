"""The README's screenshots: the report's first screen and its baseline view, in headless
Chromium, so they show what the current code renders.

    python docs/screenshots.py                    # runs the default job (`assay eval`) first
    python docs/screenshots.py --store assay.duckdb [--baseline MODEL]

Without ``--store`` it runs ``assay eval --no-progress`` (the default job: SmolLM2-135M at full
precision, int8 and three-shot) in a temporary folder. It writes ``report.html`` and
``report --baseline`` of that store and saves the first screen of the report as
``docs/img/report-first-screen.png`` and the baseline view, from its table of differences to
the first flipped questions, as ``docs/img/report-baseline.png``. Needs Chromium
(``/usr/bin/chromium`` or ``--chromium``) and playwright.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
VIEWPORT = {"width": 1200, "height": 820}


def _default_job(folder: Path) -> Path:
    """Run the default job into ``folder``/assay.duckdb and return the store's path."""
    store = folder / "assay.duckdb"
    cmd = [sys.executable, "-m", "assay", "eval", "--no-progress", "--store", str(store)]
    done = subprocess.run(cmd, cwd=folder, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"assay eval failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return store


def _baseline(store: Path, chosen: str | None) -> str:
    """``chosen``, else the baseline of the verdict's first pair (the full-precision model)."""
    if chosen:
        return chosen
    from assay.report import build_report

    data = build_report(store, scaling_bootstrap=0, bootstrap=0, max_docs=0)
    pairs = data.verdict.verdict.pairs if data.verdict else []
    if not pairs:
        raise SystemExit("the store has no pair of models to compare: pass --baseline")
    return pairs[0].baseline


def _write(store: Path, out: Path, baseline: str | None) -> Path:
    from assay.report import write_report

    path, _ = write_report(store, out, baseline=baseline)
    return path


def shoot(html: Path, png: Path, chromium: str, *, start: str = "", height: int = 820) -> None:
    """Open ``html`` in headless Chromium and save one screen (1200 × ``height`` px) as
    ``png``: the first, or the one starting at the element ``start`` (a CSS selector)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={**VIEWPORT, "height": height}, device_scale_factor=1)
        page.goto(html.as_uri())
        page.wait_for_selector("#verdict")
        if start:
            top = page.locator(start).first.evaluate("e => e.getBoundingClientRect().top")
            page.evaluate(f"window.scrollTo(0, {max(0.0, top - 12)})")
        png.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(png), full_page=False)
        browser.close()
    _shrink(png)


def _shrink(png: Path) -> None:
    """Re-save ``png`` with a 64-colour palette (about a third of the bytes; text stays sharp)."""
    from PIL import Image  # matplotlib's dependency, so installed with assay

    with Image.open(png) as img:
        small = img.convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    small.save(png, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, help="store to show (default: run the default job)")
    parser.add_argument("--baseline", help="model of the baseline view (default: the parent)")
    parser.add_argument("--out", type=Path, default=HERE / "img", help="folder of the PNGs")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    out = args.out.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.store:  # a copy, so the page shows "assay.duckdb" and the store is only read
            shutil.copy(args.store, folder / "assay.duckdb")
        else:
            _default_job(folder)
        os.chdir(folder)
        store = Path("assay.duckdb")
        baseline = _baseline(store, args.baseline)
        first = _write(store, folder / "report.html", None)
        shoot(first, out / "report-first-screen.png", args.chromium)
        # the baseline view from its table down to the first flipped questions
        view = _write(store, folder / "baseline.html", baseline)
        shoot(view, out / "report-baseline.png", args.chromium, start="#verdict-table", height=1300)
        print(out / "report-first-screen.png", out / "report-baseline.png", sep="\n")


if __name__ == "__main__":
    main()
