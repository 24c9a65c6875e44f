"""Real browser: Chromium (Playwright) opens the report and the live app, checks the numbers
and casts a vote. Screenshots go to $ASSAY_SCREENSHOTS or the test's tmp folder."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from assay.store import Store

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"{CHROMIUM} is missing (apt-get install -y chromium; CI installs it)",
    ),
]
sync_api = pytest.importorskip("playwright.sync_api")
stats = pytest.importorskip("assay.stats")


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = os.environ.get("ASSAY_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live_server(plain_store_path, tmp_path_factory):
    import uvicorn

    from assay.serve import create_app

    path = tmp_path_factory.mktemp("live") / "live.duckdb"
    shutil.copy(plain_store_path, path)
    # one vote between two models nobody else met: a second arena group, rated on its own
    Store(path).add_battles(
        [{"battle_id": "new-pair", "model_a": "new-a", "model_b": "new-b", "winner": "model_a"}]
    )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(path, seed=3), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}", path
    server.should_exit = True
    thread.join(10)


def test_report_in_browser(browser, report_file, store_path, shots):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    requests, console = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: console.append(m.text))
    page.goto(report_file.as_uri())
    expected = stats.compare(Store(store_path).scores(metric="acc")).scores
    exp = expected[expected["task"] == "facts"].set_index("model")
    rows = page.locator("#leaderboard-facts tbody tr")
    assert rows.count() == len(exp)
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td")
        model = cells.nth(1).inner_text()
        assert cells.nth(2).inner_text() == f"{exp.at[model, 'mean']:.3f}"
        assert cells.nth(3).inner_text() == (
            f"{exp.at[model, 'ci_low']:.3f} – {exp.at[model, 'ci_high']:.3f}"
        )
    assert "leads with" in page.locator("#summary").inner_text()
    page.screenshot(path=shots / "report.png", full_page=True)
    # drill-down: only disagreements by default; unticking shows every embedded document
    page.select_option("#dd-task", "arith")
    page.select_option("#dd-a", "xl-30b")
    page.select_option("#dd-b", "large-10b")
    disagree = int(page.locator("#dd-count").inner_text().split()[0])
    assert page.locator("#dd-list .dd-doc").count() == min(disagree, 12)  # one page at a time
    page.uncheck("#dd-disagree")
    assert page.locator("#dd-count").inner_text().startswith("50 of 50 embedded documents")
    assert 0 < disagree < 50
    page.click("#dd-more")
    assert page.locator("#dd-list .dd-doc").count() == 24
    page.check("#dd-disagree")
    page.locator("#drilldown").screenshot(path=shots / "drilldown.png")
    assert all(u.startswith("file://") for u in requests), requests  # nothing from the network
    assert not [m for m in console if "Content Security Policy" in m], console  # its own CSP
    page.close()


def test_vote_in_browser(browser, live_server, shots):
    url, path = live_server
    before = len(Store(path).battles())
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    console = []  # CSP violations show up as console errors
    page.on("console", lambda m: console.append(m.text))
    page.goto(url + "/arena")
    # expect(), not wait_for_function(): the app's CSP forbids eval in the page
    expect = sync_api.expect
    expect(page.locator("#answer-a")).not_to_have_text("")
    assert page.locator("#name-a").inner_text() == ""  # anonymous before the vote
    page.wait_for_selector("#arena-counts")
    page.screenshot(path=shots / "arena-before.png", full_page=True)
    # the new pair did not wipe the leaderboard: two groups, each rated, and the page says so
    assert "2 groups" in page.locator("#arena-groups-note").inner_text()
    assert page.locator("#arena-ratings tbody tr").count() == 5
    assert page.locator("#arena-ratings-2 tbody tr").count() == 2
    assert page.locator("#arena-ratings caption").inner_text().startswith("group 1: 5 models")
    page.click("#vote-a")
    page.wait_for_selector("#reveal:not([hidden])")
    revealed = page.locator("#name-a").inner_text().removeprefix("— ")
    expect(page.locator("#battle-total")).to_have_text(re.compile(rf"^{before + 1} "))
    battles = Store(path).battles()
    assert len(battles) == before + 1
    last = battles[battles["judge"] == "human"].iloc[-1]
    assert last["winner"] == "model_a" and last["model_a"] == revealed
    page.screenshot(path=shots / "arena-after.png", full_page=True)
    page.goto(url + "/")
    assert page.locator("#leaderboard-arith tbody tr").count() == 5
    assert f"{before + 1:,} votes" in page.locator("header").inner_text()
    page.select_option("#dd-task", "arith")  # the drill-down script ran under the CSP
    assert page.locator("#dd-list .dd-doc").count() > 0
    page.goto(url + "/docs")
    assert "POST /api/battles" in page.locator("main").inner_text()
    page.goto(url + "/api/samples?model=nobody")
    assert "unknown model" in page.content()
    assert not [m for m in console if "Content Security Policy" in m], console
    page.close()


@pytest.fixture(scope="module")
def variant_report_file(variant_store_path, tmp_path_factory):
    from assay.report import build_report, render_report

    path = tmp_path_factory.mktemp("variants-report") / "report.html"
    data = build_report(variant_store_path, scaling_bootstrap=0, bootstrap=10)
    path.write_text(render_report(data), encoding="utf-8")
    return path


def test_default_job_report_reads_at_a_glance(browser, variant_report_file, shots):
    """A model against its int8 quantization, two orderings: what a person sees."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(variant_report_file.as_uri())
    page.screenshot(path=shots / "default-job-report.png", full_page=True)
    page.locator("#summary").screenshot(path=shots / "default-job-findings.png")
    # findings first: the significant difference leads, the rest folded
    findings = page.locator("#findings > li")
    assert findings.count() == 6
    first = findings.nth(0).inner_text()
    assert "smollm2-135m scores" in first and "higher than smollm2-135m-int8" in first
    assert "95% CI of the difference" in first and "a real difference" in first
    assert any("answers flipped from right to wrong" in t for t in findings.all_inner_texts())
    more = page.locator("#more-findings")
    assert more.locator("summary").inner_text() == f"{more.locator('li').count()} more findings"
    assert more.locator("li").count() >= 10
    assert not more.locator("li").first.is_visible()
    more.locator("summary").click()
    assert more.locator("li").first.is_visible()
    # every panel shown has content, none is a placeholder; the empty ones are one box
    panels = page.locator("section.panel:not(#more)")
    titles = [panels.nth(i).locator("h2").inner_text() for i in range(panels.count())]
    assert titles == [
        "Leaderboard", "Pairwise differences", "Version flips", "Variance", "Per-task breakdown",
        "Position bias", "Calibration", "Reliability over variants", "What was run",
        "Answers side by side",
    ]  # fmt: skip
    for i in range(panels.count()):
        panel = panels.nth(i)
        assert panel.locator(".note").count() == 0, titles[i]
        assert panel.locator("table, figure, .dd-doc").count() > 0, titles[i]
        assert panel.locator("td, svg, .dd-doc pre").first.inner_text() != "", titles[i]
    box = page.locator("#more").inner_text()
    assert "Arena ratings" in box and "assay serve" in box and "Scaling and forecast" in box
    # scores beside chance, and the group column only where letters distinguish the models
    lb = page.locator("#leaderboard-arith_mc")
    heads = lb.locator("th").all_inner_texts()
    assert heads[-2:] == ["chance", "group"] and "95% CI" in heads
    assert lb.locator("td.chance").all_inner_texts() == ["0.250", "0.250"]
    assert "group" not in page.locator("#leaderboard-dates_mc th").all_inner_texts()
    assert page.locator("#tasks figure svg", has_text="chance 0.25").count() == 2  # both tasks
    # what was run: the quantized variant's settings
    run = page.locator("#about-runs tr", has_text="smollm2-135m-int8").first.inner_text()
    assert "float32 / int8" in run
    # the side-by-side view compares the two variants, disagreements first
    assert page.locator("#dd-a").input_value() != page.locator("#dd-b").input_value()
    assert page.locator("#dd-list .dd-doc").count() > 0
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 12_000, height  # issue 15: the 1-model report was 12,000 px of mostly empty
    page.close()


