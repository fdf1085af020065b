"""GET and PATCH /account: the zone pages and e-mails show instants in (POLICY.md section
16, API.md "Additions for POLICY.md sections 12-16"). The API itself stays UTC."""

from __future__ import annotations

import pytest

from camcare.accounts.models import Account
from camcare.audit.models import AuditEvent
from tests.api.conftest import assert_error, db_state
from tests.conftest import PASSWORD, Api


def patch(client_api: Api, body, **kwargs):
    return client_api._call("patch", "account", body, **kwargs)


def test_it_answers_the_account_with_utc_by_default(api, owner):
    response = api.get("account")
    assert response.status_code == 200
    assert response.json() == {"id": owner.pk, "email": "owner@example.com", "time_zone": "UTC"}


def test_it_sets_the_time_zone_and_audits_it(api, owner):
    response = patch(api, {"time_zone": "America/Los_Angeles"})
    assert response.status_code == 200, response.content
    assert response.json() == {"id": owner.pk, "email": "owner@example.com", "time_zone": "America/Los_Angeles"}
    assert api.get("account").json()["time_zone"] == "America/Los_Angeles"
    owner.refresh_from_db()
    assert owner.time_zone == "America/Los_Angeles"
    [event] = AuditEvent.objects.filter(account=owner, action="account.time_zone_changed")
    assert event.actor_id == owner.pk
    assert event.detail == {"old": "UTC", "new": "America/Los_Angeles"}


def test_setting_the_same_zone_again_changes_nothing_and_audits_nothing(api, owner):
    patch(api, {"time_zone": "Europe/Paris"})
    again = patch(api, {"time_zone": "Europe/Paris"})
    assert again.status_code == 200 and again.json()["time_zone"] == "Europe/Paris"
    assert AuditEvent.objects.filter(account=owner, action="account.time_zone_changed").count() == 1


def test_it_stores_utcs_aliases_as_utc(api, owner):
    patch(api, {"time_zone": "Asia/Tokyo"})
    assert patch(api, {"time_zone": "Etc/UTC"}).json()["time_zone"] == "UTC"


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "america/los_angeles", "", " ", "PDT", "+02:00",
                                  "Factory", "../../etc/passwd", "America/"])
def test_it_refuses_an_unknown_time_zone_with_422_and_changes_nothing(zone, api, owner):
    patch(api, {"time_zone": "Europe/Berlin"})
    before = db_state()
    events = AuditEvent.objects.count()
    body = assert_error(patch(api, {"time_zone": zone}), 422, "unknown_time_zone", account=owner)
    assert "IANA" in body["message"] and "Nothing was changed" in body["message"]
    assert db_state() == before and AuditEvent.objects.count() == events
    assert api.get("account").json()["time_zone"] == "Europe/Berlin"


def test_the_token_decides_whose_account_an_outsider_cannot_change_the_owners(api, outsider_api, owner, outsider):
    """There is no id in the path: a PATCH changes the caller's own account, and an id or
    e-mail in the body is refused, not followed."""
    assert outsider_api.get("account").json()["id"] == outsider.pk
    refused = patch(outsider_api, {"time_zone": "Asia/Tokyo", "id": owner.pk})
    assert_error(refused, 422, "invalid_request", account=outsider)
    refused = patch(outsider_api, {"time_zone": "Asia/Tokyo", "email": owner.email})
    assert_error(refused, 422, "invalid_request", account=outsider)
    assert patch(outsider_api, {"time_zone": "Asia/Tokyo"}).json() == {
        "id": outsider.pk, "email": outsider.email, "time_zone": "Asia/Tokyo"}
    assert Account.objects.get(pk=owner.pk).time_zone == "UTC"
    assert api.get("account").json()["time_zone"] == "UTC"


def test_it_needs_credentials(anon_api):
    assert_error(anon_api.get("account"), 401, "unauthorized")
    assert_error(patch(anon_api, {"time_zone": "Asia/Tokyo"}), 401, "unauthorized")


def test_it_refuses_a_body_that_is_not_json(api, owner):
    response = api._call("patch", "account", data=b'{"time_zone": ', content_type="application/json")
    assert_error(response, 400, "invalid_json", account=owner)


def test_a_portal_session_must_send_the_csrf_header(owner):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    response = browser.patch("/api/v1/account", data='{"time_zone": "Asia/Tokyo"}', content_type="application/json")
    assert_error(response, 403, "csrf_failed", account=owner)
    assert Account.objects.get(pk=owner.pk).time_zone == "UTC"


def test_api_sign_up_keeps_utc_and_sends_instants_in_utc(anon_api, owner):
    """POST /accounts takes no zone (POLICY.md section 16: UTC through the API); the
    owner sets one with PATCH /account. Whatever it is, the API's instants stay UTC."""
    created = anon_api.post("accounts", {"email": "new@example.com", "password": PASSWORD})
    assert created.status_code == 201 and Account.objects.get(email="new@example.com").time_zone == "UTC"
    refused = anon_api.post("accounts", {"email": "other@example.com", "password": PASSWORD,
                                         "time_zone": "Asia/Tokyo"})
    assert_error(refused, 422, "invalid_request")
    owner.time_zone = "America/Los_Angeles"
    owner.save(update_fields=["time_zone"])
    clock = Api(owner).post("test-clock", {"now": "2027-04-01T00:00:00Z"})
    assert clock.status_code == 200 and clock.json()["now"] == "2027-04-01T00:00:00Z"
