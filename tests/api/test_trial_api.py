"""The free trial (POLICY.md section 12) through the JSON API: the worked example to the
cent, who is refused a trial (409 trial_not_available, 422 for a non-boolean `trial`) and
that a refusal changes nothing, the outsider, a trial quote whose trial was used
meanwhile, a stop during the trial (section 13) and a trial that ends with no card (the
hold of section 6). The action twin is tests/billing/test_trial.py."""

from __future__ import annotations

import pytest
from django.test import Client

from camcare.billing.models import Subscription
from camcare.notices.models import Notice
from tests.api.conftest import START, assert_error, db_state, move, register, upload
from tests.billing.helpers import assert_consistent, money_fields

TRIAL_END = "2027-03-31T00:00:00Z"  # START + the catalog's 30 trial days
FIRST_PERIOD_END = "2027-04-30T00:00:00Z"
STOP_AT_TRIAL_END = {"at": TRIAL_END, "kind": "stop", "cycle": None}


def trial(cameras: list[str], plan: str = "plus", **extra) -> dict:
    return {"cameras": dict.fromkeys(cameras, plan), "cycle": "monthly", "trial": True, **extra}


def unchanged_since(before: dict) -> None:
    """db_state() equals `before`, but for an empty subscription row (status none, version 0,
    no period) that a first preview or change creates for an account that had none: the
    row every change is priced from (billing.actions.common.subscription_for), not a change."""
    after = db_state()
    label = Subscription._meta.label
    added = set(after[label]) - set(before[label])
    assert set(before[label]) <= set(after[label]), (before[label], after[label])
    blank = Subscription.objects.filter(status="none", version=0, period_start=None, lines__isnull=True)
    assert len(added) == blank.filter(pk__in=[int(row[1:].split(",")[0]) for row in added]).count(), added
    after[label] = before[label]
    assert after == before


def ok(response) -> dict:
    assert response.status_code == 200, (response.status_code, response.content[:500])
    return response.json()


def seen(person_api) -> tuple:
    """What the owner sees of their money and plan: GET /subscription and GET /orders."""
    return ok(person_api.get("subscription")), ok(person_api.get("orders"))


def priced(body) -> list:
    return sorted((line["kind"], line["plan"], line["amount"]) for line in body["lines"])


def windows(person_api) -> dict:
    return {camera["id"]: (camera["plan"], camera["history_days"]) for camera in ok(person_api.get("cameras"))}


def serial_of(person_api, camera: str) -> str:
    return next(c["serial"] for c in ok(person_api.get("cameras")) if c["id"] == camera)


@pytest.fixture
def two(api):
    """Porch and Garden registered through POST /cameras, the clock at START, no card."""
    move(api, START)
    return register(api, "Porch")[0], register(api, "Garden")[0]


def start_trial(person_api, cameras: list[str], plan: str = "plus") -> dict:
    started = ok(person_api.put("subscription", trial(cameras, plan)))
    assert (started["subscription"]["status"], started["orders"]) == ("trialing", [])
    return started


# ---------------------------------------------------------------- 1. the worked example


