"""GET/POST /test-clock (API.md "Test clocks")."""

from __future__ import annotations

from camcare import clock
from camcare.accounts.models import Account
from camcare.domain.periods import iso_z
from tests.api.conftest import assert_error, register


def test_it_answers_real_time_until_the_first_move(api, owner):
    before = iso_z(clock.real_now())
    now = api.get("test-clock").json()["now"]
    assert before <= now <= iso_z(clock.real_now())
    assert now.endswith("Z") and len(now) == 20


def test_it_freezes_the_clock_where_it_is_moved(api, owner):
    moved = api.post("test-clock", {"now": "2027-03-01T12:30:00+02:00"})
    assert moved.status_code == 200
    assert moved.json() == {"now": "2027-03-01T10:30:00Z"}
    assert api.get("test-clock").json() == {"now": "2027-03-01T10:30:00Z"}
    assert iso_z(Account.objects.get(pk=owner.pk).test_clock_at) == "2027-03-01T10:30:00Z"


def test_it_moves_each_account_on_its_own(api, outsider_api, owner, outsider):
    api.post("test-clock", {"now": "2027-03-01T00:00:00Z"})
    assert outsider_api.get("test-clock").json()["now"] < "2027-01-01"
    assert Account.objects.get(pk=outsider.pk).test_clock_at is None


def test_it_refuses_to_move_the_clock_back(api, owner):
    api.post("test-clock", {"now": "2027-03-10T00:00:00Z"})
    assert_error(api.post("test-clock", {"now": "2027-03-09T23:59:59Z"}), 422, "invalid_time", account=owner)
    assert api.get("test-clock").json() == {"now": "2027-03-10T00:00:00Z"}


def test_it_refuses_a_time_without_a_zone(api, owner):
    api.post("test-clock", {"now": "2027-03-10T00:00:00Z"})
    body = assert_error(api.post("test-clock", {"now": "2027-03-11T00:00:00"}), 422, "invalid_time", account=owner)
    assert "time zone" in body["message"]
    assert api.get("test-clock").json() == {"now": "2027-03-10T00:00:00Z"}


def test_it_runs_the_renewals_that_fall_due_on_the_way(api, owner):
    api.post("test-clock", {"now": "2027-03-01T00:00:00Z"})
    porch, _ = register(api, "Porch")
    api.put("payment-method", {"token": "tok_visa"})
    assert api.put("subscription", {"cameras": {porch: "plus"}}).status_code == 200
    assert api.post("test-clock", {"now": "2027-05-15T00:00:00Z"}).status_code == 200
    orders = api.get("orders").json()
    assert [(o["kind"], o["amount"], o["created_at"]) for o in orders] == [
        ("charge", 399, "2027-05-01T00:00:00Z"),
        ("charge", 399, "2027-04-01T00:00:00Z"),
        ("charge", 399, "2027-03-01T00:00:00Z"),
    ]
    assert api.get("subscription").json()["current_period_start"] == "2027-05-01T00:00:00Z"


def test_it_answers_404_when_test_clocks_are_off(api, owner, settings):
    settings.TEST_CLOCKS = False
    assert_error(api.get("test-clock"), 404, "not_found", account=owner)
    assert_error(api.post("test-clock", {"now": "2027-03-01T00:00:00Z"}), 404, "not_found", account=owner)
    assert Account.objects.get(pk=owner.pk).test_clock_at is None


def test_it_still_answers_401_before_404_when_test_clocks_are_off(anon_api, settings):
    settings.TEST_CLOCKS = False
    assert_error(anon_api.get("test-clock"), 401, "unauthorized")
