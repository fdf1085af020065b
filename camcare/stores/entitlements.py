"""From a store's word to the account's entitlement: what apple.py and google.py share.

A verified notification is recorded once per store message id, in the same transaction as
all that it changes, so a second delivery (or a concurrent one) finds it and changes
nothing. Its purchase's state is replaced by the store's newer state only: a notification
older (by the store's own time) than the state applied is recorded as stale. Then the
account is reconciled: of its purchases that entitle anything now, the one holding the
Subscription keeps it (else the newest takes it), through the one billing action that
writes a store's billing state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.db.models import F

from camcare import clock
from camcare.accounts.models import Account
from camcare.billing.actions.store_entitlements import (
    RENEWAL_LEEWAY,
    Applied,
    StoreEntitlement,
    StoreSyncBusy,
    apply_store_entitlement,
)
from camcare.catalog import get_catalog
from camcare.domain.periods import Cycle, whole_seconds
from camcare.stores.linking import account_for_token
from camcare.stores.models import (
    ENTITLING,
    Outcome,
    PurchaseStatus,
    Role,
    StoreNotification,
    StorePurchase,
    StoreTransaction,
)

log = logging.getLogger("camcare.stores")


class NotVerified(Exception):
    """The notification's signature or token does not verify: nothing was changed."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class StoreUnavailable(Exception):
    """The store's API could not be asked (down, or not configured): nothing was changed,
    and the store is told to send the notification again."""


def instant(ms: int | None) -> datetime | None:
    """A store's milliseconds since the epoch as a stored instant (UTC, whole seconds)."""
    return whole_seconds(datetime.fromtimestamp(ms / 1000, tz=UTC)) if ms is not None else None


@dataclass(frozen=True)
class Transaction:
    transaction_id: str
    product_id: str = ""
    purchased_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class PurchaseState:
    """A purchase as its store describes it at `state_ms`."""

    store: str
    purchase_id: str
    state_ms: int  # the store's time of this state (ms): older never overwrites newer
    status: PurchaseStatus
    product_id: str
    account_token: str = ""
    base_plan: str = ""
    environment: str = ""
    quantity: int = 1
    period_start: datetime | None = None
    expires_at: datetime | None = None
    grace_until: datetime | None = None
    auto_renews: bool = False
    renewal_product_id: str = ""
    transactions: tuple[Transaction, ...] = ()
    replaces: str = ""  # Google Play: the purchase token this one takes over from


@dataclass(frozen=True)
class Received:
    """What came of a notification, for the caller's answer."""

    notification: StoreNotification
    duplicate: bool = False

    @property
    def outcome(self) -> str:
        return "duplicate" if self.duplicate else self.notification.outcome


# ---------------------------------------------------------------- recording


def record_rejected(*, store: str, reason: str, detail: dict | None = None) -> StoreNotification:
    """A notification that did not verify: kept for support with why, nothing else."""
    return StoreNotification.objects.create(
        store=store, message_id=None, received_at=clock.real_now(), verified=False, verification=reason[:200],
        outcome=Outcome.REJECTED, detail=detail or {},
    )


def already_seen(store: str, message_id: str) -> StoreNotification | None:
    """The notification with this id, if it was received before (its delivery counted)."""
    if StoreNotification.objects.filter(store=store, message_id=message_id).update(deliveries=F("deliveries") + 1):
        return StoreNotification.objects.get(store=store, message_id=message_id)
    return None


def receive(*, store: str, message_id: str, kind: str, subtype: str = "", signed_ms: int | None,
            detail: dict, state: Callable[[], PurchaseState | None]) -> Received:
    """Record a verified notification once and apply the purchase state it leads to.

    `state` is asked for the purchase's state only for a notification not seen before
    (Google's means a call to the Play API); None: nothing to apply (a test, another
    product type). StoreSyncBusy and StoreUnavailable leave nothing written."""
    seen = already_seen(store, message_id)
    if seen is not None:
        return Received(seen, duplicate=True)
    purchase_state = state()
    try:
        with transaction.atomic():
            notification = StoreNotification.objects.create(
                store=store, message_id=message_id, received_at=clock.real_now(), verified=True,
                verification="verified", kind=kind[:64], subtype=subtype[:64], signed_ms=signed_ms,
                signed_at=instant(signed_ms), outcome=Outcome.IGNORED, detail=detail,
            )
            received = Received(notification)
            if purchase_state is not None:
                _apply(received, purchase_state)
            notification.save(update_fields=["purchase", "outcome", "detail"])
    except IntegrityError as exc:
        seen = already_seen(store, message_id)
        if seen is not None:  # a concurrent delivery of the same notification won
            return Received(seen, duplicate=True)
        raise StoreSyncBusy("a concurrent notification created the same purchase") from exc
    return received