def test_the_worked_example_of_section_12_through_the_api(api, owner, two, django_capture_on_commit_callbacks):
    porch, garden = two
    preview = ok(api.post("subscription/preview", trial([porch, garden])))
    assert (preview["at"], preview["currency"], preview["trial_end"]) == (START, "USD", TRIAL_END)
    assert (preview["charge_now"], preview["net"], preview["credit_used"], preview["refund"]) == (0, 0, 0, 0)
    assert priced(preview) == [("charge", "plus", 0), ("charge", "plus", 0)]
    assert preview["next_bill"] == {"at": TRIAL_END, "amount": 798}
    assert (preview["scheduled_change"], preview["erasures"]) == (None, [])

    started = ok(api.put("subscription", trial([porch, garden], quote=preview["quote"])))
    assert money_fields(started) == money_fields(preview)
    assert (started["orders"], started["trial_end"]) == ([], TRIAL_END)
    summary = ok(api.get("subscription"))
    assert started["subscription"] == summary
    assert (summary["status"], summary["channel"], summary["cycle"], summary["trial_end"]) == (
        "trialing", "web", "monthly", TRIAL_END)
    assert (summary["current_period_start"], summary["current_period_end"]) == (START, TRIAL_END)
    assert summary["next_bill"] == {"at": TRIAL_END, "amount": 798}
    assert (summary["cameras"], summary["scheduled_change"]) == ({porch: "plus", garden: "plus"}, None)
    assert windows(api) == {porch: ("plus", 14), garden: ("plus", 14)}  # the plan's window at once
    assert ok(api.get("orders")) == []

    move(api, "2027-03-11T00:00:00Z")
    premium = {"cameras": {porch: "premium", garden: "premium"}}
    upgrade_preview = ok(api.post("subscription/preview", premium))
    assert priced(upgrade_preview) == [("charge", "premium", 0), ("credit", "plus", 0), ("credit", "plus", 0)]
    upgrade = ok(api.put("subscription", {**premium, "quote": upgrade_preview["quote"]}))
    assert money_fields(upgrade) == money_fields(upgrade_preview)
    assert (upgrade["charge_now"], upgrade["net"], upgrade["credit_added"], upgrade["orders"]) == (0, 0, 0, [])
    assert (upgrade["next_bill"], upgrade["trial_end"]) == ({"at": TRIAL_END, "amount": 1299}, TRIAL_END)
    summary = ok(api.get("subscription"))
    assert (summary["status"], summary["trial_end"], summary["current_period_end"]) == (
        "trialing", TRIAL_END, TRIAL_END)  # the trial's end never moves
    assert summary["next_bill"] == {"at": TRIAL_END, "amount": 1299}
    assert windows(api) == {porch: ("premium", 30), garden: ("premium", 30)}

    move(api, "2027-03-20T00:00:00Z")
    assert ok(api.put("payment-method", {"token": "tok_visa"})) == {"brand": "Visa", "last4": "4242"}
    assert ok(api.get("orders")) == []  # saving a card during the trial charges nothing

    move(api, "2027-03-28T00:00:00Z")  # section 15: 3 days before the end, the amount and the card
    [reminder] = Notice.objects.filter(account=owner, kind="trial_ending")
    assert (reminder.context["amount"], reminder.context["card"]) == ("$12.99", "Visa ending in 4242")
    with django_capture_on_commit_callbacks(execute=True):
        move(api, TRIAL_END)
    [first] = ok(api.get("orders"))
    assert (first["kind"], first["amount"], first["credit_used"], first["status"], first["created_at"]) == (
        "charge", 1299, 0, "succeeded", TRIAL_END)
    assert first["order_id"].startswith("ORD-")
    assert ok(api.get(f"orders/{first['order_id']}")) == first
    summary = ok(api.get("subscription"))
    assert (summary["status"], summary["trial_end"], summary["cycle"]) == ("active", None, "monthly")
    assert (summary["current_period_start"], summary["current_period_end"]) == (TRIAL_END, FIRST_PERIOD_END)
    assert summary["next_bill"] == {"at": FIRST_PERIOD_END, "amount": 1299}
    assert Notice.objects.filter(account=owner, kind="trial_ending").count() == 1  # once
    receipts = Notice.objects.filter(account=owner, kind="receipt")
    assert [n.context["order_id"] for n in receipts] == [first["order_id"]]

    move(api, "2027-04-10T00:00:00Z")
    cancel_preview = ok(api.post("subscription/preview", {"cameras": {porch: "free", garden: "free"}}))
    with django_capture_on_commit_callbacks(execute=True):
        cancel = ok(api.post("subscription/cancel", {"quote": cancel_preview["quote"]}))
    assert money_fields(cancel) == money_fields(cancel_preview)
    assert priced(cancel) == [("credit", "premium", 866)]  # round(1299 x 20/30)
    assert (cancel["refund"], cancel["credit_added"], cancel["net"], cancel["trial_end"]) == (866, 0, -866, None)
    [refund] = cancel["orders"]
    assert (refund["kind"], refund["amount"], refund["status"], refund["refers_to"]) == (
        "refund", 866, "succeeded", first["order_id"])
    assert refund["order_id"].startswith("ORD-") and refund["order_id"] != first["order_id"]
    assert ok(api.get("orders")) == [refund, first]  # newest first, with the refund's Order ID
    summary = ok(api.get("subscription"))
    assert (summary["status"], summary["credit_balance"], summary["cameras"]) == (
        "none", 0, {porch: "free", garden: "free"})
    assert_consistent()


