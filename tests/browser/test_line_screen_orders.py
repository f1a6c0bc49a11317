"""An operator runs work orders at the line screen: pause, resume, complete, start, with one touch each."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

ORDER = """
from datetime import timedelta
from django.utils import timezone
from planning.models import Line, Machine, Product, WorkOrder
now = timezone.now()
WorkOrder.objects.create(number="WO-5001", product=Product.objects.get(code="CAN-33"), quantity=1000,
                         line=Line.objects.get(code="L2"), machine=Machine.objects.get(code="L2-PACK"),
                         planned_start=now, planned_end=now + timedelta(hours=2), status="released")
"""


def test_an_operator_pauses_resumes_completes_and_starts_orders(open_page, plant_server, screenshots):
    plant_server.heartbeat()
    # L2 runs WO-4720 on the whole line; planning released an order of the packer's own for later.
    plant_server.manage("shell", "-c", ORDER)
    page = open_page("operator")
    page.goto(plant_server.base_url + "/lines/L2/")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    panel = page.locator('.machine-panel[data-machine="L2-PACK"]')
    order = panel.locator('[data-field="work-order"]')

    def tap(move: str) -> None:
        button = order.locator(f'[data-action="order"][data-move="{move}"]')
        box = button.bounding_box()
        assert box["height"] >= 64, "order buttons must be easy to hit with a finger"
        button.click()

    # The line's order runs on every machine of L2: pause it, resume it, complete it from the packer.
    expect(order.locator(".wo-number")).to_have_text("WO-4720")
    tap("pause")
    expect(page.locator("#toast")).to_contain_text("WO-4720: paused")
    expect(order.locator(".wo-status")).to_have_text(re.compile("paused", re.I))
    seamer = page.locator('.machine-panel[data-machine="L2-SEAM"] [data-field="work-order"] .wo-status')
    expect(seamer).to_have_text(re.compile("paused", re.I))  # one order, shown on both machines
    page.screenshot(path=screenshots / "line-screen-order-paused.png")
    tap("resume")
    expect(order.locator(".wo-status")).to_have_count(0)  # running: no badge
    tap("complete")
    expect(page.locator("#toast")).to_contain_text("WO-4720: completed")
    # Then the packer's own order, released by planning, waits for it: start it and complete it.
    expect(order.locator(".wo-number")).to_have_text("WO-5001")
    expect(order.locator(".wo-status")).to_have_text(re.compile("released", re.I))
    tap("start")
    expect(page.locator("#toast")).to_contain_text("WO-5001: running")
    tap("complete")
    expect(page.locator("#toast")).to_contain_text("WO-5001: completed")
    moves = plant_server.manage("shell", "-c", "from planning.models import WorkOrderMove as M; "
                                "print(sorted({(m.order.number, m.move, m.by) for m in M.objects.all()}))")
    for number, move in (("WO-4720", "pause"), ("WO-4720", "complete"), ("WO-5001", "start")):
        assert f"('{number}', '{move}', 'user:operator')" in moves
    assert page.errors == []
