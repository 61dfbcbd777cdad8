"""The report in a real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from cnibench.report import document
from cnibench.results.model import read_results

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"


@pytest.fixture
def browser(tmp_path):
    if not shutil.which("chromedriver") and not os.environ.get("CI"):
        pytest.skip("chromium-driver not installed (scripts/test.sh installs it)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1280,2400",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "chromedriver"), options=options)
    yield driver
    driver.quit()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_report_loads_cleanly_with_every_plot_drawn(browser, data_dir, tmp_path, scheme):
    runs = [
        read_results(data_dir / "results" / "netns-hostgw-vxlan.json"),
        read_results(data_dir / "results" / "netns-ingress-l7.json"),
    ]
    path, _ = document.write(document.build(runs, [None, None]), tmp_path / "report.html")
    browser.execute_cdp_cmd(
        "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": scheme}]}
    )
    browser.get(path.as_uri())
    assert browser.title.startswith("cnibench report:")
    errors = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]
    assert errors == []
    sizes = browser.execute_script(
        "return [...document.images].map(i => [i.alt, i.naturalWidth, i.getBoundingClientRect().width,"
        " i.getBoundingClientRect().height, i.complete]);"
    )
    assert len(sizes) >= 7
    for alt, natural, width, height, complete in sizes:
        assert complete and natural > 0 and width > 100 and height > 50, (alt, natural, width, height)
    background = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
    assert (background == "rgb(255, 255, 255)") == (scheme == "light")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"report-{scheme}.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