# ---------------------------------------------------------------- 2. refusals


def assert_trial_refused(person_api, body: dict) -> None:
    """Both the preview and the change answer 409 trial_not_available, in API.md's error
    format, and nothing changes (what the owner sees, and every row and file)."""
    before, rows = seen(person_api), db_state()
    for response in (person_api.post("subscription/preview", body), person_api.put("subscription", body)):
        error = assert_error(response, 409, "trial_not_available", account=person_api.account)
        assert set(error) == {"code", "message", "reference"}
    assert seen(person_api) == before
    unchanged_since(rows)


def test_a_second_trial_is_refused_and_changes_nothing(api, two):
    porch, garden = two
    start_trial(api, [porch])
    ok(api.post("subscription/cancel", {}))
    move(api, "2027-03-05T00:00:00Z")
    assert_trial_refused(api, trial([garden]))  # a camera that never had one: the account did
    assert ok(api.get("subscription"))["status"] == "none"


def test_an_account_that_paid_has_no_trial(api, two):
    porch, garden = two
    ok(api.put("payment-method", {"token": "tok_visa"}))
    paid = ok(api.put("subscription", {"cameras": {porch: "plus"}}))
    assert [o["amount"] for o in paid["orders"]] == [399]
    ok(api.post("subscription/cancel", {}))
    assert_trial_refused(api, trial([garden]))


def test_a_trial_is_refused_while_subscribed(api, two):
    porch, garden = two
    ok(api.put("payment-method", {"token": "tok_visa"}))
    ok(api.put("subscription", {"cameras": {porch: "plus"}}))
    assert_trial_refused(api, trial([porch, garden]))
    assert_trial_refused(api, {"cameras": {garden: "plus"}, "trial": True})
    assert ok(api.get("subscription"))["status"] == "active"


def test_a_trial_is_refused_during_the_trial(api, two):
    porch, garden = two
    start_trial(api, [porch])
    move(api, "2027-03-05T00:00:00Z")
    assert_trial_refused(api, trial([porch, garden], "premium"))
    summary = ok(api.get("subscription"))
    assert (summary["status"], summary["trial_end"], summary["cameras"]) == (
        "trialing", TRIAL_END, {porch: "plus", garden: "free"})


def test_a_serial_that_had_a_trial_on_another_account_has_none(api, outsider_api, two):
    porch, _ = two
    serial = serial_of(api, porch)
    start_trial(api, [porch])
    ok(api.post("subscription/cancel", {}))
    ok(api.delete(f"cameras/{porch}"))

    move(outsider_api, "2027-03-05T00:00:00Z")
    registered = outsider_api.post("cameras", {"name": "Porch", "model": "KC200", "serial": f"  {serial.lower()} "})
    assert registered.status_code == 201, registered.content
    moved = registered.json()["id"]
    assert serial_of(outsider_api, moved) == serial  # trimmed and upper-cased, as at registration
    fresh, _ = register(outsider_api, "Shed")
    assert_trial_refused(outsider_api, trial([moved, fresh]))
    assert_trial_refused(outsider_api, trial([moved], "premium"))  # premium names no camera, but puts it on
    assert ok(outsider_api.get("subscription"))["status"] == "none"
    # The camera that never had one may: the rule is about the cameras put on a paid plan.
    started = start_trial(outsider_api, [fresh])
    assert started["trial_end"] == "2027-04-04T00:00:00Z"


