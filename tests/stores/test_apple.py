"""App Store Server Notifications V2, signed with a chain made in the test and verified by
Apple's own SignedDataVerifier (online checks off): each notification type, duplicates,
order, and every payload that must not verify."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest

from camcare.billing import actions, selectors
from camcare.billing.errors import BillingRefusal
from camcare.billing.models import Subscription, SubscriptionLine
from camcare.cameras.models import Camera, Clip
from camcare.stores.linking import apple_account_token
from camcare.stores.models import (
    Outcome,
    PurchaseStatus,
    Role,
    StoreNotification,
    StorePurchase,
    StoreTransaction,
)
from tests.billing.conftest import add_clip
from tests.conftest import set_clock, utc
from tests.stores.apple_signing import AppleChain, ApplePurchase, ms
from tests.stores.conftest import APPLE_URL, MARCH_1, billing_state, no_money_moved, post_json

APRIL_1, MAY_1 = utc(2027, 4, 1), utc(2027, 5, 1)
PLUS, PREMIUM = "com.camcare.app.plus.monthly", "com.camcare.app.premium.monthly"


def send(purchase: ApplePurchase, kind: str, subtype: str | None = None, *, start=MARCH_1, end=APRIL_1, signed=None,
         product: str | None = None, revoked=None, auto_renew: bool = True, renews_as: str | None = None,
         grace_until=None, notification_id: str | None = None):
    signed = signed or start
    transaction = purchase.transaction(start=start, end=end, signed=signed, product_id=product, revoked=revoked)
    renewal = purchase.renewal(signed=signed, auto_renew=auto_renew, renews_as=renews_as or product, grace_until=grace_until,
                               retrying=kind == "DID_FAIL_TO_RENEW")
    body = purchase.notification(kind, subtype=subtype, signed=signed, transaction=transaction, renewal=renewal,
                                 notification_id=notification_id)
    return post_json(APPLE_URL, body)


def ok(response, outcome: str = "applied") -> dict:
    assert response.status_code == 200, response.content
    assert response.json()["outcome"] == outcome
    return response.json()


def subscription(owner) -> Subscription:
    return Subscription.objects.get(account=owner)


def plans(owner) -> list[str]:
    return list(Camera.objects.filter(account=owner).values_list("plan", flat=True))


def test_it_applies_a_subscription_bought_in_the_app(owner, cams, iphone):
    ok(send(iphone, "SUBSCRIBED", "INITIAL_BUY"))
    sub = subscription(owner)
    assert (sub.channel, sub.store, sub.status, sub.cycle) == ("app_store", "apple", "active", "monthly")
    assert (sub.period_start, sub.period_end) == (MARCH_1, APRIL_1)
    assert plans(owner) == ["plus", "free"]  # Plus covers one camera: the oldest
    assert list(SubscriptionLine.objects.filter(ended_at__isnull=True).values_list("plan", "camera_key", "paid")) == [
        ("plus", cams[0].id, 0)]
    assert no_money_moved()
    purchase = StorePurchase.objects.get()
    assert (purchase.account, purchase.role, purchase.status, purchase.auto_renews) == (owner, Role.HOLDS, "active", True)
    assert StoreTransaction.objects.get().transaction_id == f"{iphone.original_transaction_id}001"
    notification = StoreNotification.objects.get()
    assert (notification.verified, notification.kind, notification.subtype, notification.outcome) == (
        True, "SUBSCRIBED", "INITIAL_BUY", Outcome.APPLIED)


def test_it_refuses_web_changes_of_the_store_subscription_with_the_stores_steps(owner, cams, iphone, api):
    ok(send(iphone, "SUBSCRIBED", "INITIAL_BUY"))
    response = api.post("subscription/cancel", {})
    assert response.status_code == 409
    assert (response.json()["code"], response.json()["store"]) == ("managed_in_app_store", "apple")
    assert len(response.json()["steps"]) == 3
    with pytest.raises(BillingRefusal):
        actions.change_plan(account=owner, cameras={cams[1].id: "plus"}, actor=owner)


def test_it_applies_the_same_notification_once(owner, cams, iphone):
    body_id = "0f0c2a6e-1111-4c3b-9f8a-5d2f6e7a8b9c"
    ok(send(iphone, "SUBSCRIBED", "INITIAL_BUY", notification_id=body_id))
    before = billing_state(owner)
    again = send(iphone, "SUBSCRIBED", "INITIAL_BUY", notification_id=body_id)
    ok(again, "duplicate")
    assert billing_state(owner) == before
    assert StoreNotification.objects.get().deliveries == 2


def test_it_renews_the_period_on_did_renew(owner, cams, iphone):
    ok(send(iphone, "SUBSCRIBED", "INITIAL_BUY"))
    ok(send(iphone, "DID_RENEW", start=APRIL_1, end=MAY_1))
    sub = subscription(owner)
    assert (sub.status, sub.period_start, sub.period_end) == ("active", APRIL_1, MAY_1)
    assert StoreTransaction.objects.count() == 2
    assert no_money_moved()


def test_it_never_lets_an_older_notification_overwrite_a_newer_state(owner, cams, iphone):
    ok(send(iphone, "DID_RENEW", start=APRIL_1, end=MAY_1))  # signed Apr 1, delivered first
    late = send(iphone, "SUBSCRIBED", "INITIAL_BUY", start=MARCH_1, end=APRIL_1)  # signed Mar 1
    ok(late, "stale")
    assert (subscription(owner).period_start, subscription(owner).period_end) == (APRIL_1, MAY_1)
    ok(send(iphone, "REFUND", start=APRIL_1, end=MAY_1, signed=utc(2027, 4, 10), revoked=utc(2027, 4, 10)))
    ok(send(iphone, "DID_RENEW", start=APRIL_1, end=MAY_1, signed=utc(2027, 4, 2)), "stale")
    assert StorePurchase.objects.get().status == PurchaseStatus.REFUNDED
    assert subscription(owner).status == "none"


def test_it_turns_renewal_off_and_keeps_the_plan_until_the_period_ends(owner, cams, iphone):
    ok(send(iphone, "SUBSCRIBED", "INITIAL_BUY"))
    ok(send(iphone, "DID_CHANGE_RENEWAL_STATUS", "AUTO_RENEW_DISABLED", signed=utc(2027, 3, 5), auto_renew=False))
    assert StorePurchase.objects.get().auto_renews is False
    assert (subscription(owner).status, plans(owner)) == ("active", ["plus", "free"])
    ok(send(iphone, "DID_CHANGE_RENEWAL_STATUS", "AUTO_RENEW_ENABLED", signed=utc(2027, 3, 6)))
    assert StorePurchase.objects.get().auto_renews is True


def test_it_upgrades_to_premium_at_once(owner, cams, iphone):
    ok(send(iphone, "SUBSCRIBED", "INITIAL_BUY"))
    upgraded = utc(2027, 3, 11)
    ok(send(iphone, "DID_CHANGE_RENEWAL_PREF", "UPGRADE", product=PREMIUM, start=upgraded, end=utc(2027, 4, 11)))
    assert plans(owner) == ["premium", "premium"]
    assert (subscription(owner).period_start, subscription(owner).period_end) == (upgraded, utc(2027, 4, 11))
    assert list(SubscriptionLine.objects.filter(ended_at__isnull=True).values_list("plan", "camera_key")) == [("premium", "")]


def test_it_downgrades_at_the_renewal_and_erases_what_the_shorter_windows_lose(
        owner, cams, apple_chain, django_capture_on_commit_callbacks):
    porch, garden = cams
    iphone = ApplePurchase(apple_chain, app_account_token=apple_account_token(owner.pk), product_id=PREMIUM)
    ok(send(iphone, "SUBSCRIBED", "INITIAL_BUY"))
    ok(send(iphone, "DID_CHANGE_RENEWAL_PREF", "DOWNGRADE", signed=utc(2027, 3, 20), renews_as=PLUS))
    assert plans(owner) == ["premium", "premium"]  # a downgrade waits for the renewal
    assert StorePurchase.objects.get().renewal_product_id == PLUS
    set_clock(owner, APRIL_1)
    kept = [add_clip(porch, APRIL_1 - timedelta(days=10)), add_clip(garden, APRIL_1 - timedelta(days=1))]
    add_clip(porch, APRIL_1 - timedelta(days=20))
    add_clip(garden, APRIL_1 - timedelta(days=5))
    with django_capture_on_commit_callbacks(execute=True):
        ok(send(iphone, "DID_RENEW", product=PLUS, start=APRIL_1, end=MAY_1))
    assert plans(owner) == ["plus", "free"]
    assert set(Clip.objects.values_list("pk", flat=True)) == {clip.pk for clip in kept}
    assert StorePurchase.objects.get().renewal_product_id == ""


def test_it_keeps_the_plan_through_the_stores_billing_grace(owner, cams, iphone, api):
    ok(send(iphone, "SUBSCRIBED", "INITIAL_BUY"))
    set_clock(owner, APRIL_1)
    grace_end = utc(2027, 4, 17)
    ok(send(iphone, "DID_FAIL_TO_RENEW", "GRACE_PERIOD", signed=APRIL_1, grace_until=grace_end))
    sub = subscription(owner)
    assert (sub.status, sub.next_retry_at, plans(owner)) == ("past_due", grace_end, ["plus", "free"])
    assert StorePurchase.objects.get().status == PurchaseStatus.GRACE
    assert api.post("subscription/cancel", {}).json()["code"] == "managed_in_app_store"
    ok(send(iphone, "DID_RENEW", "BILLING_RECOVERY", start=APRIL_1, end=MAY_1, signed=utc(2027, 4, 3)))
    sub = subscription(owner)
    assert (sub.status, sub.next_retry_at, sub.period_end) == ("active", None, MAY_1)


@pytest.mark.parametrize(("kind", "subtype", "held"), [
    ("DID_FAIL_TO_RENEW", None, True), ("GRACE_PERIOD_EXPIRED", None, True), ("EXPIRED", "BILLING_RETRY", True),
    ("EXPIRED", "VOLUNTARY", False), ("REFUND", None, False), ("REVOKE", None, False)])
def test_it_moves_the_cameras_to_free_and_erases_or_holds_outside_the_free_window_when_the_entitlement_ends(
        kind, subtype, held, owner, cams, iphone, django_capture_on_commit_callbacks):
    """A failed payment (the store's retries ran out) holds the older clips for 14 days
    (POLICY.md section 6); the owner's own ending (a cancel, a refund) erases them."""
    porch, _ = cams
    ok(send(iphone, "SUBSCRIBED", "INITIAL_BUY"))
    set_clock(owner, utc(2027, 3, 20))
    recent = add_clip(porch, utc(2027, 3, 19))
    older = add_clip(porch, utc(2027, 3, 10))
    revoked = utc(2027, 3, 20) if kind in ("REFUND", "REVOKE") else None
    with django_capture_on_commit_callbacks(execute=True):
        ok(send(iphone, kind, subtype, signed=utc(2027, 3, 20), revoked=revoked))
    assert plans(owner) == ["free", "free"]
    sub = subscription(owner)
    assert (sub.status, sub.channel, sub.store) == ("none", "web", "")
    assert not SubscriptionLine.objects.filter(ended_at__isnull=True).exists()
    assert list(Clip.objects.visible().values_list("pk", flat=True)) == [recent.pk]
    if held:
        assert Clip.objects.get(pk=older.pk).held_until == utc(2027, 4, 3)
    else:
        assert not Clip.objects.filter(pk=older.pk).exists()
    assert StorePurchase.objects.get().role == Role.ENDED
    assert no_money_moved()


def test_it_records_the_refunded_transaction(owner, cams, iphone):
    ok(send(iphone, "SUBSCRIBED", "INITIAL_BUY"))
    ok(send(iphone, "REFUND", signed=utc(2027, 3, 5), revoked=utc(2027, 3, 5)))
    assert StorePurchase.objects.get().status == PurchaseStatus.REFUNDED
    assert StoreTransaction.objects.filter(revoked_at=utc(2027, 3, 5)).count() == 1
    assert selectors.subscription_summary(owner)["status"] == "none"


def test_it_lets_the_owner_subscribe_on_the_web_after_the_store_subscription_ended(owner, cams, iphone, card):
    ok(send(iphone, "SUBSCRIBED", "INITIAL_BUY"))
    ok(send(iphone, "EXPIRED", "VOLUNTARY", signed=APRIL_1))
    set_clock(owner, APRIL_1)
    result = actions.change_plan(account=owner, cameras={cams[1].id: "plus"}, actor=owner)
    assert result.charge_now == 399
    assert subscription(owner).channel == "web"


def test_it_keeps_a_purchase_that_names_no_known_account_and_applies_it_to_none(owner, cams, apple_chain):
    before = billing_state(owner)
    stranger = ApplePurchase(apple_chain, app_account_token=apple_account_token("acc_0000000000000000"))
    ok(send(stranger, "SUBSCRIBED", "INITIAL_BUY"), "unlinked")
    nameless = ApplePurchase(apple_chain, app_account_token=None)
    ok(send(nameless, "SUBSCRIBED", "INITIAL_BUY"), "unlinked")
    assert billing_state(owner)[:4] == before[:4]
    assert list(StorePurchase.objects.values_list("account", "role")) == [(None, Role.UNLINKED)] * 2
    assert not Subscription.objects.filter(channel="app_store").exists()


def test_it_records_a_notification_it_does_not_act_on(owner, cams, iphone):
    body = iphone.notification("TEST", signed=MARCH_1, transaction=None)
    ok(post_json(APPLE_URL, body), "ignored")
    assert StoreNotification.objects.get().kind == "TEST"
    assert not StorePurchase.objects.exists()


# ------------------------------------------------------------------ what must not verify


def _tampered(body: dict) -> dict:
    """The payload changed (a SUBSCRIBED made a REFUND), the signature kept."""
    header, payload, signature = body["signedPayload"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["notificationType"] = "REFUND"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return {"signedPayload": f"{header}.{forged}.{signature}"}


def _bodies(iphone: ApplePurchase, apple_chain) -> dict:
    def notification(**kwargs):
        transaction = iphone.transaction(start=MARCH_1, end=APRIL_1, signed=MARCH_1)
        return iphone.notification("SUBSCRIBED", subtype="INITIAL_BUY", signed=MARCH_1, transaction=transaction,
                                   **kwargs)

    other_root = AppleChain()
    no_markers = AppleChain(root_key=apple_chain.root_key, markers=False)
    wrong_bundle = ApplePurchase(apple_chain, iphone.app_account_token, bundle_id="com.example.other")
    production = ApplePurchase(apple_chain, iphone.app_account_token, environment="Production")
    # A genuine envelope around a transaction signed by a chain that is not Apple's.
    envelope = {"signedPayload": apple_chain.sign({
        "notificationType": "SUBSCRIBED", "subtype": "INITIAL_BUY", "notificationUUID": "9d1c1b1e-0000-4000-8000-000000000001",
        "version": "2.0", "signedDate": ms(MARCH_1),
        "data": {"bundleId": iphone.bundle_id, "environment": "Sandbox", "appAppleId": 1234567890,
                 "signedTransactionInfo": other_root.sign(iphone.transaction(start=MARCH_1, end=APRIL_1, signed=MARCH_1))},
    })}
    return {
        "tampered": _tampered(notification()),
        "signed under another root": notification(chain=other_root),
        "a chain without Apple's markers": notification(chain=no_markers),
        "another app's bundle": wrong_bundle.notification(
            "SUBSCRIBED", signed=MARCH_1, transaction=wrong_bundle.transaction(start=MARCH_1, end=APRIL_1, signed=MARCH_1)),
        "the other environment": production.notification(
            "SUBSCRIBED", signed=MARCH_1, transaction=production.transaction(start=MARCH_1, end=APRIL_1, signed=MARCH_1)),
        "a transaction signed by another chain": envelope,
        "not a JWS at all": {"signedPayload": "hello"},
        "no signature": {"signedPayload": notification()["signedPayload"].rsplit(".", 1)[0] + "."},
    }


# What Apple's verifier says of each (VerificationStatus names).
REASONS = {
    "tampered": "VERIFICATION_FAILURE", "signed under another root": "VERIFICATION_FAILURE",
    "a chain without Apple's markers": "VERIFICATION_FAILURE", "another app's bundle": "INVALID_APP_IDENTIFIER",
    "the other environment": "INVALID_ENVIRONMENT", "a transaction signed by another chain": "VERIFICATION_FAILURE",
    "not a JWS at all": "VERIFICATION_FAILURE", "no signature": "VERIFICATION_FAILURE",
}
CASES = sorted(REASONS)


@pytest.mark.parametrize("case", CASES)
def test_it_answers_400_and_changes_nothing_for_a_payload_that_does_not_verify(case, owner, cams, iphone, apple_chain):
    before = billing_state(owner)
    response = post_json(APPLE_URL, _bodies(iphone, apple_chain)[case])
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid_signed_payload" and body["reference"].startswith("ERR-")
    assert billing_state(owner) == before
    rejected = StoreNotification.objects.get()
    assert (rejected.verified, rejected.outcome, rejected.message_id) == (False, Outcome.REJECTED, None)
    assert rejected.verification == REASONS[case]
    assert REASONS[case] in body["message"]


def test_it_refuses_a_payload_of_the_other_environment_in_production(owner, cams, iphone, settings):
    settings.STORES_APPLE_ENVIRONMENT = "Production"
    response = send(iphone, "SUBSCRIBED", "INITIAL_BUY")  # iphone's purchases are Sandbox ones
    assert (response.status_code, response.json()["code"]) == (400, "invalid_signed_payload")
    assert "INVALID_ENVIRONMENT" in response.json()["message"]
    assert not Subscription.objects.filter(channel="app_store").exists()


def test_it_verifies_nothing_without_a_configured_root(owner, cams, iphone, settings):
    settings.STORES_APPLE_ROOT_CERTIFICATES = []
    response = send(iphone, "SUBSCRIBED", "INITIAL_BUY")
    assert response.status_code == 400
    assert not StorePurchase.objects.exists()


def test_it_answers_422_for_a_body_without_a_signed_payload(db):
    response = post_json(APPLE_URL, {"signed": "x"})
    assert (response.status_code, response.json()["code"]) == (422, "invalid_request")


def test_it_answers_503_and_writes_nothing_while_a_web_payment_holds_the_account(owner, cams, iphone):
    Subscription.objects.create(account=owner, claimed_by="ORD-INFLIGHT00")
    body_id = "5b0a6f7e-2222-4c3b-9f8a-5d2f6e7a8b9c"
    busy = send(iphone, "SUBSCRIBED", "INITIAL_BUY", notification_id=body_id)
    assert (busy.status_code, busy.json()["code"], busy["Retry-After"]) == (503, "store_sync_unavailable", "60")
    assert not StoreNotification.objects.exists() and not StorePurchase.objects.exists()
    Subscription.objects.filter(account=owner).update(claimed_by="")
    ok(send(iphone, "SUBSCRIBED", "INITIAL_BUY", notification_id=body_id))  # Apple's retry
    assert plans(owner) == ["plus", "free"]


def test_it_keeps_a_purchase_on_the_first_account_it_named(owner, outsider, cams, iphone):
    ok(send(iphone, "SUBSCRIBED", "INITIAL_BUY"))
    iphone.app_account_token = apple_account_token(outsider.pk)
    ok(send(iphone, "DID_RENEW", start=APRIL_1, end=MAY_1))
    purchase = StorePurchase.objects.get()
    assert (purchase.account, purchase.account_token) == (owner, apple_account_token(outsider.pk))
    assert not Subscription.objects.filter(account=outsider, channel="app_store").exists()
