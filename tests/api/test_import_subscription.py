"""manage.py import_subscription: app-store and old-app subscriptions (API.md)."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from camcare.billing.models import Subscription
from camcare.cameras.models import Camera
from tests.api.conftest import START, assert_error, db_state, move, register


@pytest.fixture
def porch(api):
    move(api, START)
    return register(api, "Porch")[0]


def run(*args: str) -> None:
    call_command("import_subscription", *args)


def test_it_imports_an_app_store_subscription_shown_but_refused_on_the_web(porch, api, owner, capsys):
    run("--email", "OWNER@example.com", "--channel", "app_store", "--store", "google", "--plan", "plus",
        "--camera", porch, "--period-end", "2027-03-20T00:00:00Z")
    assert "imported app_store subscription" in capsys.readouterr().out
    summary = api.get("subscription").json()
    assert (summary["status"], summary["channel"], summary["store"], summary["cameras"]) == (
        "active", "app_store", "google", {porch: "plus"})
    assert (summary["current_period_start"], summary["current_period_end"]) == (
        "2027-02-20T00:00:00Z", "2027-03-20T00:00:00Z")
    assert api.get("orders").json() == []  # the store took the money
    body = assert_error(api.post("subscription/cancel", {}), 409, "managed_in_app_store", account=owner)
    assert body["store"] == "google" and "Google Play" in body["message"]


def test_it_imports_a_legacy_subscription_that_changes_like_a_web_one(porch, api, owner):
    garden = register(api, "Garden")[0]
    run("--email", owner.email, "--channel", "legacy_app", "--plan", "plus", "--camera", porch, "--camera", garden,
        "--period-end", "2027-03-11T00:00:00Z")
    assert api.get("subscription").json()["channel"] == "legacy_app"
    api.put("payment-method", {"token": "tok_visa"})
    # 10 of the 28 days of Feb 11 -> Mar 11 remain: each plus line credits round(399 x 10/28) = 143.
    result = api.put("subscription", {"cameras": {garden: "free"}})
    assert result.status_code == 200, result.content
    assert (result.json()["credit_added"], result.json()["net"]) == (143, -143)


@pytest.mark.parametrize(("args", "message"), [
    (["--email", "nobody@example.com"], "No account"),
    (["--camera", "cam_nope"], "unknown_camera"),
    (["--plan", "free"], "unknown_plan"),
    (["--plan", "gold"], "unknown_plan"),
    (["--store", None], "invalid_state"),
    (["--period-end", "2027-04-01T00:00:00"], "ISO 8601"),
    (["--period-end", "2027-02-01T00:00:00Z"], "not after"),
], ids=["unknown e-mail", "unknown camera", "free plan", "unknown plan", "app store without store",
        "period end without zone", "period end in the past"])
def test_it_refuses_a_bad_import_and_writes_nothing(args, message, porch, owner):
    defaults = {"--email": owner.email, "--channel": "app_store", "--store": "apple", "--plan": "plus",
                "--camera": porch, "--period-end": "2027-04-01T00:00:00Z"}
    defaults.update(dict(zip(args[::2], args[1::2], strict=True)))
    before = db_state()
    with pytest.raises(CommandError) as refused:
        run(*[part for name, value in defaults.items() if value is not None for part in (name, value)])
    assert message in str(refused.value)
    assert refused.value.returncode == 1  # manage.py exits non-zero
    assert db_state() == before


def test_it_refuses_another_accounts_camera(porch, owner, outsider_api):
    move(outsider_api, START)
    theirs = register(outsider_api, "Shed")[0]
    with pytest.raises(CommandError, match="unknown_camera"):
        run("--email", owner.email, "--channel", "legacy_app", "--plan", "plus", "--camera", theirs,
            "--period-end", "2027-04-01T00:00:00Z")
    assert Camera.objects.get(pk=theirs).plan == "free"


def test_it_refuses_to_import_over_a_paid_subscription(porch, api, owner):
    api.put("payment-method", {"token": "tok_visa"})
    api.put("subscription", {"cameras": {porch: "plus"}})
    with pytest.raises(CommandError, match="invalid_state"):
        run("--email", owner.email, "--channel", "legacy_app", "--plan", "premium", "--camera", porch,
            "--period-end", "2027-04-01T00:00:00Z")
    assert Subscription.objects.get(account=owner).channel == "web"
