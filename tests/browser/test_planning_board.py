"""The planning board in a real browser: a manager plans an order with the form and sees it on the chart."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_manager_plans_an_order_and_sees_it_on_the_board(open_page, plant_server, screenshots):
    base = plant_server.base_url
    page = open_page("manager")
    page.get_by_role("link", name="Planning", exact=True).click()
    expect(page).to_have_url(re.compile(re.escape(base) + r"/planning/L1/$"))
    # The demo's running order is on today's board, with the actual run beside its plan. (The first
    # page with Plotly on a loaded machine may take a while: its script comes before the page's body.)
    expect(page.locator('tr[data-order="WO-4711"] [data-field="status"]')).to_have_text("running", timeout=30_000)
    expect(page.locator("#chart-board .main-svg").first).to_be_attached(timeout=30_000)

    form = page.locator("#new-order")
    number = form.locator('[name="number"]').input_value()
    assert number.startswith("L1-")
    form.locator('[name="product"]').select_option("CAN-33")
    form.locator('[name="quantity"]').fill("2400")
    start = form.locator('[name="planned_start"]').input_value()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:00", start), start  # prefilled, 24 h at the site
    form.locator('[name="planned_end"]').fill("1999-13-01 25:00")
    form.get_by_role("button", name="Plan the order").click()
    expect(page.locator('[data-field-error="planned_end"]')).to_be_visible(timeout=30_000)  # refused, naming the field
    form = page.locator("#new-order")
    day = start[:10]  # the board shows that day
    form.locator('[name="planned_start"]').fill(f"{day} 08:00")
    form.locator('[name="planned_end"]').fill(f"{day} 10:30")
    form.locator('[name="quantity"]').fill("2400")
    form.locator('[name="product"]').select_option("CAN-33")
    form.get_by_role("button", name="Plan the order").click()

    expect(page.locator(".board-message")).to_contain_text(f"Work order {number} planned", timeout=30_000)
    row = page.locator(f'tr[data-order="{number}"]')
    expect(row.locator('[data-field="status"]')).to_have_text("planned")
    expect(page.locator("#chart-board .ytick text", has_text=number)).to_be_attached(timeout=30_000)
    page.screenshot(path=screenshots / "planning-board-1920.png", full_page=True)

    row.locator('[data-move="release"]').click()
    expect(page.locator(f'tr[data-order="{number}"] [data-field="status"]')).to_have_text("released", timeout=30_000)

    row.locator('[data-move="reschedule"]').click()
    expect(page.locator("#reschedule [name=quantity]")).to_have_value("2400", timeout=30_000)
    page.screenshot(path=screenshots / "planning-reschedule.png")
    page.locator("#reschedule [name=quantity]").fill("3000")
    page.locator("#reschedule").get_by_role("button", name="Save").click()
    expect(page.locator(f'tr[data-order="{number}"] [data-field="good"]')).to_have_text("0 / 3,000", timeout=30_000)

    board = page.url
    # The running order's plan against actual in the shift report.
    page.goto(base + "/reports/shift/?line=L1")
    expect(page.locator('#plan-vs-actual tr[data-order="WO-4711"]').first).to_be_visible(timeout=30_000)
    page.locator("#plan-vs-actual").screenshot(path=screenshots / "shift-report-plan.png")

    for width, height in ((1280, 800), (390, 844)):
        small = open_page("manager", viewport={"width": width, "height": height})
        small.goto(board)
        expect(small.locator("#chart-board .ytick text", has_text=number)).to_be_attached(timeout=30_000)
        overflow = small.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"the board is {overflow} px wider than a {width} px screen"
        small.screenshot(path=screenshots / f"planning-board-{width}.png", full_page=True)
        assert small.errors == []
    assert page.errors == []
