"""At a phone's width (390 px) every page a manager reads fits the screen: nothing makes the page scroll
sideways (a wide table scrolls inside its own box), and the charts are drawn to the phone's width."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}

PAGES = [
    ("/", ".machine-tile", ()),
    ("/machines/L1-FILL/?range=24h", ".event-log", ("#chart-timeline", "#chart-parts", "#chart-pareto")),
    ("/reports/shift/?line=L1", ".machine-report", ("#chart-waterfall", "#chart-pareto", "#chart-trend")),
    ("/reports/trend/?line=L1", "#chart-oee", ("#chart-reasons", "#chart-oee")),
    ("/lines/NOPE/", ".message-page", ()),
]

# What sticks out past the right edge of the screen, and is not inside a box that scrolls by itself.
STICKING_OUT = """() => [...document.querySelectorAll("body *")].filter(el => {
  const box = el.getBoundingClientRect();
  if (box.width === 0 || box.right <= window.innerWidth + 1) return false;
  for (let up = el.parentElement; up; up = up.parentElement) {
    if (getComputedStyle(up).overflowX !== "visible" && up.getBoundingClientRect().right <= window.innerWidth + 1) {
      return false;
    }
  }
  return true;
}).map(el => el.tagName.toLowerCase() + (typeof el.className === "string" && el.className ? "." + el.className : ""))"""


@pytest.mark.parametrize(("path", "content", "charts"), PAGES)
def test_the_page_fits_a_phone_without_scrolling_sideways(open_page, plant_server, path, content, charts):
    page = open_page("manager", viewport=PHONE)
    page.goto(plant_server.base_url + path)
    expect(page.locator(content).first).to_be_visible()
    for chart in charts:
        expect(page.locator(f"{chart} .main-svg").first).to_be_attached()
        width = page.locator(f"{chart} .main-svg").first.evaluate("svg => svg.getBoundingClientRect().width")
        assert width <= PHONE["width"], (chart, width)

    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1, page.evaluate(STICKING_OUT)
    # The menu wraps rather than being cut: every link of it is on the screen.
    for link in page.locator("nav.nav a").all():
        box = link.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1, link.text_content()
    assert page.errors == []


def test_on_a_phone_the_six_big_losses_run_top_to_bottom_with_every_name_readable(open_page, plant_server):
    page = open_page("manager", viewport=PHONE)
    page.goto(plant_server.base_url + "/reports/shift/?line=L1")
    names = page.locator("#chart-waterfall .ytick text")
    expect(names.first).to_be_attached()
    boxes = [name.bounding_box() for name in names.all()]
    assert len(boxes) >= 7  # planned production time, the six losses, fully productive time
    # One name per row, none on top of another and none cut at the screen's left edge.
    tops = sorted(box["y"] for box in boxes)
    assert all(b - a >= boxes[0]["height"] * 0.8 for a, b in zip(tops, tops[1:]))
    assert all(box["x"] >= 0 for box in boxes)
