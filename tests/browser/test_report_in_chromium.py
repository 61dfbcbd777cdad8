"""The report in a real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium)."""

from __future__ import annotations

import base64
import os
import re
import shutil
from pathlib import Path
from typing import Any

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


# ----------------------------------------------------------------------------------- layout at 1,400 and 420 px

#: The report's widths the layout test renders (a desktop window and a phone held upright).
WIDTHS = (1400, 420)
#: Text in a plot must be at least this tall on screen (CSS px): its SVG font size times the image's scale.
MIN_TEXT_PX = 9.0
#: Two text boxes overlap when they share more than this (CSS px) in both directions (line boxes touch).
TOLERANCE_PX = 1.0

#: Per text node (whitespace-only ones left out) its line boxes, clipped to its nearest scroll box; and every
#: element wider than the viewport outside a scroll box.
_LAYOUT_JS = """
const scrollBox = el => {
  for (let p = el.parentElement; p; p = p.parentElement) {
    const o = getComputedStyle(p).overflowX;
    if (o === 'auto' || o === 'scroll' || o === 'hidden') return p;
  }
  return null;
};
const texts = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let n = walker.nextNode(); n; n = walker.nextNode()) {
  if (!n.textContent.trim() || !n.parentElement || n.parentElement.closest('style')) continue;
  const box = scrollBox(n.parentElement);
  const clip = box ? box.getBoundingClientRect() : null;
  const range = document.createRange();
  range.selectNodeContents(n);
  for (const r of range.getClientRects()) {
    let [l, t, rt, b] = [r.left + scrollX, r.top + scrollY, r.right + scrollX, r.bottom + scrollY];
    if (clip) {
      l = Math.max(l, clip.left + scrollX); rt = Math.min(rt, clip.right + scrollX);
      t = Math.max(t, clip.top + scrollY); b = Math.min(b, clip.bottom + scrollY);
    }
    if (rt - l > 0.5 && b - t > 0.5) texts.push([l, t, rt, b, n.textContent.trim().slice(0, 40), texts.length]);
  }
}
const wide = [];
for (const el of document.body.querySelectorAll('*')) {
  const r = el.getBoundingClientRect();
  if ((r.right > innerWidth + 0.5 || r.left < -0.5) && r.width > 0 && !scrollBox(el))
    wide.push(el.tagName + ' ' + (el.className || '') + ' ' + Math.round(r.left) + '..' + Math.round(r.right));
}
return {texts, wide, scrollWidth: document.documentElement.scrollWidth, innerWidth,
        height: document.documentElement.scrollHeight,
        images: [...document.images].map(i => [i.alt, i.src, i.getBoundingClientRect().width])};
"""


def _overlaps(texts: list[list[Any]]) -> list[tuple[str, str]]:
    """Pairs of text boxes (from different text nodes or lines) that overlap by more than the tolerance."""
    boxes = sorted(texts, key=lambda b: b[1])
    found = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            if b[1] >= a[3] - TOLERANCE_PX:
                break
            if min(a[2], b[2]) - max(a[0], b[0]) > TOLERANCE_PX and min(a[3], b[3]) - max(a[1], b[1]) > TOLERANCE_PX:
                found.append((a[4], b[4]))
    return found


def _smallest_text_px(uri: str, rendered_width: float) -> float:
    """The smallest text of an SVG plot on screen: matplotlib draws text as paths scaled by font size / 100
    (``scale(0.09 -0.09)`` for 9 pt, in the SVG's user units), times the image's scale (rendered width over the
    viewBox's width)."""
    document_ = base64.b64decode(uri.split(",", 1)[1]).decode()
    view_width = float(re.search(r'viewBox="[-0-9.]+ [-0-9.]+ ([0-9.]+) ', document_).group(1))
    sizes = [100 * float(s) for s in re.findall(r"scale\(([0-9.]+) -\1\)", document_)]
    assert sizes, "no text in the plot"
    return min(sizes) * rendered_width / view_width


def _screenshot(browser: Any, path: Path, height: int) -> None:
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot",
        {"format": "png", "captureBeyondViewport": True,
         "clip": {"x": 0, "y": 0, "width": browser.execute_script("return innerWidth"), "height": height,
                  "scale": 1}},
    )  # fmt: skip
    path.write_bytes(base64.b64decode(shot["data"]))


REPORTS = {
    "default": ["netns-default"],
    "three-runs": ["netns-default", "netns-east-west", "netns-fixed-load"],
}


@pytest.mark.parametrize("name", list(REPORTS))
def test_report_layout_at_1400_and_420_px(browser, data_dir, tmp_path, name):
    """At 1,400 and 420 px: no text box overlaps another, nothing is wider than the screen outside a scroll box,
    every plot's text is at least 9 px tall; the screenshots go to build/test-artifacts/."""
    runs = [read_results(data_dir / "results" / f"{f}.json") for f in REPORTS[name]]
    path, _ = document.write(document.build(runs, [None] * len(runs)), tmp_path / "report.html")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems = []
    for width in WIDTHS:
        browser.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
        )
        browser.get(path.as_uri())
        layout = browser.execute_script(_LAYOUT_JS)
        assert layout["innerWidth"] == width
        assert len(layout["texts"]) > 200 and len(layout["images"]) >= 3
        problems += [f"{width} px: text overlaps: {a!r} / {b!r}" for a, b in _overlaps(layout["texts"])]
        problems += [f"{width} px: wider than the screen: {w}" for w in layout["wide"]]
        if layout["scrollWidth"] > width:
            problems.append(f"{width} px: the page scrolls sideways ({layout['scrollWidth']} px)")
        for alt, uri, rendered in layout["images"]:
            smallest = _smallest_text_px(uri, rendered)
            if smallest < MIN_TEXT_PX:
                problems.append(f"{width} px: {alt}: text {smallest:.1f} px tall")
        shot = ARTIFACTS / f"report-{name}-{width}px.png"
        _screenshot(browser, shot, layout["height"])
        assert shot.stat().st_size > 10_000
    assert problems == [], "\n".join(problems)