@pytest.mark.parametrize("value", ["yes", 1, "true", 0])
@pytest.mark.parametrize("call", ["preview", "put"])
def test_a_trial_that_is_not_a_json_boolean_is_refused(value, call, api, two):
    porch, _ = two
    body = {"cameras": {porch: "plus"}, "cycle": "monthly", "trial": value}
    before, rows = seen(api), db_state()
    response = api.post("subscription/preview", body) if call == "preview" else api.put("subscription", body)
    error = assert_error(response, 422, "invalid_request", account=api.account)
    assert "trial" in error["message"]
    assert seen(api) == before
    unchanged_since(rows)
    start_trial(api, [porch])  # the refusal used nothing up


# ---------------------------------------------------------------- 3. the outsider


def test_the_outsiders_cameras_in_a_trial_body_are_unknown(api, outsider_api, two):
    porch, _ = two
    move(outsider_api, START)
    theirs, _ = register(outsider_api, "Shed")
    before, their_before, rows = seen(api), seen(outsider_api), db_state()
    for body in (trial([theirs]), trial([porch, theirs]), trial([theirs], "premium")):
        for response in (api.post("subscription/preview", body), api.put("subscription", body)):
            assert_error(response, 422, "unknown_camera", account=api.account)
    assert (seen(api), seen(outsider_api)) == (before, their_before)
    unchanged_since(rows)
    # Neither the owner's account nor the outsider's camera used a trial.
    start_trial(api, [porch])
    assert start_trial(outsider_api, [theirs])["subscription"]["cameras"] == {theirs: "plus"}


def test_the_outsider_cannot_execute_the_owners_trial_quote(api, outsider_api, two):
    porch, _ = two
    move(outsider_api, START)
    quote = ok(api.post("subscription/preview", trial([porch])))["quote"]
    rows = db_state()
    assert_error(outsider_api.put("subscription", {"quote": quote, "trial": True}), 409, "quote_stale",
                 account=outsider_api.account)
    assert_error(outsider_api.put("subscription", trial([porch], quote=quote)), 422, "unknown_camera",
                 account=outsider_api.account)
    unchanged_since(rows)
    assert ok(api.put("subscription", trial([porch], quote=quote)))["trial_end"] == TRIAL_END


def test_a_trial_needs_authentication(anon_api, api, two):
    porch, _ = two
    rows = db_state()
    for response in (anon_api.post("subscription/preview", trial([porch])), anon_api.put("subscription", trial([porch]))):
        assert_error(response, 401, "unauthorized")
    unchanged_since(rows)


# ---------------------------------------------------------------- 4. a trial quote whose trial went meanwhile


def test_a_trial_quote_is_stale_once_the_trial_was_used(api, two):
    porch, garden = two
    body = trial([porch, garden])
    first = ok(api.post("subscription/preview", body))["quote"]
    second = ok(api.post("subscription/preview", body))["quote"]
    ok(api.put("subscription", {**body, "quote": second}))
    before, rows = seen(api), db_state()
    for attempt in ({**body, "quote": first}, {"quote": first}, {"quote": first, "trial": True}):
        assert_error(api.put("subscription", attempt), 409, "quote_stale", account=api.account)
    assert seen(api) == before
    unchanged_since(rows)

    ok(api.post("subscription/cancel", {}))  # the trial is over: the old quote stays stale
    before, rows = seen(api), db_state()
    assert_error(api.put("subscription", {**body, "quote": first}), 409, "quote_stale", account=api.account)
    assert seen(api) == before
    unchanged_since(rows)
    assert ok(api.get("orders")) == []


def test_a_trial_quote_is_stale_once_it_was_started_without_it(api, two):
    porch, _ = two
    quote = ok(api.post("subscription/preview", trial([porch])))["quote"]
    start_trial(api, [porch])
    ok(api.post("subscription/cancel", {}))
    before, rows = seen(api), db_state()
    assert_error(api.put("subscription", trial([porch], quote=quote)), 409, "quote_stale", account=api.account)
    assert seen(api) == before
    unchanged_since(rows)