def test_default_job_report_opens_with_the_verdict(
    browser, default_job_store_path, tmp_path, shots
):
    """Issue 31: the first block under the title is the verdict naming the default job's
    models by their store names with better / worse / no detectable difference; the
    findings come after it."""
    from assay.report import build_report, render_report

    data = build_report(default_job_store_path, scaling_bootstrap=0, bootstrap=10, max_docs=20)
    path = tmp_path / "report.html"
    path.write_text(render_report(data), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1200, "height": 820})
    page.goto(path.as_uri())
    page.screenshot(path=shots / "default-job-verdict.png")
    title = page.locator("header h1")
    first = page.locator("main > *").first
    assert title.is_visible() and first.get_attribute("id") == "verdict"
    text = first.locator("p").first.inner_text()
    assert text.startswith("smollm2-135m-int8 against smollm2-135m (int8 quantisation):")
    assert any(w in text for w in ("better on", "worse on", "no detectable difference on"))
    assert "smollm2-135m-3shot against smollm2-135m" in first.inner_text()
    # above the fold, and before the findings' "Every result, most surprising first"
    box = first.bounding_box()
    assert box is not None and box["y"] < 120
    summary = page.locator("#summary").bounding_box()
    assert summary is not None and summary["y"] > box["y"] + box["height"] - 1
    page.close()


def test_readme_screenshots_script(default_job_store_path, tmp_path):
    """docs/screenshots.py makes both README images from a store (here the small default-job
    store) in headless Chromium (its own process: Playwright's sync API runs once per thread)."""
    import subprocess
    import sys

    from PIL import Image

    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "img"
    args = [
        sys.executable,
        str(root / "docs" / "screenshots.py"),
        "--store",
        str(default_job_store_path),
        "--out",
        str(out),
    ]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    for name, height in (("report-first-screen.png", 820), ("report-baseline.png", 1300)):
        with Image.open(out / name) as img:
            assert img.size == (1200, height)
        assert (out / name).stat().st_size < 200_000  # small enough to commit
