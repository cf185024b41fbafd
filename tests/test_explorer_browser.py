"""The explorer in a real browser: Debian's Chromium driven by Playwright (no browser download).

The page is served by ``python -m sim.explore`` on a free loopback port. The test starts the
model, takes down the largest cryptomarket from its button, and reads from the page that the
market shows as seized with no sales in the last 7 days while other hidden markets still sell.
The screenshot is kept as a test artifact (``$CMABM_ARTIFACTS`` or ``test-artifacts/``).

Without Chromium or Playwright the test is skipped locally; under CI (``CI`` set) it fails, since
``.ci/run`` installs both.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHROMIUM = os.environ.get("CMABM_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("CMABM_ARTIFACTS", ROOT / "test-artifacts"))


def _need(what: str, present: bool) -> None:
    if present:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing: .ci/run installs it (apt-get install chromium; the dev extra)")
    pytest.skip(f"{what} is not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server():
    """``python -m sim.explore`` on a free loopback port; yields its URL; stops it afterwards."""
    pytest.importorskip("solara") if not os.environ.get("CI") else None
    port = _free_port()
    log = ARTIFACTS / "explorer-server.log"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sim.explore", "--port", str(port)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}/"
        try:
            deadline = time.monotonic() + 120
            while True:
                assert proc.poll() is None, f"the explorer server exited with {proc.returncode}: {log.read_text()[-2000:]}"
                try:
                    with urllib.request.urlopen(url, timeout=5) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                assert time.monotonic() < deadline, f"the explorer server did not answer in 120 s: {log.read_text()[-2000:]}"
                time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _recorded(page) -> tuple[int, int]:
    """(days recorded, last day) as the intervention panel states them."""
    text = page.locator(".v-card", has_text="Apply an intervention now").inner_text()
    found = re.search(r"([\d,]+) of [\d,]+ days recorded \(last: day (-?\d+)\)", text)
    assert found, f"the panel does not state the days recorded: {text[:300]!r}"
    return int(found.group(1).replace(",", "")), int(found.group(2))


def _play_until(page, days: int, timeout_s: float = 300) -> int:
    """Press play, wait until ``days`` days are recorded, pause; return the days recorded."""
    page.get_by_role("button", name="▶").click()
    deadline = time.monotonic() + timeout_s
    while _recorded(page)[0] < days:
        assert time.monotonic() < deadline, f"the model did not reach {days} recorded days in {timeout_s} s"
        time.sleep(0.5)
    page.get_by_role("button", name="❚❚").click()
    time.sleep(1.0)  # the step in progress finishes and the page redraws
    return _recorded(page)[0]


def _market_rows(page) -> dict[str, dict[str, str]]:
    rows = {}
    for row in page.locator("[data-testid=market-table] tbody tr").all():
        cells = {c.get_attribute("data-column"): c.inner_text().strip() for c in row.locator("td").all()}
        rows[row.get_attribute("data-market")] = cells
    return rows


def test_takedown_button_seizes_the_market_in_the_browser(server):
    _need("Debian's chromium", CHROMIUM is not None)
    sync_api = (
        pytest.importorskip("playwright.sync_api") if not os.environ.get("CI") else __import__("playwright.sync_api").sync_api
    )
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1400})
            page.set_default_timeout(60_000)
            page.goto(server, timeout=120_000)
            page.get_by_text("Apply an intervention now").wait_for(timeout=120_000)
            assert _recorded(page) == (0, -1), "a fresh page shows the model after burn-in, before day 0"

            _play_until(page, 20)
            before = _market_rows(page)
            assert any(r["kind"] == "cryptomarket" and int(r["sales_last_7d"]) > 0 for r in before.values()), (
                f"no cryptomarket sold in the first days: {before}"
            )

            page.locator(".cmabm-apply-takedown").click()
            notice = page.locator(".cmabm-intervention-result").inner_text()
            found = re.search(r"dawn of day (\d+)", notice)
            assert found, f"the takedown was not scheduled: {notice!r}"
            start_day = int(found.group(1))

            _play_until(page, start_day + 10)
            after = _market_rows(page)
            seized = [name for name, r in after.items() if r["status"] == "seized"]
            assert len(seized) == 1, f"exactly the taken-down market shows as seized: {after}"
            target = seized[0]
            assert before[target]["kind"] == "cryptomarket", f"the largest cryptomarket is taken down, not {before[target]}"
            assert int(after[target]["sales_last_7d"]) == 0, f"{target} still sells after its seizure: {after[target]}"
            others = {n: int(r["sales_last_7d"]) for n, r in after.items() if n != target and r["kind"] != "webshop"}
            assert sum(others.values()) > 0, f"the other hidden markets stopped selling too: {others}"
            assert page.get_by_text(f"day {start_day}: takedown").count() >= 1, "the applied takedown is listed on the page"

            page.set_viewport_size({"width": 1600, "height": 2800})  # the whole page: the app scrolls inside its own frame
            time.sleep(1.0)
            shot = ARTIFACTS / "explorer-takedown.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 20_000, f"the screenshot {shot} looks empty"
            print(f"screenshot: {shot}")

            # Reset builds a fresh model from the sidebar's parameters (Mesa passes them back)
            page.get_by_role("button", name="Reset").click()
            deadline = time.monotonic() + 120
            while _recorded(page) != (0, -1):
                assert time.monotonic() < deadline, "Reset did not bring a fresh model"
                time.sleep(0.5)
            assert page.locator(".cmabm-settings-error").count() == 0, page.locator(".cmabm-settings-error").all_inner_texts()
            assert page.locator("[data-testid=market-table] tbody tr").count() == 0, "a fresh model has no recorded day"
            served = (ARTIFACTS / "explorer-server.log").read_text(errors="replace")
            assert "Could not load URL" not in served, (
                "the page asked for files from a CDN (it must work offline: the explorer extra's solara-assets): "
                + "; ".join(line for line in served.splitlines() if "Could not load URL" in line)[:1000]
            )
            assert "Traceback" not in served, f"the server raised: {served[-3000:]}"
        finally:
            browser.close()
