"""An operator runs work orders at the line screen: pause, resume, complete, start, with one touch each;
an order of another product opens a changeover, and the order's card follows it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

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


CHANGEOVER = """
from datetime import timedelta
from django.utils import timezone
from planning.models import Line, Product, WorkOrder
from planning.workflow import move_order, put_product
now = timezone.now()
line = Line.objects.get(code="L2")
for order in WorkOrder.objects.filter(line=line, status__in=["running", "paused"]):
    move_order(order, "complete", by="test")  # L2 made cans of 0.33 l last
can50, _, _ = put_product("CAN-50", "Can 0.5 l", {"L2-SEAM": 0.6, "L2-PACK": 2.4})
WorkOrder.objects.create(number="WO-5002", product=can50, quantity=4000, line=line, planned_start=now,
                         planned_end=now + timedelta(minutes=50), status="released")
WorkOrder.objects.create(number="WO-5003", product=Product.objects.get(code="CAN-33"), quantity=2000, line=line,
                         planned_start=now + timedelta(hours=1), planned_end=now + timedelta(hours=2),
                         status="released")
"""


def test_starting_another_product_opens_a_changeover_and_the_card_follows_the_order(
    open_page, plant_server, screenshots,
):
    plant_server.manage("shell", "-c", CHANGEOVER)
    # The packer stands (its changeover is about to begin); the seamer runs on.
    now = datetime.now(UTC)
    plant_server.import_csv("ts,machine,signal,value\n"
                            f"{(now - timedelta(seconds=20)).isoformat()},L2-PACK,running,false\n")
    plant_server.heartbeat()
    page = open_page("operator")
    page.goto(plant_server.base_url + "/lines/L2/")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    pack = page.locator('.machine-panel[data-machine="L2-PACK"]')
    seam = page.locator('.machine-panel[data-machine="L2-SEAM"]')
    card = pack.locator('[data-field="work-order"]')

    # The line's next order waits with its Start; the one after it is announced, with its changeover.
    expect(card.locator(".wo-number")).to_have_text("WO-5002")
    expect(card.locator(".wo-next-number")).to_have_text("WO-5003")
    expect(card.locator(".wo-changeover")).to_be_visible()
    start = card.locator('[data-action="order"][data-move="start"]')
    expect(start).to_have_count(1)
    assert start.bounding_box()["height"] >= 64
    start.click()
    expect(page.locator("#toast")).to_contain_text("WO-5002: running")

    # From the start on, the packer's stop is a changeover; the seamer was running and has none.
    expect(pack.locator('[data-field="reason"]')).to_have_text("Changeover")
    expect(seam.locator('[data-field="reason"]')).not_to_have_text("Changeover")
    expect(card.locator(".wo-status")).to_have_count(0)  # running
    expect(card.locator('[data-field="wo-made"]')).to_have_text(re.compile(r"^\s*0\s*/\s*4,000 made\s*$"))
    expect(card.locator('[data-field="wo-eta"]')).to_have_text("—")  # no pace yet
    expect(card.locator('[data-field="wo-rate"]')).to_have_text("—/min")
    shots = screenshots / "orders"
    shots.mkdir(exist_ok=True)
    for width, height in ((1920, 1080), (1280, 800), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=shots / f"line-L2-changeover-{width}.png", full_page=width < 1000)

    # Paused, the order makes way: the next one starts with one touch, and changes over again.
    page.set_viewport_size({"width": 1920, "height": 1080})
    plant_server.heartbeat()  # the machines keep talking (three silent readings make no-data)
    card.locator('[data-action="order"][data-move="pause"]').click()
    expect(page.locator("#toast")).to_contain_text("WO-5002: paused")
    card.locator('[data-action="order"][data-move="start"][data-order="WO-5003"]').click()
    expect(page.locator("#toast")).to_contain_text("WO-5003: running")
    expect(card.locator(".wo-number")).to_have_text("WO-5003")
    expect(pack.locator('[data-field="reason"]')).to_have_text("Changeover")
    events = plant_server.manage("shell", "--verbosity", "0", "-c", (
        "from monitoring.models import Event; "
        "print(sorted(e.detail['origin']['work_order'] for e in Event.objects.filter("
        "kind='reason_given', machine__code='L2-PACK') if 'origin' in e.detail))"))
    assert events.strip() == "['WO-5002', 'WO-5003']"

    # Line 1 has run its order for hours: its card shows the pace against ideal, the ETA and the plan.
    page.goto(plant_server.base_url + "/lines/L1/")
    l1 = page.locator('.machine-panel[data-machine="L1-FILL"] [data-field="work-order"]')
    expect(l1.locator('[data-field="wo-rate"]')).to_have_text(re.compile(r"^\d+(\.\d)?/min$"))
    expect(l1.locator('[data-field="wo-eta"]')).to_have_text(re.compile(r"^\d\d:\d\d$"))
    expect(l1.locator('[data-field="wo-late"]')).to_have_text(re.compile(r"(late|early|on time)$"))
    for width, height in ((1920, 1080), (1280, 800), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=shots / f"line-L1-card-{width}.png", full_page=width < 1000)
    overview = open_page("manager")
    expect(overview.locator("#live-status")).to_have_attribute("data-state", "live")
    expect(overview.locator('.machine-tile[data-machine="L1-FILL"] [data-field="wo-late"]')).to_be_visible()
    overview.screenshot(path=shots / "overview-tiles-1920.png")
    assert page.errors == [] and overview.errors == []
