"""Hostile input: what an attacker sent the server, and the answer each must get, a 4xx
with the error body (an HTML 4xx page on the portal and the support console), never a
500, and nothing changed. The tables are read off the served OpenAPI document, so that a
new route is covered as soon as it exists, and every status they see must be documented."""

from __future__ import annotations

import functools
import re

import pytest
from django.test import Client

from camcare.api.v1 import api as ninja_api
from tests.api.conftest import anon_api, api, assert_error, db_state, outsider_api, world  # noqa: F401 (fixtures)
from tests.support.otp import make_billing_admin, verified_client

MUTATING = {"post", "put", "patch", "delete"}


@functools.cache
def operations() -> dict[tuple[str, str], dict]:
    """(METHOD, path template) -> its operation in the served document."""
    paths = ninja_api.get_openapi_schema()["paths"]
    return {(method.upper(), path): operation for path, ops in paths.items() for method, operation in ops.items()}


def json_routes() -> list[tuple[str, str]]:
    return [key for key, operation in operations().items()
            if "application/json" in operation.get("requestBody", {}).get("content", {})]


def routes_with_ids() -> list[tuple[str, str]]:
    return [key for key in operations() if "{" in key[1]]


def is_public(key: tuple[str, str]) -> bool:
    return not operations()[key].get("security")


def route_ids(keys) -> list[str]:
    return [f"{method} {path.removeprefix('/api/v1')}" for method, path in keys]


def assert_documented(key: tuple[str, str], status: int) -> None:
    """API.md: the OpenAPI document lists every status each operation can answer."""
    assert str(status) in operations()[key]["responses"], f"{key} answers {status}, undocumented"


def assert_refused(response, key: tuple[str, str], status: int, code: str | None = None, *, account=None) -> dict:
    body = assert_error(response, status, code, account=account)
    assert_documented(key, status)
    return body


def state() -> dict:
    """db_state but for the answers kept under Idempotency-Keys (API.md keeps a 4xx)."""
    return {model: rows for model, rows in db_state().items() if model != "api.IdempotencyRecord"}


def assert_page(response, status: int) -> None:
    """A portal or console answer to hostile input: this status, an HTML page, no trace."""
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("text/html"), response["Content-Type"]
    assert b"Traceback" not in response.content


def fill(path: str, person) -> str:
    """The path with `person`'s real ids in it."""
    return (path.replace("{camera_id}", next(iter(person.cameras.values())))
            .replace("{clip_id}", person.clip_id).replace("{order_id}", person.order_id))


def with_id(path: str, value: str) -> str:
    return re.sub(r"\{\w+\}", value, path)


@pytest.fixture
def portal(world) -> Client:  # noqa: F811 (the fixture imported above)
    """The owner signed in to the portal (a session, as the browser has it)."""
    client = Client()
    client.force_login(world.owner.account)
    return client


@pytest.fixture
def staff_client(staff) -> Client:
    """An agent signed in to the console: password, then the TOTP step (as staff must)."""
    return verified_client(staff)


@pytest.fixture
def billing_admin_client(staff) -> Client:
    """A billing admin through the TOTP step: the one role whose credit form is read at all."""
    return verified_client(make_billing_admin(staff))
