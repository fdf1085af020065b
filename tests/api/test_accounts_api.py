"""Accounts, tokens, the catalog and the two ways to authenticate (API.md)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import time_machine
from django.test import Client

from camcare import clock
from camcare.accounts.models import Account, ApiToken, LoginFailure
from camcare.billing.models import Quote
from tests.api.conftest import CheckedApi, assert_error
from tests.conftest import PASSWORD


def sign_in(anon_api, email: str, password: str, ip: str = "198.51.100.7"):
    return anon_api.post("tokens", {"email": email, "password": password}, REMOTE_ADDR=ip)


# ------------------------------------------------------------------ POST /accounts


def test_it_creates_an_account_and_answers_its_id_and_email(anon_api):
    response = anon_api.post("accounts", {"email": "new.owner@example.com", "password": PASSWORD})
    assert response.status_code == 201, response.content
    body = response.json()
    account = Account.objects.get(pk=body["id"])
    assert body == {"id": account.pk, "email": "new.owner@example.com"}
    assert body["id"].startswith("acc_")
    assert account.check_password(PASSWORD) and account.password != PASSWORD


@pytest.mark.parametrize("email", ["OWNER@example.com", "owner@EXAMPLE.COM", "  Owner@Example.com  "])
def test_it_refuses_an_email_already_taken_in_any_case(email, owner, anon_api):
    body = assert_error(anon_api.post("accounts", {"email": email, "password": PASSWORD}), 409, "email_taken")
    assert "already" in body["message"]
    assert Account.objects.count() == 1


@pytest.mark.parametrize("password", ["password", "short1", "12345678901234", "new.owner@example.com"],
                         ids=["common", "too short", "all digits", "like the e-mail"])
def test_it_refuses_a_password_djangos_validators_refuse(password, db, anon_api):
    body = assert_error(anon_api.post("accounts", {"email": "new.owner@example.com", "password": password}),
                        422, "weak_password")
    assert body["message"].endswith(".")
    assert not Account.objects.exists()


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "two@@example.com", "", "  ", "spaces in@example.com"])
def test_it_refuses_an_invalid_email(email, db, anon_api):
    assert_error(anon_api.post("accounts", {"email": email, "password": PASSWORD}), 422, "invalid_email")
    assert not Account.objects.exists()


# ------------------------------------------------------------------ POST /tokens


def test_it_issues_a_token_that_authenticates_the_account(owner, anon_api):
    response = sign_in(anon_api, "OWNER@example.com", PASSWORD)
    assert response.status_code == 201, response.content
    token = response.json()["token"]
    me = Client().get("/api/v1/subscription", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert ApiToken.objects.get(token_hash=hashlib.sha256(token.encode()).hexdigest()).account == owner


def test_it_stores_tokens_only_as_hashes(owner, anon_api):
    token = sign_in(anon_api, "owner@example.com", PASSWORD).json()["token"]
    stored = list(ApiToken.objects.values_list("token_hash", flat=True))
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]
    for row in ApiToken.objects.values():
        assert not any(token in str(value) for value in row.values())


@pytest.mark.parametrize(("email", "password"), [("owner@example.com", "wrong password"),
                                                 ("nobody@example.com", PASSWORD)],
                         ids=["wrong password", "unknown e-mail"])
def test_it_answers_401_to_wrong_credentials_without_saying_which_part(email, password, owner, anon_api):
    body = assert_error(sign_in(anon_api, email, password), 401, "invalid_credentials")
    assert body["message"] == "Wrong e-mail or password."
    assert not ApiToken.objects.exists()


def test_it_throttles_an_email_after_ten_failures_in_fifteen_minutes(owner, anon_api):
    for attempt in range(10):  # each from another address: only the e-mail is counted
        assert sign_in(anon_api, "owner@example.com", "wrong", ip=f"203.0.113.{attempt}").status_code == 401
    response = sign_in(anon_api, "OWNER@example.com", PASSWORD, ip="203.0.113.99")
    assert_error(response, 429, "too_many_attempts")
    assert 1 <= int(response["Retry-After"]) <= 15 * 60 + 1  # whole seconds, rounded up
    assert not ApiToken.objects.exists()


def test_it_throttles_an_ip_after_ten_failures_for_different_emails(owner, anon_api):
    for attempt in range(10):
        assert sign_in(anon_api, f"guess{attempt}@example.com", "wrong", ip="192.0.2.50").status_code == 401
    response = sign_in(anon_api, "owner@example.com", PASSWORD, ip="192.0.2.50")
    assert_error(response, 429, "too_many_attempts")
    assert int(response["Retry-After"]) >= 1
    assert sign_in(anon_api, "owner@example.com", PASSWORD, ip="192.0.2.51").status_code == 201


def test_it_counts_only_failures_of_the_last_fifteen_minutes(owner, anon_api):
    start = clock.real_now()
    with time_machine.travel(start, tick=False) as traveller:
        for attempt in range(10):
            sign_in(anon_api, "owner@example.com", "wrong", ip=f"203.0.113.{attempt}")
        assert sign_in(anon_api, "owner@example.com", PASSWORD).status_code == 429
        traveller.move_to(start + timedelta(minutes=15, seconds=1))
        assert sign_in(anon_api, "owner@example.com", PASSWORD).status_code == 201


def test_it_does_not_count_a_throttled_attempt_as_another_failure(owner, anon_api):
    for attempt in range(10):
        sign_in(anon_api, "owner@example.com", "wrong", ip=f"203.0.113.{attempt}")
    for _ in range(3):
        assert sign_in(anon_api, "owner@example.com", "wrong").status_code == 429
    assert LoginFailure.objects.count() == 10


# ------------------------------------------------------------------ DELETE /tokens/current


def test_it_revokes_the_token_it_is_called_with(owner, anon_api):
    token = sign_in(anon_api, "owner@example.com", PASSWORD).json()["token"]
    other = sign_in(anon_api, "owner@example.com", PASSWORD).json()["token"]
    revoked = Client().delete("/api/v1/tokens/current", headers={"Authorization": f"Bearer {token}"})
    assert revoked.status_code == 204 and revoked.content == b""
    after = Client().get("/api/v1/subscription", headers={"Authorization": f"Bearer {token}"})
    assert_error(after, 401, "unauthorized")
    still = Client().get("/api/v1/subscription", headers={"Authorization": f"Bearer {other}"})
    assert still.status_code == 200


def test_it_tells_a_portal_session_to_sign_out_instead_of_revoking(owner):
    client = Client()
    client.force_login(owner)
    assert_error(client.delete("/api/v1/tokens/current"), 400, "not_a_token", account=owner)


# ------------------------------------------------------------------ GET /plans


def test_it_lists_the_plans_exactly_as_the_contract_says(anon_api):
    response = anon_api.get("plans")
    assert response.status_code == 200
    assert response.json() == [
        {"code": "free", "name": "Free", "scope": "camera", "max_cameras": None, "history_days": 2,
         "currency": "USD", "prices": {"monthly": 0, "annual": 0}},
        {"code": "plus", "name": "Plus", "scope": "camera", "max_cameras": 1, "history_days": 14,
         "currency": "USD", "prices": {"monthly": 399, "annual": 3999}},
        {"code": "premium", "name": "Premium", "scope": "account", "max_cameras": 10, "history_days": 30,
         "currency": "USD", "prices": {"monthly": 1299, "annual": 12999}},
    ]


# ------------------------------------------------------------------ the portal's session


def test_it_accepts_the_portals_session_cookie(owner):
    client = Client()
    client.force_login(owner)
    response = client.get("/api/v1/subscription")
    assert response.status_code == 200
    assert response.json()["status"] == "none"


def test_it_refuses_a_session_post_without_the_csrf_token(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.post("/api/v1/subscription/preview", data="{}", content_type="application/json")
    body = assert_error(response, 403, "csrf_failed", account=owner)
    assert "X-CSRFToken" in body["message"]
    assert not Quote.objects.exists()


def test_it_accepts_a_session_post_with_the_csrf_token(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    secret = "a" * 32  # any 32 allowed characters make a valid unmasked CSRF secret
    client.cookies["csrftoken"] = secret
    response = client.post("/api/v1/subscription/preview", data="{}", content_type="application/json",
                           headers={"X-CSRFToken": secret})
    assert response.status_code == 200, response.content
    assert Quote.objects.filter(account=owner).count() == 1


def test_it_prefers_a_valid_bearer_token_to_the_csrf_check(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    token = CheckedApi(owner).headers["Authorization"]
    response = client.post("/api/v1/subscription/preview", data="{}", content_type="application/json",
                           headers={"Authorization": token})
    assert response.status_code == 200, response.content