def test_a_trial_quote_is_refused_once_its_cameras_serial_had_a_trial_elsewhere(api, outsider_api, two):
    porch, garden = two
    serial = serial_of(api, porch)
    quote = ok(api.post("subscription/preview", trial([porch, garden])))["quote"]
    ok(api.delete(f"cameras/{porch}"))  # on free: the camera leaves, its serial may be registered again
    move(outsider_api, START)
    registered = outsider_api.post("cameras", {"name": "Porch", "model": "KC200", "serial": serial})
    assert registered.status_code == 201, registered.content
    start_trial(outsider_api, [registered.json()["id"]])
    before, rows = seen(api), db_state()
    response = api.put("subscription", {"quote": quote})
    assert response.status_code == 409, response.json()
    assert_error(response, 409, response.json()["code"], account=api.account)
    assert response.json()["code"] in {"quote_stale", "trial_not_available"}
    assert seen(api) == before
    unchanged_since(rows)


# ---------------------------------------------------------------- 5. a stop during the trial


def test_a_stop_during_the_trial_ends_it_without_a_bill(api, owner, two, django_capture_on_commit_callbacks):
    porch, garden = two
    start_trial(api, [porch])
    ok(api.put("payment-method", {"token": "tok_visa"}))  # with a card the end would bill: the stop must not
    move(api, "2027-03-10T00:00:00Z")
    stopped = ok(api.post("subscription/stop", {}))
    assert stopped["scheduled_change"] == STOP_AT_TRIAL_END
    assert stopped["trial_end"] == TRIAL_END
    assert (stopped["charge_now"], stopped["net"], stopped["refund"], stopped["orders"], stopped["next_bill"]) == (
        0, 0, 0, [], None)
    assert stopped["erasures"] == [{"camera": porch, "clips": 0, "recorded_before": "2027-03-29T00:00:00Z",
                                    "held": False}]  # at the stop
    summary = ok(api.get("subscription"))
    assert stopped["subscription"] == summary
    assert (summary["status"], summary["trial_end"], summary["scheduled_change"], summary["next_bill"]) == (
        "trialing", TRIAL_END, STOP_AT_TRIAL_END, None)

    move(api, "2027-03-28T00:00:00Z")
    with django_capture_on_commit_callbacks(execute=True):
        move(api, TRIAL_END)
    assert ok(api.get("orders")) == []
    summary = ok(api.get("subscription"))
    assert (summary["status"], summary["trial_end"], summary["scheduled_change"], summary["next_bill"]) == (
        "none", None, None, None)
    assert summary["cameras"] == {porch: "free", garden: "free"}
    # Section 15: the stop's reminder, and no "your trial will be charged" reminder.
    assert Notice.objects.filter(account=owner, kind="stop_reminder").count() == 1
    assert not Notice.objects.filter(account=owner, kind="trial_ending").exists()
    assert_consistent()


def test_a_stop_during_the_trial_erases_at_its_end_and_holds_nothing(api, two, django_capture_on_commit_callbacks):
    porch, _ = two
    device = api.post("cameras", {"name": "Drive", "model": "KC200", "serial": "SN-DRIVE-1"}).json()
    start_trial(api, [device["id"]])
    move(api, "2027-03-25T00:00:00Z")
    old = upload(Client(), device["device_token"], recorded_at="2027-03-20T00:00:00Z")
    assert old.status_code == 201, old.content
    ok(api.post("subscription/stop", {}))
    with django_capture_on_commit_callbacks(execute=True):
        move(api, TRIAL_END)
    cameras = {camera["id"]: camera for camera in ok(api.get("cameras"))}
    assert (cameras[device["id"]]["plan"], cameras[device["id"]]["held"]) == ("free", None)  # erased, not held
    assert ok(api.get(f"cameras/{device['id']}/clips")) == []
    assert_error(api.get(f"clips/{old.json()['id']}/video"), 404, "not_found", account=api.account)


def test_a_stop_during_the_trial_can_be_undone_and_the_end_bills(api, two):
    porch, _ = two
    start_trial(api, [porch])
    ok(api.put("payment-method", {"token": "tok_visa"}))
    ok(api.post("subscription/stop", {}))
    dropped = ok(api.delete("subscription/scheduled-change"))
    assert (dropped["status"], dropped["scheduled_change"], dropped["trial_end"]) == ("trialing", None, TRIAL_END)
    assert dropped["next_bill"] == {"at": TRIAL_END, "amount": 399}
    move(api, TRIAL_END)
    assert [(o["kind"], o["amount"], o["created_at"]) for o in ok(api.get("orders"))] == [("charge", 399, TRIAL_END)]
    assert ok(api.get("subscription"))["status"] == "active"


