"""Unknown codes in URLs: the product's own 404 page (also with DEBUG on, as `make run` has it), codes in
any case, and a 500 page that needs nothing to render."""

from __future__ import annotations

import pytest
from django.template import loader
from django.test import Client

from tests.pages import elements, find


@pytest.fixture
def debug(settings):
    settings.DEBUG = True


@pytest.mark.parametrize(("url", "says"), [
    ("/lines/NOPE/", "There is no line with the code “NOPE”."),
    ("/machines/NOPE/", "There is no machine with the code “NOPE”."),
    ("/planning/NOPE/", "There is no line with the code “NOPE”."),
    ("/reports/shift/?line=NOPE", "There is no line with the code “NOPE”."),
    ("/reports/trend/?line=NOPE", "There is no line with the code “NOPE”."),
])
def test_an_unknown_code_is_the_friendly_404_page_even_with_debug_on(client: Client, plant, debug, url, says):
    client.force_login(plant.manager)
    response = client.get(url)
    assert response.status_code == 404
    page = response.content.decode()
    assert says in page
    assert "Back to the overview" in page
    assert "Using the URLconf" not in page and "technical_404" not in page  # not Django's debug page


def test_an_unknown_work_order_on_the_board_is_the_friendly_404(client: Client, plant, debug):
    client.force_login(plant.manager)
    response = client.get("/planning/A/orders/WO-NOPE/")
    assert response.status_code == 404
    assert "Line A has no work order “WO-NOPE”." in response.content.decode()


@pytest.mark.parametrize(("typed", "canonical"), [
    ("/lines/a/", "/lines/A/"),
    ("/machines/a1/", "/machines/A1/"),
    ("/machines/a1/?range=today", "/machines/A1/?range=today"),
    ("/planning/a/", "/planning/A/"),
])
def test_a_code_typed_in_another_case_goes_to_the_page_under_its_own_code(client: Client, plant, typed, canonical):
    client.force_login(plant.manager)
    response = client.get(typed)
    assert response.status_code == 302
    assert response["Location"] == canonical
    assert client.get(canonical).status_code == 200


def test_a_line_code_in_a_query_is_read_in_any_case(client: Client, plant):
    client.force_login(plant.manager)
    report = client.get("/reports/shift/", {"line": "a"})
    assert report.status_code == 200
    selected = [o for o in find(elements(report.content.decode()), "option") if "selected" in o.attrs]
    assert [o.attrs["value"] for o in selected][:1] == ["A"]


def test_a_code_that_exists_as_typed_wins_over_one_differing_in_case(client: Client, plant):
    from planning.models import Line

    Line.objects.create(area=plant.line_a.area, code="a", name="Lower-case line")
    client.force_login(plant.manager)
    assert client.get("/lines/a/").status_code == 200
    assert client.get("/lines/A/").status_code == 200


def test_a_line_the_user_may_not_see_is_still_403_in_any_case(client: Client, plant):
    client.force_login(plant.operator)
    assert client.get("/lines/b/").status_code == 403


def test_the_500_page_renders_without_a_request_context_or_database():
    # Django's server_error renders it with an empty context; this test has no database (pytest-django
    # fails any query), so a page that needed one would fail here rather than in a real outage.
    html = loader.get_template("500.html").render({})
    assert "Something went wrong" in html and 'href="/"' in html


@pytest.mark.parametrize("url", [
    "/", "/lines/A/", "/machines/A1/", "/reports/shift/?line=A", "/reports/shift.csv?line=A",
    "/reports/trend/?line=A", "/reports/trend/compare/?line=A", "/reports/trend/compare.csv?line=A",
    "/alerts/banner/",
])
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_a_page_that_only_shows_refuses_to_be_written_to(client: Client, plant, url, method):
    # These pages answered any method with the page, as if a DELETE of "/" had done something.
    client.force_login(plant.manager)
    assert client.get(url).status_code == 200
    response = getattr(client, method)(url)
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
