"""The API contract, route by route (API.md, "Accounts and authentication").

ROUTES lists every route of API v1 with what the matrix needs to call it. The first test
fails when a route exists that the table does not list (or the other way round), so a
new route cannot go untested: add it to ROUTES and every test below covers it.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.test import Client
from django.urls import URLPattern

from camcare.accounts.models import Account
from camcare.api.v1 import api as ninja_api
from camcare.audit.models import ErrorReport
from camcare.cameras.models import Camera
from tests.api.conftest import World, assert_error, db_state, upload
from tests.conftest import PASSWORD

LONG = "x" * 5000  # longer than any text field of the API


@dataclass(frozen=True)
class Case:
    """A malformed or refused body and the answer it must get."""

    label: str
    body: Callable[[World], object]  # the JSON value to send, or RAW(text)
    status: int = 422
    code: str | None = None


@dataclass(frozen=True)
class RAW:
    """A body sent byte for byte (not JSON-encoded)."""

    data: bytes


@dataclass(frozen=True)
class Route:
    auth: str  # "public", "account" or "device"
    body: Callable[[World], dict] | None = None  # a valid JSON body (routes that take one)
    fields: dict[str, type] = field(default_factory=dict)  # body fields and their JSON types
    required: tuple[str, ...] = ()
    cases: tuple[Case, ...] = ()  # refusals particular to the route


def owner_camera(world: World) -> str:
    return world.owner.camera("Garden")


ROUTES: dict[tuple[str, str], Route] = {
    ("POST", "/api/v1/accounts"): Route(
        "public", body=lambda w: {"email": "new@example.com", "password": PASSWORD},
        fields={"email": str, "password": str}, required=("email", "password"),
        cases=(
            Case("invalid e-mail", lambda w: {"email": "not-an-email", "password": PASSWORD}, code="invalid_email"),
            Case("weak password", lambda w: {"email": "new@example.com", "password": "password"}, code="weak_password"),
            Case("taken e-mail", lambda w: {"email": "OWNER@example.com", "password": PASSWORD}, 409, "email_taken"),
        ),
    ),
    ("POST", "/api/v1/tokens"): Route(
        "public", body=lambda w: {"email": "owner@example.com", "password": PASSWORD},
        fields={"email": str, "password": str}, required=("email", "password"),
    ),
    ("DELETE", "/api/v1/tokens/current"): Route("account"),
    # The caller's own account (no id in the path: the token decides whose).
    ("GET", "/api/v1/account"): Route("account"),
    ("PATCH", "/api/v1/account"): Route(
        "account", body=lambda w: {"time_zone": "America/Los_Angeles"}, fields={"time_zone": str},
        required=("time_zone",),
        cases=(
            Case("unknown time zone", lambda w: {"time_zone": "Mars/Olympus_Mons"}, code="unknown_time_zone"),
            Case("an offset, not a zone", lambda w: {"time_zone": "-07:00"}, code="unknown_time_zone"),
        ),
    ),
    ("GET", "/api/v1/plans"): Route("public"),
    ("GET", "/api/v1/cameras"): Route("account"),
    ("POST", "/api/v1/cameras"): Route(
        "account", body=lambda w: {"name": "Attic", "model": "KC200", "serial": "SN-ATTIC"},
        fields={"name": str, "model": str, "serial": str}, required=("name", "serial"),
        cases=(
            Case("blank name", lambda w: {"name": "  ", "serial": "SN-ATTIC"}, code="invalid_name"),
            Case("serial of another account", lambda w: {"name": "Mine", "serial": Camera.objects.get(
                pk=w.outsider.camera("Shed")).serial.lower()}, 409, "camera_already_registered"),
        ),
    ),
    ("DELETE", "/api/v1/cameras/{camera_id}"): Route("account"),
    ("POST", "/api/v1/cameras/{camera_id}/replace"): Route(
        "account", body=lambda w: {"name": "Porch", "model": "KC300", "serial": "SN-REPLACEMENT"},
        fields={"name": str, "model": str, "serial": str}, required=("serial",),
        cases=(
            Case("blank serial", lambda w: {"serial": "  "}, code="invalid_serial"),
            Case("serial of another account", lambda w: {"serial": Camera.objects.get(
                pk=w.outsider.camera("Shed")).serial.lower()}, 409, "camera_already_registered"),
        ),
    ),
    ("GET", "/api/v1/cameras/{camera_id}/clips"): Route("account"),
    ("PUT", "/api/v1/payment-method"): Route(
        "account", body=lambda w: {"token": "tok_visa"}, fields={"token": str}, required=("token",),
        cases=(Case("unknown card token", lambda w: {"token": "tok_nope"}, code="invalid_card_token"),),
    ),
    ("GET", "/api/v1/subscription"): Route("account"),
    ("PUT", "/api/v1/subscription"): Route(
        "account", body=lambda w: {"cameras": {owner_camera(w): "plus"}},
        fields={"cameras": dict, "cycle": str, "quote": str},
        cases=(
            Case("unknown plan", lambda w: {"cameras": {owner_camera(w): "gold"}}, code="unknown_plan"),
            Case("bad cycle", lambda w: {"cycle": "weekly"}, code="invalid_cycle"),
            Case("unknown camera", lambda w: {"cameras": {"cam_nope": "plus"}}, code="unknown_camera"),
            Case("plan code not text", lambda w: {"cameras": {owner_camera(w): 3}}),
            Case("overlong camera id", lambda w: {"cameras": {LONG: "plus"}}),
            Case("nonexistent quote", lambda w: {"quote": "quo_nope"}, 409, "quote_stale"),
        ),
    ),
    ("POST", "/api/v1/subscription/preview"): Route(
        "account", body=lambda w: {"cameras": {owner_camera(w): "plus"}},
        fields={"cameras": dict, "cycle": str},
        cases=(
            Case("unknown plan", lambda w: {"cameras": {owner_camera(w): "gold"}}, code="unknown_plan"),
            Case("empty plan", lambda w: {"cameras": {owner_camera(w): ""}}, code="unknown_plan"),
            Case("bad cycle", lambda w: {"cycle": "weekly"}, code="invalid_cycle"),
            Case("unknown camera", lambda w: {"cameras": {"cam_nope": "plus"}}, code="unknown_camera"),
        ),
    ),
    ("POST", "/api/v1/subscription/cancel"): Route(
        "account", body=lambda w: {}, fields={"quote": str},
        cases=(
            Case("nonexistent quote", lambda w: {"quote": "quo_nope"}, 409, "quote_stale"),
            Case("quote of a change, not a cancel", lambda w: {"quote": w.owner.quote}, 409, "quote_stale"),
        ),
    ),
    ("POST", "/api/v1/subscription/stop"): Route("account", body=lambda w: {}),
    ("DELETE", "/api/v1/subscription/scheduled-change"): Route("account"),
    ("GET", "/api/v1/credit"): Route("account"),
    ("GET", "/api/v1/orders"): Route("account"),
    ("GET", "/api/v1/orders/{order_id}"): Route("account"),
    ("POST", "/api/v1/device/clips"): Route("device"),
    ("GET", "/api/v1/clips/{clip_id}/video"): Route("account"),
    ("GET", "/api/v1/test-clock"): Route("account"),
    ("POST", "/api/v1/test-clock"): Route(
        "account", body=lambda w: {"now": "2027-03-02T00:00:00Z"}, fields={"now": str}, required=("now",),
        cases=(
            Case("time without zone", lambda w: {"now": "2027-03-02T00:00:00"}, code="invalid_time"),
            Case("not a time", lambda w: {"now": "tomorrow"}, code="invalid_time"),
            Case("earlier than the clock", lambda w: {"now": "2027-02-01T00:00:00Z"}, code="invalid_time"),
            Case("centuries ahead", lambda w: {"now": "9999-12-31T23:59:59Z"}, code="invalid_time"),
        ),
    ),
    # Public, trusted only through the signature or token they carry (tests/stores/).
    ("POST", "/api/v1/stores/apple/notifications"): Route("store"),
    ("POST", "/api/v1/stores/google/notifications"): Route("store"),
}

PUBLIC = [key for key, route in ROUTES.items() if route.auth == "public"]
PROTECTED = [key for key, route in ROUTES.items() if route.auth in ("account", "device")]
WITH_BODY = [key for key, route in ROUTES.items() if route.body is not None]
WITH_IDS = [key for key in ROUTES if "{" in key[1]]


def ids(keys):
    return [f"{method} {path.removeprefix('/api/v1')}" for method, path in keys]


def fill(path: str, person) -> str:
    """The path with `person`'s real ids in it."""
    return (path.replace("{camera_id}", person.camera(next(iter(person.cameras))))
            .replace("{clip_id}", person.clip_id).replace("{order_id}", person.order_id))


