"""Hostile JSON bodies, sent to every route that takes one, with and without an
Idempotency-Key (the middleware reads the body before the view does)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH
from django.test import Client
from django.test.client import BOUNDARY, encode_multipart
from django.utils.crypto import get_random_string

from camcare.api.base import MAX_JSON_DEPTH
from tests.hostile.conftest import assert_refused, is_public, json_routes, route_ids, state

# The test client encodes a dict for its own MULTIPART_CONTENT: these bytes go as they are.
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def nested(depth: int, inner: bytes = b"1") -> bytes:
    return b'{"a":' * depth + inner + b"}" * depth


@dataclass(frozen=True)
class Body:
    label: str
    data: bytes
    status: int
    code: str
    content_type: str = "application/json"
    environ: dict = field(default_factory=dict)


BODIES = [
    Body("arrays 500 deep", b"[" * 500 + b"]" * 500, 400, "invalid_json"),
    Body("objects 500 deep", nested(500), 400, "invalid_json"),
    Body("a field 500 deep", b'{"cameras": ' + nested(500) + b"}", 400, "invalid_json"),
    Body("100,000 brackets never closed", b"[" * 100_000, 400, "invalid_json"),
    Body("one level past the limit", nested(MAX_JSON_DEPTH + 1), 400, "invalid_json"),
    Body("at the limit: parsed, then refused", nested(MAX_JSON_DEPTH), 422, "invalid_request"),
    Body("brackets inside a string do not nest", b'{"x": "' + b"[" * 500 + b'"}', 422, "invalid_request"),
    Body("UTF-16", json.dumps({}).encode("utf-16"), 400, "invalid_json"),
    # In UTF-16 an escaped quote is not the bytes \" : read as bytes, the strings shift and
    # the brackets between them would hide from a byte count.
    Body("UTF-16 hiding its depth", ('["\\"", ' + "[" * 500 + "]" * 500 + ', "x"]').encode("utf-16-le"),
         400, "invalid_json"),
    Body("a number of 5,000 digits", b'{"now": ' + b"9" * 5000 + b"}", 400, "invalid_json"),
    Body("a multipart form", encode_multipart(BOUNDARY, {"cameras": "x", "file": "y"}), 415,
         "unsupported_media_type", content_type=MULTIPART),
    Body("declared larger than the server reads", b"{}", 413, "request_too_large",
         environ={"CONTENT_LENGTH": "3000000"}),
    Body("a Content-Length of 5,000 digits: no body is read", b"{}", 422, "invalid_request",
         environ={"CONTENT_LENGTH": "9" * 5000}),
]

ROUTES = json_routes()


def send(client_api, key, body: Body, idempotency_key: str | None):
    method, path = key
    headers = {"Idempotency-Key": f"{idempotency_key} {method} {path}"} if idempotency_key else {}
    return client_api._call(method.lower(), path, data=body.data, content_type=body.content_type,
                            headers=headers, **body.environ)


def test_it_finds_the_json_routes_in_the_document():
    assert ("PUT", "/api/v1/subscription") in ROUTES and ("POST", "/api/v1/tokens") in ROUTES
    assert ("POST", "/api/v1/device/clips") not in ROUTES  # multipart


@pytest.mark.parametrize("idempotency_key", [None, "hostile"], ids=["no key", "with a key"])
@pytest.mark.parametrize("body", BODIES, ids=[b.label for b in BODIES])
def test_it_refuses_a_hostile_body_on_every_json_route_and_changes_nothing(body, idempotency_key, world, api, anon_api):
    for key in ROUTES:
        client_api, account = (anon_api, None) if is_public(key) else (api, world.owner.account)
        before = state()
        response = send(client_api, key, body, idempotency_key)
        assert_refused(response, key, body.status, body.code, account=account)
        assert state() == before, route_ids([key])


def test_it_says_how_deep_a_body_may_nest(api):
    body = send(api, ("POST", "/api/v1/subscription/preview"), BODIES[0], None).json()
    assert f"more than {MAX_JSON_DEPTH} levels" in body["message"]


def test_it_replays_the_refusal_of_a_deep_body_sent_again_with_its_key(world, api):
    key = ("POST", "/api/v1/subscription/preview")
    first = send(api, key, BODIES[1], "again")
    again = send(api, key, BODIES[1], "again")
    assert (first.status_code, again.status_code) == (400, 400)
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()


@pytest.fixture
def session_api(world, settings):
    """The portal's session with its CSRF token, as a page's script calls the API."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.owner.account)
    secret = get_random_string(CSRF_SECRET_LENGTH, allowed_chars=CSRF_ALLOWED_CHARS)
    client.cookies[settings.CSRF_COOKIE_NAME] = secret
    return client, {"X-CSRFToken": secret}


@pytest.mark.parametrize("body", [BODIES[1], BODIES[10]], ids=["objects 500 deep", "a multipart form"])
def test_it_refuses_a_hostile_body_sent_with_the_portal_session(body, session_api, world):
    """The CSRF check of a session call reads a form body: it must not get to it first."""
    client, csrf = session_api
    key = ("POST", "/api/v1/subscription/preview")
    before = state()
    response = client.post(key[1], data=body.data, content_type=body.content_type,
                           headers={**csrf, "Idempotency-Key": "session-hostile"})
    assert_refused(response, key, body.status, body.code, account=world.owner.account)
    assert state() == before
