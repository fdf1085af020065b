"""Google Play Real-time Developer Notifications pushed by Pub/Sub: the push's OIDC token
checked by google-auth against a key made in the test (its certificate fetched from a
local server), the purchase's state fetched through the Play API's fake transport."""

from __future__ import annotations

import pytest

from camcare.billing.models import Subscription
from camcare.cameras.models import Camera
from camcare.stores.models import (
    Outcome,
    PurchaseStatus,
    Role,
    StoreNotification,
    StorePurchase,
    StoreTransaction,
)
from tests.conftest import set_clock, utc
from tests.stores.conftest import GOOGLE_URL, MARCH_1, billing_state, no_money_moved, post_json
from tests.stores.google_signing import (
    AUDIENCE,
    FakePlay,
    GoogleSigner,
    purchase_v2,
    push,
    subscription_notification,
)

APRIL_1 = utc(2027, 4, 1)
PURCHASED, RENEWED, CANCELED, ON_HOLD, IN_GRACE, REVOKED, EXPIRED = 4, 2, 3, 5, 6, 12, 13
ACK = "/androidpublisher/v3/applications/com.camcare.app/purchases/subscriptions/{product}/tokens/{token}:acknowledge"


def deliver(signer: GoogleSigner, body: dict, **claims):
    return post_json(GOOGLE_URL, body, headers={"Authorization": f"Bearer {signer.token(**claims)}"})


def notify(signer, token: str, kind: int, *, at=MARCH_1, message_id: str | None = None, product: str = "camcare_plus"):
    return deliver(signer, push(subscription_notification(token, kind, at=at, product=product), message_id=message_id))


def ok(response, outcome: str = "applied") -> dict:
    assert response.status_code == 200, response.content
    assert response.json()["outcome"] == outcome
    return response.json()


def plans(owner) -> list[str]:
    return list(Camera.objects.filter(account=owner).values_list("plan", flat=True))


def test_it_applies_a_purchase_and_acknowledges_it(owner, cams, google_signer):
    FakePlay.purchases["tok-1"] = purchase_v2(state="SUBSCRIPTION_STATE_ACTIVE", expiry=APRIL_1, account_token=owner.pk)
    ok(notify(google_signer, "tok-1", PURCHASED))
    sub = Subscription.objects.get(account=owner)
    assert (sub.channel, sub.store, sub.status, sub.cycle, sub.period_start, sub.period_end) == (
        "app_store", "google", "active", "monthly", MARCH_1, APRIL_1)
    assert plans(owner) == ["plus", "free"]
    assert no_money_moved()
    purchase = StorePurchase.objects.get()
    assert (purchase.purchase_id, purchase.role, purchase.environment) == ("tok-1", Role.HOLDS, "test")
    assert StoreTransaction.objects.get().transaction_id == "GPA.3372-4150-9088-12345"
    assert FakePlay.calls == [
        ("GET", "/androidpublisher/v3/applications/com.camcare.app/purchases/subscriptionsv2/tokens/tok-1"),
        ("POST", ACK.format(product="camcare_plus", token="tok-1")),
    ]
    notification = StoreNotification.objects.get()
    assert (notification.verified, notification.kind, notification.outcome) == (True, "SUBSCRIPTION_PURCHASED", "applied")


def test_it_applies_the_same_push_once(owner, cams, google_signer):
    FakePlay.purchases["tok-1"] = purchase_v2(state="SUBSCRIPTION_STATE_ACTIVE", expiry=APRIL_1, account_token=owner.pk,
                                              acknowledged=True)
    ok(notify(google_signer, "tok-1", PURCHASED, message_id="m-1"))
    before = billing_state(owner)
    ok(notify(google_signer, "tok-1", PURCHASED, message_id="m-1"), "duplicate")
    assert billing_state(owner) == before
    assert len(FakePlay.calls) == 1  # the Play API is not asked again either
    assert StoreNotification.objects.get().deliveries == 2


def test_it_never_lets_an_older_notification_overwrite_a_newer_state(owner, cams, google_signer):
    FakePlay.purchases["tok-1"] = purchase_v2(state="SUBSCRIPTION_STATE_EXPIRED", expiry=APRIL_1, account_token=owner.pk,
                                              acknowledged=True)
    ok(notify(google_signer, "tok-1", EXPIRED, at=APRIL_1))
    FakePlay.purchases["tok-1"] = purchase_v2(state="SUBSCRIPTION_STATE_ACTIVE", expiry=APRIL_1, account_token=owner.pk,
                                              acknowledged=True)  # as a lagging replica might answer
    ok(notify(google_signer, "tok-1", PURCHASED, at=MARCH_1), "stale")
    assert StorePurchase.objects.get().status == PurchaseStatus.EXPIRED
    assert plans(owner) == ["free", "free"]