@functools.cache
def documented(key: tuple[str, str]) -> set[str]:
    method, path = key
    return set(ninja_api.get_openapi_schema()["paths"][path][method.lower()]["responses"])


def assert_documented(key: tuple[str, str], response) -> None:
    """API.md: the OpenAPI document lists every status code each operation can answer."""
    assert str(response.status_code) in documented(key), f"{key} answers {response.status_code}, undocumented"


def call(client_api, method: str, path: str, body=None, **kwargs):
    if isinstance(body, RAW):
        return client_api._call(method.lower(), path, data=body.data, content_type="application/json", **kwargs)
    return client_api._call(method.lower(), path, body, **kwargs)


# ------------------------------------------------------------------ the table is complete


def test_it_lists_every_route_of_the_api():
    served = {
        (method.upper(), path)
        for path, operations in ninja_api.get_openapi_schema()["paths"].items()
        for method in operations
    }
    assert served == set(ROUTES), {"missing from ROUTES": served - set(ROUTES), "not served": set(ROUTES) - served}


def test_it_lists_every_url_of_the_api_even_those_left_out_of_the_schema():
    patterns = [p for p in ninja_api.urls[0] if isinstance(p, URLPattern)]
    paths = {"/api/v1/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(p.pattern)) for p in patterns}
    documentation = {"/api/v1/openapi.json", "/api/v1/docs", "/api/v1/", "/api/v1/{rest}"}
    assert paths - documentation == {path for _, path in ROUTES}


# ------------------------------------------------------------------ authentication


@pytest.mark.parametrize("key", PROTECTED, ids=ids(PROTECTED))
@pytest.mark.parametrize("credentials", [None, "Bearer cc_not-a-token", "Bearer ", "Basic b3duZXI6eA=="])
def test_it_answers_401_to_a_caller_without_valid_credentials(key, credentials, world, anon_api):
    method, path = key
    route = ROUTES[key]
    body = route.body(world) if route.body else None
    headers = {"Authorization": credentials} if credentials else {}
    before = db_state()
    response = call(anon_api, method, fill(path, world.owner), body, headers=headers)
    assert_error(response, 401, "unauthorized")
    assert_documented(key, response)
    assert db_state() == before


@pytest.mark.parametrize("key", [k for k in PROTECTED if ROUTES[k].auth == "account"],
                         ids=ids([k for k in PROTECTED if ROUTES[k].auth == "account"]))
def test_it_does_not_take_a_device_token_for_an_account(key, world, anon_api):
    method, path = key
    route = ROUTES[key]
    token = world.owner.device_tokens[world.owner.camera("Porch")]
    before = db_state()
    response = call(anon_api, method, fill(path, world.owner), route.body(world) if route.body else None,
                    headers={"Authorization": f"Device {token}"})
    assert_error(response, 401, "unauthorized")
    assert db_state() == before


@pytest.mark.parametrize("credentials", [None, "Device dev_wrong", "Device ", "Bearer cc_wrong"])
def test_it_answers_401_to_a_clip_upload_without_a_device_token(credentials, world):
    before = db_state()
    headers = {"Authorization": credentials} if credentials else {}
    response = upload(Client(enforce_csrf_checks=True), None, headers=headers)
    assert_error(response, 401, "unauthorized")
    assert db_state() == before


def test_it_does_not_take_an_owners_bearer_token_for_a_camera(world, api):
    before = db_state()
    response = upload(Client(), None, headers={"Authorization": api.headers["Authorization"]})
    assert_error(response, 401, "unauthorized", account=None)  # nobody authenticated on this route
    assert db_state() == before


@pytest.mark.parametrize("key", PUBLIC, ids=ids(PUBLIC))
def test_it_answers_public_routes_without_credentials(key, world, anon_api):
    method, path = key
    route = ROUTES[key]
    response = call(anon_api, method, path, route.body(world) if route.body else None)
    assert response.status_code in (200, 201), response.content


# ------------------------------------------------------------------ another account's ids


@pytest.mark.parametrize("key", WITH_IDS, ids=ids(WITH_IDS))
def test_it_answers_404_for_another_accounts_id_in_the_path(key, world, api):
    method, path = key
    before = db_state()
    sent = ROUTES[key].body(world) if ROUTES[key].body else None  # only the id is wrong
    theirs = call(api, method, fill(path, world.outsider), sent)
    body = assert_error(theirs, 404, "not_found", account=world.owner.account)
    assert db_state() == before
    nonexistent = call(api, method, re.sub(r"\{\w+\}", "zz_does_not_exist", path), sent)
    other = assert_error(nonexistent, 404, "not_found", account=world.owner.account)
    assert other["message"] == body["message"]


@pytest.mark.parametrize("key", WITH_IDS, ids=ids(WITH_IDS))
@pytest.mark.parametrize("weird", ["x" * 3000, "%00", "..%2F..%2Fetc", "%27%20OR%201%3D1", "%E2%9C%93"])
def test_it_answers_404_for_any_malformed_id_in_the_path(key, weird, world, api):
    method, path = key
    before = db_state()
    body = ROUTES[key].body(world) if ROUTES[key].body else None  # only the id is wrong
    response = call(api, method, re.sub(r"\{\w+\}", weird, path), body)
    assert_error(response, 404, account=world.owner.account)
    assert_documented(key, response)
    assert db_state() == before


def _without(message: str, *values: str) -> str:
    for value in values:
        message = message.replace(value, "<id>")
    return message


@pytest.mark.parametrize("key", [("PUT", "/api/v1/subscription"), ("POST", "/api/v1/subscription/preview")],
                         ids=["PUT /subscription", "POST /subscription/preview"])
def test_it_answers_422_unknown_camera_for_another_accounts_camera_in_a_body(key, world, api):
    method, path = key
    theirs, nonexistent = world.outsider.camera("Shed"), "cam_doesnotexist00"
    before = db_state()
    first = assert_error(call(api, method, path, {"cameras": {theirs: "plus"}}), 422, "unknown_camera",
                         account=world.owner.account)
    second = assert_error(call(api, method, path, {"cameras": {nonexistent: "plus"}}), 422, "unknown_camera",
                          account=world.owner.account)
    assert _without(first["message"], theirs) == _without(second["message"], nonexistent)
    assert set(first) == set(second)
    assert db_state() == before


@pytest.mark.parametrize("key", [("PUT", "/api/v1/subscription"), ("POST", "/api/v1/subscription/cancel")],
                         ids=["PUT /subscription", "POST /subscription/cancel"])
def test_it_answers_409_quote_stale_for_another_accounts_quote(key, world, api):
    """POLICY.md section 9: a quote made for another account is stale."""
    method, path = key
    before = db_state()
    first = assert_error(call(api, method, path, {"quote": world.outsider.quote}), 409, "quote_stale",
                         account=world.owner.account)
    second = assert_error(call(api, method, path, {"quote": "quo_doesnotexist00"}), 409, "quote_stale",
                          account=world.owner.account)
    assert first["message"] == second["message"]
    assert db_state() == before


# ------------------------------------------------------------------ malformed input


def _with_nul(body: dict) -> dict:
    """The body with a NUL in its first text (PostgreSQL cannot store one: never a 500)."""
    for name, value in body.items():
        if isinstance(value, str):
            return {**body, name: value + "\x00"}
        if isinstance(value, dict):
            return {**body, name: {k + "\x00": v for k, v in value.items()}}
    return {**body, "quote": "quo_\x00"}


def generic_cases(route: Route) -> list[Case]:
    """Malformed bodies every JSON route must refuse (400 for broken JSON, else 422)."""
    cases = [
        Case("invalid JSON", lambda w: RAW(b'{"a": '), 400, "invalid_json"),
        Case("not UTF-8", lambda w: RAW(b'{"a": "\xff\xfe"}'), 400, "invalid_json"),
        Case("an array", lambda w: RAW(b"[]"), code="invalid_request"),
        Case("a string", lambda w: RAW(b'"text"'), code="invalid_request"),
        Case("null", lambda w: RAW(b"null"), code="invalid_request"),
        Case("no body", lambda w: RAW(b""), code="invalid_request"),
        Case("a NUL character", lambda w, r=route: _with_nul(r.body(w))),
        Case("unknown field", lambda w, r=route: {**r.body(w), "unexpected": 1}, code="invalid_request"),
    ]
    for name, kind in route.fields.items():
        wrong = ["not", "an", "object"] if kind is dict else 12345
        cases.append(Case(f"{name} of the wrong type", lambda w, r=route, n=name, v=wrong: {**r.body(w), n: v}))
        if kind is str:
            cases.append(Case(f"{name} overlong", lambda w, r=route, n=name: {**r.body(w), n: LONG}))
    for name in route.required:
        cases.append(Case(f"{name} missing", lambda w, r=route, n=name: {k: v for k, v in r.body(w).items() if k != n},
                          code="invalid_request"))
    return cases


def _malformed_params():
    for key in WITH_BODY:
        for case in generic_cases(ROUTES[key]) + list(ROUTES[key].cases):
            yield pytest.param(key, case, id=f"{key[0]} {key[1].removeprefix('/api/v1')}: {case.label}")


MALFORMED = list(_malformed_params())


@pytest.mark.parametrize(("key", "case"), MALFORMED)
def test_it_refuses_malformed_input_with_a_clear_4xx_and_changes_nothing(key, case, world, api, anon_api):
    method, path = key
    route = ROUTES[key]
    client_api, account = (anon_api, None) if route.auth == "public" else (api, world.owner.account)
    before = db_state()
    response = call(client_api, method, fill(path, world.owner), case.body(world))
    assert_error(response, case.status, case.code, account=account)
    assert_documented(key, response)
    assert db_state() == before


@pytest.mark.parametrize("key", WITH_BODY, ids=ids(WITH_BODY))
def test_it_accepts_the_valid_body_the_matrix_starts_from(key, world, api, anon_api):
    """The malformed cases are the valid body with one thing wrong: the valid one must pass."""
    method, path = key
    route = ROUTES[key]
    client_api = anon_api if route.auth == "public" else api
    response = call(client_api, method, fill(path, world.owner), route.body(world))
    assert response.status_code in (200, 201), response.content


UPLOAD = ("POST", "/api/v1/device/clips")
UPLOAD_CASES = [
    ("no file", {"content": False}, 422, None),
    ("not a video", {"content": b"hello, I am text"}, 415, "unsupported_media_type"),
    ("recorded_at without zone", {"recorded_at": "2027-02-28T23:00:00"}, 422, "invalid_recorded_at"),
    ("recorded_at not a time", {"recorded_at": "yesterday"}, 422, "invalid_recorded_at"),
    ("recorded_at overlong", {"recorded_at": LONG}, 422, None),
    ("recorded_at in the future", {"recorded_at": "2027-03-01T00:00:01Z"}, 422, "invalid_recorded_at"),
    ("recorded_at outside the window", {"recorded_at": "2026-12-01T00:00:00Z"}, 422, "invalid_recorded_at"),
    ("duration not a number", {"duration_s": "long"}, 422, None),
    ("duration zero", {"duration_s": "0"}, 422, "invalid_duration"),
]


@pytest.mark.parametrize(("label", "kwargs", "status", "code"), UPLOAD_CASES, ids=[c[0] for c in UPLOAD_CASES])
def test_it_refuses_a_malformed_clip_upload_and_stores_nothing(label, kwargs, status, code, world):
    token = world.owner.device_tokens[world.owner.camera("Porch")]
    before = db_state()
    response = upload(Client(), token, **kwargs)
    assert_error(response, status, code, account=world.owner.account)
    assert_documented(UPLOAD, response)
    assert db_state() == before


def test_it_refuses_a_clip_larger_than_the_limit(world, settings):
    settings.CLIP_MAX_BYTES = 1000
    token = world.owner.device_tokens[world.owner.camera("Porch")]
    before = db_state()
    assert_error(upload(Client(), token), 413, "clip_too_large", account=world.owner.account)
    assert db_state() == before


@pytest.mark.parametrize("body", [b"not multipart at all", b"--broken\r\nContent-Disposition: form-data\r\n"],
                         ids=["plain bytes", "broken multipart"])
def test_it_refuses_an_upload_that_is_not_multipart(body, world):
    token = world.owner.device_tokens[world.owner.camera("Porch")]
    before = db_state()
    response = Client().post("/api/v1/device/clips", data=body, content_type="multipart/form-data; boundary=broken",
                             headers={"Authorization": f"Device {token}"})
    assert 400 <= response.status_code < 500, response.content
    assert_error(response, response.status_code, account=world.owner.account)
    assert_documented(UPLOAD, response)
    assert db_state() == before


def test_it_refuses_a_body_too_large_to_read_with_413(world, api):
    before = db_state()
    response = api.post("subscription/preview", data=json.dumps({"cameras": {}, "pad": "x" * 3_000_000}),
                        content_type="application/json")
    assert_error(response, 413, "request_too_large", account=world.owner.account)
    assert_documented(("POST", "/api/v1/subscription/preview"), response)
    assert db_state() == before


# ------------------------------------------------------------------ everything else is JSON too


@pytest.mark.parametrize("key", list(ROUTES), ids=ids(ROUTES))
def test_it_answers_a_wrong_method_with_405_and_a_json_error(key, world, api):
    method, path = key
    wrong = next(m for m in ("PATCH", "PUT", "GET", "POST", "DELETE")
                 if (m, path) not in ROUTES and m != method)
    response = call(api, wrong, fill(path, world.owner))
    assert_error(response, 405, "method_not_allowed", account=world.owner.account)
    allowed = {m for m, p in ROUTES if p == path}
    assert set(response["Allow"].replace(" ", "").split(",")) == allowed


def test_it_answers_an_unknown_api_path_with_a_json_404(api, owner):
    assert_error(api.get("no-such-thing"), 404, "not_found", account=owner)


def test_it_answers_an_unexpected_failure_with_a_json_500_and_a_stored_traceback(world, api, monkeypatch):
    def broken(account):
        raise RuntimeError("the database caught fire")

    monkeypatch.setattr("camcare.billing.selectors.subscription_summary", broken)
    response = api.get("subscription")
    body = assert_error(response, 500, "internal_error", account=world.owner.account)
    assert "caught fire" not in response.content.decode()
    report = ErrorReport.objects.get(reference=body["reference"])
    assert "RuntimeError: the database caught fire" in report.detail
    assert report.path == "/api/v1/subscription"


def test_it_files_each_error_under_the_account_that_made_the_call(world, api, outsider_api):
    mine = assert_error(api.get("orders/ORD-NOPE"), 404, account=world.owner.account)
    theirs = assert_error(outsider_api.get("orders/ORD-NOPE"), 404, account=world.outsider.account)
    assert mine["reference"] != theirs["reference"]
    assert Account.objects.get(pk=world.owner.account.pk).error_reports.filter(reference=mine["reference"]).exists()