# ---------------------------------------------------------------- 6. the trial ends with no card


def test_a_trial_ending_without_a_card_moves_to_free_and_holds(api, owner, two, django_capture_on_commit_callbacks):
    porch, garden = two
    drive = api.post("cameras", {"name": "Drive", "model": "KC200", "serial": "SN-DRIVE-2"}).json()
    camera = drive["id"]
    start_trial(api, [camera, porch])
    move(api, "2027-03-30T12:00:00Z")
    old = upload(Client(), drive["device_token"], recorded_at="2027-03-20T00:00:00Z")  # 11 days old at the end
    recent = upload(Client(), drive["device_token"], recorded_at="2027-03-30T00:00:00Z")  # inside free's 2 days
    assert (old.status_code, recent.status_code) == (201, 201), (old.content, recent.content)
    with django_capture_on_commit_callbacks(execute=True):
        move(api, TRIAL_END)

    assert ok(api.get("orders")) == []
    summary = ok(api.get("subscription"))
    assert (summary["status"], summary["cycle"], summary["trial_end"], summary["next_bill"]) == (
        "none", None, None, None)
    assert (summary["current_period_start"], summary["current_period_end"]) == (None, None)
    assert summary["cameras"] == {camera: "free", porch: "free", garden: "free"}
    cameras = {c["id"]: c for c in ok(api.get("cameras"))}
    assert {c: (cameras[c]["plan"], cameras[c]["history_days"]) for c in cameras} == dict.fromkeys(
        (camera, porch, garden), ("free", 2))
    assert cameras[camera]["held"] == {"clips": 1, "until": "2027-04-14T00:00:00Z"}  # 14 days from the end
    assert cameras[porch]["held"] is None and cameras[garden]["held"] is None
    assert [c["id"] for c in ok(api.get(f"cameras/{camera}/clips"))] == [recent.json()["id"]]
    assert_error(api.get(f"clips/{old.json()['id']}/video"), 404, "not_found", account=owner)
    assert Notice.objects.filter(account=owner, kind="trial_ended").count() == 1

    # Saving a card afterwards charges nothing; a new subscription pays, with no second trial.
    move(api, "2027-04-02T00:00:00Z")
    ok(api.put("payment-method", {"token": "tok_visa"}))
    assert ok(api.get("orders")) == []
    assert_trial_refused(api, trial([camera]))
    with django_capture_on_commit_callbacks(execute=True):
        paid = ok(api.put("subscription", {"cameras": {camera: "plus"}}))
    assert ([(o["kind"], o["amount"]) for o in paid["orders"]], paid["trial_end"]) == ([("charge", 399)], None)
    cameras = {c["id"]: c for c in ok(api.get("cameras"))}
    assert cameras[camera]["held"] is None  # within the hold and inside plus's 14 days: back
    # (the recent clip aged out of free's 2 days on the way to Apr 2: the sweep erased it)
    assert [c["id"] for c in ok(api.get(f"cameras/{camera}/clips"))] == [old.json()["id"]]
    assert api.get(f"clips/{old.json()['id']}/video").status_code == 200
    assert_consistent()


# ---------------------------------------------------------------- the test clock and section 15


@pytest.mark.parametrize("stop", [False, True], ids=["trial_ending", "stop_reminder"])
def test_one_clock_move_over_the_trials_end_still_sends_its_reminder(stop, api, owner, two):
    porch, _ = two
    start_trial(api, [porch])
    ok(api.put("payment-method", {"token": "tok_visa"}))
    if stop:
        ok(api.post("subscription/stop", {}))
    move(api, "2027-03-20T00:00:00Z")
    move(api, TRIAL_END)
    kind = "stop_reminder" if stop else "trial_ending"
    assert Notice.objects.filter(account=owner, kind=kind).count() == 1
