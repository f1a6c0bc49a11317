"""The OpenAPI schema (/api/schema/) of every endpoint, its docs served offline, and the API tried against it.

schemathesis generates requests from the schema (valid and invalid ones) for every operation,
sends them with a key that has every scope, and checks that no answer is a 5xx and that every
answer matches what the schema says of it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import schemathesis
import yaml
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from oee_site.wsgi import application
from planning.models import Product, WorkOrder
from tests.api import bearer
from tests.histories import hour_of_b1
from tests.pages import remote_assets

pytestmark = pytest.mark.django_db

PATHS = [
    "/api/v1/trend/",
    "/api/v1/oee/", "/api/v1/shifts/", "/api/v1/stops/", "/api/v1/observations/", "/api/v1/products/",
    "/api/v1/products/{code}/", "/api/v1/work-orders/", "/api/v1/work-orders/{number}/",
    "/api/v1/work-orders/{number}/{move}/", "/api/v1/reasons/", "/api/v1/machines/{code}/stops/",
    "/api/v1/alerts/", "/api/v1/alerts/{id}/", "/api/v1/alerts/{id}/acknowledge/",
]


def test_the_schema_names_every_endpoint_and_the_bearer_key(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    assert set(PATHS) <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": schema["components"]["securitySchemes"]["bearer"][
            "description"]}
    put = schema["paths"]["/api/v1/work-orders/{number}/"]["put"]
    assert {"bearer": []} in put["security"]


def test_the_docs_are_served_from_this_server_only(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert remote_assets(html) == [] and "swagger-ui" in html


@pytest.fixture
def connection_kept():
    """As Django's test client does: the WSGI app's request signals must not close the test's
    database connection (on PostgreSQL that ends the test's transaction; SQLite's in-memory one ignores it)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def erp_headers(plant, api_key, connection_kept) -> dict[str, str]:
    """A key with every scope, over a plant with history, a product and an order to find."""
    hour_of_b1()
    product = Product.objects.create(code="P-1", name="Lid")
    now = timezone.now()
    WorkOrder.objects.create(number="WO-1", product=product, quantity=100, line=plant.line_b, machine=plant.b1,
                             planned_start=now, planned_end=now + timedelta(hours=1))
    return bearer(api_key("results:read", "orders:write", "observations:write"))


# Reading the schema needs no database: it is the one the server serves.
schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@schema.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_no_request_gets_a_5xx_and_every_answer_matches_the_schema(case, erp_headers):
    case.call_and_validate(headers=erp_headers, checks=[not_a_server_error, response_schema_conformance])