def test_it_keeps_the_plan_until_the_expiry_of_a_cancelled_subscription(owner, cams, google_signer):
    FakePlay.purchases["tok-1"] = purchase_v2(state="SUBSCRIPTION_STATE_CANCELED", expiry=APRIL_1,
                                              account_token=owner.pk, auto_renew=False, acknowledged=True)
    ok(notify(google_signer, "tok-1", CANCELED))
    assert (StorePurchase.objects.get().auto_renews, plans(owner)) == (False, ["plus", "free"])


def test_it_keeps_the_plan_through_the_grace_period_and_ends_it_on_hold(owner, cams, google_signer):
    set_clock(owner, APRIL_1)
    grace_end = utc(2027, 4, 8)
    FakePlay.purchases["tok-1"] = purchase_v2(state="SUBSCRIPTION_STATE_IN_GRACE_PERIOD", expiry=grace_end,
                                              account_token=owner.pk, acknowledged=True)
    ok(notify(google_signer, "tok-1", IN_GRACE, at=APRIL_1))
    sub = Subscription.objects.get(account=owner)
    assert (sub.status, sub.next_retry_at, plans(owner)) == ("past_due", grace_end, ["plus", "free"])
    FakePlay.purchases["tok-1"] = purchase_v2(state="SUBSCRIPTION_STATE_ON_HOLD", expiry=grace_end,
                                              account_token=owner.pk, acknowledged=True)
    ok(notify(google_signer, "tok-1", ON_HOLD, at=grace_end))
    assert (Subscription.objects.get(account=owner).status, plans(owner)) == ("none", ["free", "free"])


@pytest.mark.parametrize("how", ["revoked", "voided"])
def test_it_ends_the_entitlement_of_a_revoked_or_refunded_purchase(how, owner, cams, google_signer):
    FakePlay.purchases["tok-1"] = purchase_v2(state="SUBSCRIPTION_STATE_ACTIVE", expiry=APRIL_1, account_token=owner.pk,
                                              acknowledged=True)
    ok(notify(google_signer, "tok-1", PURCHASED))
    FakePlay.purchases["tok-1"] = purchase_v2(state="SUBSCRIPTION_STATE_EXPIRED", expiry=utc(2027, 3, 5),
                                              account_token=owner.pk, acknowledged=True)
    if how == "revoked":
        ok(notify(google_signer, "tok-1", REVOKED, at=utc(2027, 3, 5)))
    else:
        voided = {"version": "1.0", "packageName": "com.camcare.app", "eventTimeMillis": str(int(utc(2027, 3, 5).timestamp() * 1000)),
                  "voidedPurchaseNotification": {"purchaseToken": "tok-1", "orderId": "GPA.3372-4150-9088-12345",
                                                 "productType": 1, "refundType": 1}}
        ok(deliver(google_signer, push(voided)))
    assert StorePurchase.objects.get().status == (PurchaseStatus.REVOKED if how == "revoked" else PurchaseStatus.REFUNDED)
    assert (Subscription.objects.get(account=owner).status, plans(owner)) == ("none", ["free", "free"])


def test_it_moves_the_entitlement_to_the_new_token_of_a_plan_change(owner, cams, google_signer):
    FakePlay.purchases["tok-1"] = purchase_v2(state="SUBSCRIPTION_STATE_ACTIVE", expiry=APRIL_1, account_token=owner.pk,
                                              acknowledged=True)
    ok(notify(google_signer, "tok-1", PURCHASED))
    FakePlay.purchases["tok-2"] = purchase_v2(state="SUBSCRIPTION_STATE_ACTIVE", expiry=utc(2027, 4, 10),
                                              account_token=owner.pk, product="camcare_premium", linked="tok-1",
                                              order_id="GPA.1111-2222-3333-44444", acknowledged=True)
    ok(notify(google_signer, "tok-2", PURCHASED, at=utc(2027, 3, 10), product="camcare_premium"))
    assert plans(owner) == ["premium", "premium"]
    old, new = StorePurchase.objects.order_by("pk")
    assert (old.status, old.replaced_by, new.role) == (PurchaseStatus.REPLACED, new, Role.HOLDS)


def test_it_keeps_a_purchase_without_a_known_account_and_does_not_acknowledge_it(owner, cams, google_signer):
    before = billing_state(owner)
    FakePlay.purchases["tok-x"] = purchase_v2(state="SUBSCRIPTION_STATE_ACTIVE", expiry=APRIL_1,
                                              account_token="acc_zzzzzzzzzzzzzzzz")
    ok(notify(google_signer, "tok-x", PURCHASED), "unlinked")
    FakePlay.purchases["tok-y"] = purchase_v2(state="SUBSCRIPTION_STATE_ACTIVE", expiry=APRIL_1, account_token=None)
    ok(notify(google_signer, "tok-y", PURCHASED), "unlinked")
    assert billing_state(owner)[:4] == before[:4]
    assert [method for method, _ in FakePlay.calls] == ["GET", "GET"]
    assert set(StorePurchase.objects.values_list("role", flat=True)) == {Role.UNLINKED}


