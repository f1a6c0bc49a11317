"""The fuzz suite's plant, callers and the one measure of "nothing half-stored": every table's row count."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.utils import timezone

from monitoring.models import ModbusDevice
from planning.models import ApiWrite, Product, ProductCycleTime, WorkOrder
from tests.api import bearer
from tests.histories import hour_of_b1, monday_of_a1

# The write log records refused writes too: it is the one table a refusal may grow.
UNCOUNTED = {ApiWrite}


def row_counts() -> dict[str, int]:
    """Rows of every table of the plant and its history, in one query."""
    models = [model for app in ("planning", "monitoring") for model in apps.get_app_config(app).get_models()
              if model not in UNCOUNTED and model._meta.managed and not model._meta.proxy]
    tables = [connection.ops.quote_name(model._meta.db_table) for model in models]
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {table})" for table in tables))
        counts = cursor.fetchone()
    return {model._meta.label: count for model, count in zip(models, counts)}


@pytest.fixture
def fuzz_plant(plant, settings):
    """The test plant with history (A1's Monday with its stops, B1's hour), a product, an order, a device."""
    settings.API_CLIENT_RATE = "1000000/min"  # thousands of requests from one client: none throttled
    monday_of_a1()
    hour_of_b1()
    product = Product.objects.create(code="P-1", name="Lid")
    ProductCycleTime.objects.create(product=product, machine=plant.a1, ideal_cycle_time=1.0)
    now = timezone.now()
    WorkOrder.objects.create(number="WO-1", product=product, quantity=100, line=plant.line_b, machine=plant.b1,
                             planned_start=now, planned_end=now + timedelta(hours=1))
    ModbusDevice.objects.create(code="dev-A1", host="127.0.0.1", port=15020)
    return plant


@pytest.fixture
def erp(fuzz_plant, api_key) -> Client:
    """A client calling with a key of every scope."""
    client = Client(headers=bearer(api_key("results:read", "orders:write", "observations:write")))
    return client


@pytest.fixture
def admin(fuzz_plant) -> Client:
    """A client logged in as an administrator: the screens' actions, the pages, the admin."""
    client = Client()
    client.force_login(User.objects.create_superuser("fuzz-admin", password="pw-fuzz-admin-12345"))
    return client