# ---------------------------------------------------------------- the purchase's state


def _purchase_fields(state: PurchaseState) -> dict:
    product = get_catalog().store_product(state.store, state.product_id, state.base_plan)
    return {
        "status": state.status, "product_id": state.product_id[:255], "base_plan": state.base_plan[:100],
        "plan": product.plan if product else "", "cycle": product.cycle.value if product else "",
        "quantity": max(1, min(state.quantity, 100)), "environment": state.environment[:16],
        "period_start": state.period_start, "expires_at": state.expires_at, "grace_until": state.grace_until,
        "auto_renews": state.auto_renews,
        "renewal_product_id": state.renewal_product_id if state.renewal_product_id != state.product_id else "",
        "state_ms": state.state_ms, "updated_at": clock.real_now(),
    }


def _apply(received: Received, state: PurchaseState) -> None:
    notification = received.notification
    now = clock.real_now()
    purchase, _ = StorePurchase.objects.get_or_create(
        store=state.store, purchase_id=state.purchase_id[:255],
        defaults={"status": state.status, "product_id": state.product_id[:255], "created_at": now, "updated_at": now},
    )
    notification.purchase = purchase
    # Conditional on the state applied: of two notifications racing, the older one loses
    # here even when it comes second (the UPDATE re-reads the row it waited for).
    if not StorePurchase.objects.filter(pk=purchase.pk, state_ms__lte=state.state_ms).update(**_purchase_fields(state)):
        notification.outcome = Outcome.STALE
        return
    purchase.refresh_from_db()
    _link(purchase, state.account_token)
    _record_transactions(purchase, state.transactions)
    if state.replaces:
        _replace(purchase, state)
    if purchase.account is None:
        purchase.role = Role.UNLINKED
        purchase.save(update_fields=["role"])
        notification.outcome = Outcome.UNLINKED
        return
    reconcile(purchase.account)
    notification.outcome = Outcome.APPLIED


def _link(purchase: StorePurchase, token: str) -> None:
    """The first account a purchase names is its account for good: a later token that
    names another one is recorded beside it, never followed."""
    fields = {}
    if token and token != purchase.account_token:
        purchase.account_token = token[:100]
        fields["account_token"] = purchase.account_token
    if purchase.account_id is None and token:
        account = account_for_token(token)
        if account is not None:
            purchase.account = account
            fields["account"] = account
    if fields:
        StorePurchase.objects.filter(pk=purchase.pk).update(**fields)


def _record_transactions(purchase: StorePurchase, transactions: tuple[Transaction, ...]) -> None:
    for seen in transactions:
        if not seen.transaction_id:
            continue
        row, created = StoreTransaction.objects.get_or_create(
            purchase=purchase, transaction_id=seen.transaction_id[:255],
            defaults={"product_id": seen.product_id[:255], "purchased_at": seen.purchased_at,
                      "expires_at": seen.expires_at, "revoked_at": seen.revoked_at, "first_seen_at": clock.real_now()},
        )
        if not created and (seen.revoked_at, seen.expires_at) != (row.revoked_at, row.expires_at):
            StoreTransaction.objects.filter(pk=row.pk).update(revoked_at=seen.revoked_at or row.revoked_at,
                                                             expires_at=seen.expires_at or row.expires_at)