def test_it_records_a_test_notification_and_another_apps_without_asking_the_play_api(db, google_signer):
    ok(deliver(google_signer, push({"version": "1.0", "packageName": "com.camcare.app", "eventTimeMillis": "1",
                                    "testNotification": {"version": "1.0"}})), "ignored")
    other = subscription_notification("tok-1", PURCHASED, at=MARCH_1)
    other["packageName"] = "com.example.other"
    ok(deliver(google_signer, push(other)), "ignored")
    assert FakePlay.calls == []
    assert list(StoreNotification.objects.values_list("outcome", flat=True)) == [Outcome.IGNORED] * 2


def test_it_answers_503_and_records_nothing_while_the_play_api_is_down(owner, cams, google_signer):
    FakePlay.purchases["tok-1"] = purchase_v2(state="SUBSCRIPTION_STATE_ACTIVE", expiry=APRIL_1, account_token=owner.pk)
    FakePlay.status = 503
    response = notify(google_signer, "tok-1", PURCHASED, message_id="m-1")
    assert (response.status_code, response.json()["code"], response["Retry-After"]) == (503, "store_sync_unavailable", "60")
    assert not StoreNotification.objects.exists() and not StorePurchase.objects.exists()
    FakePlay.status = 200
    ok(notify(google_signer, "tok-1", PURCHASED, message_id="m-1"))  # Pub/Sub's redelivery
    assert plans(owner) == ["plus", "free"]


def test_it_answers_422_for_a_verified_push_that_is_no_notification(db, google_signer):
    response = deliver(google_signer, {"message": {"messageId": "m-1", "data": "not base64!"}})
    assert (response.status_code, response.json()["code"]) == (422, "invalid_notification")
    response = post_json(GOOGLE_URL, "[", headers={"Authorization": f"Bearer {google_signer.token()}"})
    assert response.status_code == 422  # a JSON string, not a push


# ------------------------------------------------------------------ tokens that must not verify

OTHER_KEY = GoogleSigner()
BAD_TOKENS = {
    "no token": lambda signer: None,
    "not a JWT": lambda signer: "Bearer not-a-jwt",
    "another scheme": lambda signer: f"Basic {signer.token()}",
    "signed by another key": lambda signer: f"Bearer {GoogleSigner(key=OTHER_KEY.key, key_id=signer.key_id).token()}",
    "an unknown key id": lambda signer: f"Bearer {OTHER_KEY.token()}",
    "another audience": lambda signer: f"Bearer {signer.token(aud='https://elsewhere.example/push')}",
    "another issuer": lambda signer: f"Bearer {signer.token(iss='https://evil.example')}",
    "another service account": lambda signer: f"Bearer {signer.token(email='someone@example.com')}",
    "an unverified e-mail": lambda signer: f"Bearer {signer.token(email_verified=False)}",
    "expired": lambda signer: f"Bearer {signer.token(iat=1_600_000_000, exp=1_600_003_600)}",
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_it_answers_401_and_changes_nothing_for_a_token_that_does_not_verify(case, owner, cams, google_signer):
    FakePlay.purchases["tok-1"] = purchase_v2(state="SUBSCRIPTION_STATE_ACTIVE", expiry=APRIL_1, account_token=owner.pk)
    before = billing_state(owner)
    authorization = BAD_TOKENS[case](google_signer)
    headers = {"Authorization": authorization} if authorization else {}
    response = post_json(GOOGLE_URL, push(subscription_notification("tok-1", PURCHASED, at=MARCH_1)), headers=headers)
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "unauthorized" and response.json()["reference"].startswith("ERR-")
    assert billing_state(owner) == before
    assert FakePlay.calls == []
    rejected = StoreNotification.objects.get()
    assert (rejected.store, rejected.verified, rejected.outcome) == ("google", False, Outcome.REJECTED)


def test_it_refuses_every_push_when_no_service_account_is_configured(owner, cams, google_signer, settings):
    settings.STORES_GOOGLE_PUSH_SERVICE_ACCOUNT = ""
    assert notify(google_signer, "tok-1", PURCHASED).status_code == 401


def test_it_checks_the_audience_it_is_configured_with(owner, cams, google_signer, settings):
    assert settings.STORES_GOOGLE_PUSH_AUDIENCE == AUDIENCE
    settings.STORES_GOOGLE_PUSH_AUDIENCE = "https://camcare.example/other"
    assert notify(google_signer, "tok-1", PURCHASED).status_code == 401
