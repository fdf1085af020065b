"""Shared fixtures: the people of every test (owner, outsider, staff) and an API client.

Like healthchecks' BaseTestCase: every endpoint is tested for the outsider too.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.test import Client

from camcare.accounts.models import Account
from camcare.accounts.services import issue_token

PASSWORD = "correct horse battery staple"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _test_clocks_and_media(settings, tmp_path):
    settings.TEST_CLOCKS = True
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only


def make_account(email: str, **extra) -> Account:
    return Account.objects.create_user(email=email, password=PASSWORD, **extra)


@pytest.fixture
def owner(db) -> Account:
    return make_account("owner@example.com")


@pytest.fixture
def outsider(db) -> Account:
    return make_account("outsider@example.com")


@pytest.fixture
def staff(db) -> Account:
    return make_account("support@camcare.example", is_staff=True)


def set_clock(account: Account, at: datetime) -> None:
    """Freeze `account`'s test clock at `at` without running what falls due (see
    camcare.billing.actions.advance_test_clock for the real move)."""
    account.test_clock_at = at
    account.save(update_fields=["test_clock_at"])


class Api:
    """A JSON client for /api/v1 that authenticates as one account with a bearer token."""

    def __init__(self, account: Account | None):
        self.account = account
        self.client = Client()
        self.headers = {}
        if account is not None:
            self.headers["Authorization"] = f"Bearer {issue_token(account)}"

    def _call(self, method: str, path: str, body=None, headers=None, **kwargs):
        url = path if path.startswith("/") else f"/api/v1/{path}"
        all_headers = {**self.headers, **(headers or {})}
        if body is not None and "data" not in kwargs:
            kwargs["data"] = json.dumps(body)
            kwargs["content_type"] = "application/json"
        return getattr(self.client, method)(url, headers=all_headers, **kwargs)

    def get(self, path, **kw):
        return self._call("get", path, **kw)

    def post(self, path, body=None, **kw):
        return self._call("post", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self._call("put", path, body, **kw)

    def delete(self, path, body=None, **kw):
        return self._call("delete", path, body, **kw)


@pytest.fixture
def api(owner) -> Api:
    return Api(owner)


@pytest.fixture
def outsider_api(outsider) -> Api:
    return Api(outsider)


@pytest.fixture
def anon_api(db) -> Api:
    return Api(None)
