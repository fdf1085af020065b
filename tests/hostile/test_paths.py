"""Hostile paths: ids no record has in every route that takes one, paths no route has
(long ones included: gunicorn passes them on), and the portal's and console's ids."""

from __future__ import annotations

import pytest

from tests.api.test_contract_matrix import ROUTES as MATRIX
from tests.hostile.conftest import (
    assert_error,
    assert_page,
    assert_refused,
    json_routes,
    routes_with_ids,
    state,
    with_id,
)
from tests.hostile.conftest import operations as documented_operations

IDS = {
    "5,000 characters": "x" * 5000,
    "5,000 digits": "9" * 5000,
    "a NUL": "cam_%00",
    "an escaped climb": "..%2F..%2Fetc%2Fpasswd",
    "SQL": "%27%20OR%201%3D1%20--",
    "not UTF-8": "%ff%fe",
    "a right-to-left override": "%E2%80%AE",
    "a newline": "ord_%0A",
}

ROUTES = routes_with_ids()


def valid_body(key: tuple[str, str], world) -> dict | None:
    """The valid JSON body of a route that takes one (the contract matrix's), so that only
    the id is wrong and the view, not the body's parser, answers."""
    if key not in json_routes():
        return None
    route = MATRIX.get(key)
    assert route is not None and route.body is not None, f"{key} takes a JSON body: give it one in the contract matrix"
    return route.body(world)


@pytest.mark.parametrize("value", IDS.values(), ids=IDS.keys())
def test_it_answers_404_for_a_hostile_id_in_every_route_that_takes_one(value, world, api):
    for key in ROUTES:
        before = state()
        response = api._call(key[0].lower(), with_id(key[1], value), valid_body(key, world))
        assert_refused(response, key, 404, "not_found", account=world.owner.account)
        assert state() == before, key


UNKNOWN = {
    "5,000 characters": "/api/v1/" + "x" * 5000,
    "2,500 segments": "/api/v1/" + "a/" * 2500,
    "a NUL": "/api/v1/%00",
    "not UTF-8": "/api/v1/%ff%fe",
    "the root of v1": "/api/v1/",
    "v1 without its slash": "/api/v1",
    "the root of /api": "/api",
    "another version": "/api/v2/plans",
    "a route with a slash added": "/api/v1/cameras/",
    "the upload with a slash added": "/api/v1/device/clips/",
}


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "options"])
@pytest.mark.parametrize("path", UNKNOWN.values(), ids=UNKNOWN.keys())
def test_it_answers_any_unknown_api_path_with_a_json_404(path, method, owner, api):
    response = getattr(api.client, method)(path, headers=api.headers)
    assert_error(response, 404, "not_found", account=owner)  # filed under the caller


def test_it_lists_no_unknown_path_as_an_operation():
    assert not any(path.startswith("/api/v1/{") for _, path in documented_operations())


PORTAL_PATHS = ["/cameras/{id}/clips/", "/cameras/{id}/download/?before=2027-01-01T00:00:00Z"]


@pytest.mark.parametrize("value", IDS.values(), ids=IDS.keys())
@pytest.mark.parametrize("path", PORTAL_PATHS)
def test_it_answers_a_404_page_for_a_hostile_camera_id_in_the_portal(path, value, portal):
    assert_page(portal.get(path.replace("{id}", value)), 404)


@pytest.mark.parametrize("value", IDS.values(), ids=IDS.keys())
@pytest.mark.parametrize("path", ["/support/accounts/{id}/", "/support/accounts/{id}/credit/",
                                  "/support/accounts/{id}/refund/"])
def test_it_answers_a_404_page_for_a_hostile_account_id_in_the_console(path, value, staff_client):
    method = staff_client.get if path.endswith("/{id}/") else staff_client.post
    assert_page(method(path.replace("{id}", value)), 404)
