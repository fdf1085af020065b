"""What a store purchase entitles: which cameras, beside a web subscription, and the end
that no store announced (camcare.billing.actions.store_entitlements and the sync job)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command

from camcare.billing import actions
from camcare.billing.actions.store_entitlements import (
    RENEWAL_LEEWAY,
    Applied,
    StoreEntitlement,
    StoreSyncBusy,
    apply_store_entitlement,
    expire_store_subscriptions,
)
from camcare.billing.models import Subscription
from camcare.cameras.models import Camera, Clip
from camcare.domain.periods import Cycle
from camcare.stores.entitlements import reconcile
from camcare.stores.linking import apple_account_token
from camcare.stores.models import Role, StorePurchase
from tests.billing.conftest import add_camera, add_clip
from tests.conftest import set_clock, utc
from tests.stores.apple_signing import ApplePurchase
from tests.stores.conftest import MARCH_1, no_money_moved
from tests.stores.test_apple import APRIL_1, PREMIUM, ok, send

PLUS_MONTHLY = StoreEntitlement(store="apple", plan="plus", cycle=Cycle.MONTHLY, quantity=1,
                                period_start=MARCH_1, period_end=APRIL_1, reference="apple:1")


def plans(owner) -> list[str]:
    return list(Camera.objects.filter(account=owner).values_list("plan", flat=True))


def test_it_covers_the_oldest_cameras_one_per_purchased_plus_line(owner, cams, apple_chain):
    add_camera(owner, "Attic")
    two = ApplePurchase(apple_chain, app_account_token=apple_account_token(owner.pk), quantity=2)
    ok(send(two, "SUBSCRIBED", "INITIAL_BUY"))
    assert plans(owner) == ["plus", "plus", "free"]


def test_it_covers_every_camera_up_to_premiums_maximum(owner, cams):
    for index in range(10):
        add_camera(owner, f"Extra {index}")
    premium = StoreEntitlement(**{**PLUS_MONTHLY.__dict__, "plan": "premium"})
    assert apply_store_entitlement(account=owner, entitlement=premium, at=MARCH_1) is Applied.APPLIED
    assert plans(owner) == ["premium"] * 10 + ["free", "free"]


def test_it_keeps_the_covered_camera_covered_on_every_sync(owner, cams):
    porch, garden = cams
    Camera.objects.filter(pk=garden.pk).update(plan="plus")  # e.g. it replaced a covered camera
    Subscription.objects.create(account=owner, channel="app_store", store="apple", status="active",
                                period_start=MARCH_1, period_end=APRIL_1, anchor=MARCH_1)
    apply_store_entitlement(account=owner, entitlement=PLUS_MONTHLY, at=MARCH_1)
    assert plans(owner) == ["free", "plus"]
    assert apply_store_entitlement(account=owner, entitlement=PLUS_MONTHLY, at=MARCH_1) is Applied.UNCHANGED


def test_it_picks_up_a_camera_registered_after_the_purchase_on_the_next_sync(owner, cams, apple_chain):
    premium = ApplePurchase(apple_chain, app_account_token=apple_account_token(owner.pk), product_id=PREMIUM)
    ok(send(premium, "SUBSCRIBED", "INITIAL_BUY"))
    add_camera(owner, "Attic")
    assert plans(owner) == ["premium", "premium", "free"]
    call_command("sync_store_subscriptions")
    assert plans(owner) == ["premium"] * 3


def test_it_writes_nothing_while_a_payment_holds_the_subscription(owner, cams):
    Subscription.objects.create(account=owner, claimed_by="ORD-INFLIGHT00")
    with pytest.raises(StoreSyncBusy):
        apply_store_entitlement(account=owner, entitlement=PLUS_MONTHLY, at=MARCH_1)
    assert plans(owner) == ["free", "free"]
    assert Subscription.objects.get(account=owner).status == "none"


def test_it_takes_over_an_imported_app_store_subscription(owner, cams, iphone):
    actions.import_store_subscription(account=owner, channel="app_store", store="apple", plan="plus",
                                      camera_ids=[cams[1].id], period_end=utc(2027, 3, 20))
    ok(send(iphone, "SUBSCRIBED", "INITIAL_BUY"))
    sub = Subscription.objects.get(account=owner)
    assert (sub.period_end, plans(owner)) == (APRIL_1, ["free", "plus"])  # the store's camera stays covered


# ------------------------------------------------------------------ beside a web subscription


@pytest.fixture
def web_plus(owner, cams, card):
    actions.change_plan(account=owner, cameras={cams[0].id: "plus"}, actor=owner)
    return Subscription.objects.get(account=owner)


def test_it_keeps_a_store_purchase_beside_a_paid_web_subscription_and_flags_it(owner, cams, iphone, web_plus):
    ok(send(iphone, "SUBSCRIBED", "INITIAL_BUY", product=PREMIUM))
    sub = Subscription.objects.get(account=owner)
    assert (sub.channel, sub.version) == ("web", web_plus.version)
    assert plans(owner) == ["plus", "free"]
    assert StorePurchase.objects.get().role == Role.BESIDE_WEB


def test_it_lets_the_web_one_be_cancelled_and_hands_the_account_to_the_store_one(owner, cams, iphone, web_plus):
    ok(send(iphone, "SUBSCRIBED", "INITIAL_BUY", product=PREMIUM))
    result = actions.cancel_subscription(account=owner, actor=owner)
    assert result.refund == 399
    call_command("sync_store_subscriptions")
    sub = Subscription.objects.get(account=owner)
    assert (sub.channel, sub.store, plans(owner)) == ("app_store", "apple", ["premium", "premium"])
    assert StorePurchase.objects.get().role == Role.HOLDS


def test_it_flags_a_second_store_subscription_and_leaves_the_first_in_place(owner, cams, iphone, apple_chain):
    ok(send(iphone, "SUBSCRIBED", "INITIAL_BUY"))
    second = ApplePurchase(apple_chain, app_account_token=apple_account_token(owner.pk), product_id=PREMIUM)
    ok(send(second, "SUBSCRIBED", "INITIAL_BUY", start=utc(2027, 3, 2), end=utc(2027, 4, 2)))
    first, other = StorePurchase.objects.order_by("pk")
    assert (first.role, other.role, plans(owner)) == (Role.HOLDS, Role.BESIDE_STORE, ["plus", "free"])


# ------------------------------------------------------------------ the end no store announced


def test_it_ends_a_store_subscription_whose_renewal_never_came(owner, cams, iphone, django_capture_on_commit_callbacks):
    porch, _ = cams
    ok(send(iphone, "SUBSCRIBED", "INITIAL_BUY"))
    assert expire_store_subscriptions(at=APRIL_1 + RENEWAL_LEEWAY - timedelta(seconds=1)) == 0
    assert plans(owner) == ["plus", "free"]  # a renewal's word may be late
    at = APRIL_1 + RENEWAL_LEEWAY
    set_clock(owner, at)
    kept = add_clip(porch, at - timedelta(days=1))
    add_clip(porch, at - timedelta(days=5))
    with django_capture_on_commit_callbacks(execute=True):
        assert expire_store_subscriptions(at=at) == 1
    assert (Subscription.objects.get(account=owner).status, plans(owner)) == ("none", ["free", "free"])
    assert list(Clip.objects.values_list("pk", flat=True)) == [kept.pk]
    assert expire_store_subscriptions(at=at) == 0
    reconcile(owner)
    assert StorePurchase.objects.get().role == Role.ENDED
    assert no_money_moved()


def test_it_ends_an_imported_subscription_past_its_period(owner, cams):
    actions.import_store_subscription(account=owner, channel="app_store", store="google", plan="plus",
                                      camera_ids=[cams[0].id], period_end=utc(2027, 3, 20))
    assert expire_store_subscriptions(at=utc(2027, 3, 22), account=owner) == 1
    assert Subscription.objects.get(account=owner).status == "none"


def test_it_ends_a_grace_at_its_end_and_leaves_web_subscriptions_alone(owner, outsider, cams, web_plus):
    grace = StoreEntitlement(**{**PLUS_MONTHLY.__dict__, "grace_until": utc(2027, 4, 10)})
    other_porch = add_camera(outsider, "Porch")
    apply_store_entitlement(account=outsider, entitlement=grace, at=APRIL_1)
    assert Camera.objects.get(pk=other_porch.pk).plan == "plus"
    assert expire_store_subscriptions(at=utc(2027, 4, 10) + RENEWAL_LEEWAY) == 1
    assert Camera.objects.get(pk=other_porch.pk).plan == "free"
    assert Subscription.objects.get(account=owner).status == "active"  # the web one: billed by the billing run


def test_it_ends_in_the_sync_a_purchase_past_its_service_and_an_import_past_its_period(
        owner, outsider, cams, iphone, capsys):
    ok(send(iphone, "SUBSCRIBED", "INITIAL_BUY"))  # the owner's purchase, reconciled by the sync
    theirs = add_camera(outsider, "Shed")
    actions.import_store_subscription(account=outsider, channel="app_store", store="google", plan="plus",
                                      camera_ids=[theirs.id], period_end=APRIL_1)  # no purchase: ended by expiry
    call_command("sync_store_subscriptions", "--at", "2027-04-03T00:00:00Z")
    assert "synced 1 account(s), ended 1 store subscription(s)" in capsys.readouterr().out
    assert plans(owner) == ["free", "free"] and Camera.objects.get(pk=theirs.pk).plan == "free"
    assert StorePurchase.objects.get().role == Role.ENDED
