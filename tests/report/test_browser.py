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
    requests = []
    page.on("request", lambda r: requests.append(r.url))
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
    disagree = page.locator("#dd-list .dd-doc").count()
    page.uncheck("#dd-disagree")
    everything = page.locator("#dd-list .dd-doc").count()
    assert 0 < disagree < everything == 50
    page.check("#dd-disagree")
    page.locator("#drilldown").screenshot(path=shots / "drilldown.png")
    assert all(u.startswith("file://") for u in requests), requests  # nothing from the network
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