def _replace(purchase: StorePurchase, state: PurchaseState) -> None:
    """Google Play's plan change: the old token entitles nothing from now on; its account
    (if the new purchase names none) and its hold on the Subscription pass to the new one."""
    old = StorePurchase.objects.filter(store=state.store, purchase_id=state.replaces).exclude(pk=purchase.pk).first()
    if old is None:
        return
    StorePurchase.objects.filter(pk=old.pk).update(status=PurchaseStatus.REPLACED, replaced_by=purchase, role=Role.ENDED)
    if purchase.account_id is None and old.account_id is not None:
        purchase.account_id = old.account_id
        StorePurchase.objects.filter(pk=purchase.pk).update(account_id=old.account_id)
    if old.role == Role.HOLDS and purchase.account_id == old.account_id:
        purchase.role = Role.HOLDS
        StorePurchase.objects.filter(pk=purchase.pk).update(role=Role.HOLDS)


# ---------------------------------------------------------------- the account's entitlement


def entitles(purchase: StorePurchase, at: datetime) -> bool:
    """Whether the purchase gives service at `at`: entitling status, a product of the
    catalog, and its service not ended (RENEWAL_LEEWAY past it: a renewal's word may be late)."""
    end = purchase.access_end()
    return (purchase.status in ENTITLING and bool(purchase.plan) and end is not None
            and at < end + RENEWAL_LEEWAY)


def entitlement_of(purchase: StorePurchase) -> StoreEntitlement:
    end = purchase.expires_at
    start = purchase.period_start or end
    return StoreEntitlement(
        store=purchase.store, plan=purchase.plan, cycle=Cycle(purchase.cycle), quantity=purchase.quantity,
        period_start=start, period_end=end,
        grace_until=purchase.grace_until if purchase.status == PurchaseStatus.GRACE else None,
        reference=f"{purchase.store}:{purchase.purchase_id[:64]}",
    )


def _role_of(purchase: StorePurchase, holder: StorePurchase | None, applied: Applied, at: datetime) -> Role:
    if purchase.status in ENTITLING and not purchase.plan:
        return Role.UNKNOWN_PRODUCT
    if not entitles(purchase, at):
        return Role.ENDED
    if applied is Applied.WEB_SUBSCRIPTION:
        return Role.BESIDE_WEB
    return Role.HOLDS if holder is not None and purchase.pk == holder.pk else Role.BESIDE_STORE


def reconcile(account, at: datetime | None = None) -> Applied:
    """Make the account's Subscription follow its store purchases at `at` (its clock), and
    say of each purchase how it stands. Run after each notification and by the sync job,
    which is what picks up a camera registered since, and hands the account over to a
    store purchase kept beside a web subscription that has ended."""
    at = at or clock.now(account)
    purchases = list(StorePurchase.objects.filter(account=account).exclude(status=PurchaseStatus.REPLACED)
                     .order_by("-period_start", "-pk"))
    entitled = [purchase for purchase in purchases if entitles(purchase, at)]
    holder = next((p for p in entitled if p.role == Role.HOLDS), entitled[0] if entitled else None)
    ending = next((p for p in purchases if p.role == Role.HOLDS), None)
    reason = (f"{ending.store} purchase {ending.get_status_display().lower()}" if ending and holder is None
              else "store notification")
    applied = apply_store_entitlement(
        account=account, entitlement=entitlement_of(holder) if holder else None, at=at, reason=reason,
        lapsed=ending is not None and ending.status == PurchaseStatus.BILLING_RETRY,
    )
    for purchase in purchases:
        role = _role_of(purchase, holder, applied, at)
        if role != purchase.role:
            StorePurchase.objects.filter(pk=purchase.pk).update(role=role)
    return applied


def sync(at: datetime | None = None) -> int:
    """The sync job: reconcile every account whose store purchases entitled anything (or
    were flagged) at their last reconcile. Idempotent; returns how many accounts it
    looked at. An account another change holds is left for the next run."""
    accounts = (StorePurchase.objects.filter(account__isnull=False)
                .filter(role__in=[Role.HOLDS, Role.BESIDE_WEB, Role.BESIDE_STORE])
                .values_list("account", flat=True).distinct())
    done = 0
    for account in Account.objects.filter(pk__in=list(accounts)):
        try:
            with transaction.atomic():
                reconcile(account, at or clock.now(account))
        except StoreSyncBusy:
            log.info("store sync of %s left for the next run: another change holds it", account.pk)
            continue
        done += 1
    return done
