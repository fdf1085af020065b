"""Subscriptions bought in the mobile app (POLICY.md section 4, last paragraph; API.md
"Additions": the store notification calls): the one place that writes billing state for a
purchase made through the App Store or Google Play.

The store took the money, so nothing here moves any: no order, no ledger entry, no gateway
call. What it writes is the account's Subscription (channel `app_store`), its lines (paid
0: nothing of a store's period is refundable on the web, as for an import) and the
cameras' plans; clips outside a shrunk window are erased after the commit.

A store purchase takes over the account's Subscription only when the account has no paid
web (or legacy_app) subscription. With one, nothing is written: the caller keeps the
purchase beside it, shown to the owner and flagged to support (Applied.WEB_SUBSCRIPTION),
and the web one can still be changed and cancelled on the web.

How an app_store Subscription reads: `period_start`/`period_end` are the store's current
period (`period_end` its renewal or expiry); status `active`, or `past_due` while the store
retries a failed renewal in its billing grace, service going on until `next_retry_at`, the
grace's end. Nothing renews it here: only the store's word, or its end
(expire_store_subscriptions).

Every write is a conditional UPDATE on the version read and `claimed_by = ""`
(ARCHITECTURE.md, "Money and concurrency"): a web payment in flight keeps its claim, and
the store is told to try again (StoreSyncBusy), which both stores do on their own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.db import transaction
from django.db.models import F, Q

from camcare.audit.events import Event, audit
from camcare.billing import selectors
from camcare.billing.actions.common import subscription_for
from camcare.billing.models import Channel, Store, Subscription, SubscriptionLine
from camcare.cameras import erasure, holds
from camcare.cameras.models import Camera
from camcare.catalog import get_catalog
from camcare.domain.catalog import FREE, Catalog
from camcare.domain.periods import Cycle, iso_z, window_start
from camcare.domain.pricing import PlanState, Status, lines_of, state_price

log = logging.getLogger("camcare.billing")

# How long past its period end (or its grace's end) a store subscription keeps its plan
# while no word comes from the store: a renewal's notification may be minutes or hours late,
# and ending the plan too soon would erase clips that the renewal would have kept.
RENEWAL_LEEWAY = timedelta(hours=24)


class StoreSyncBusy(Exception):
    """Another change holds the subscription's claim: nothing was written; try again."""


class Applied(StrEnum):
    APPLIED = "applied"  # the Subscription now says what the store says
    UNCHANGED = "unchanged"  # it already did: nothing written
    WEB_SUBSCRIPTION = "web_subscription"  # a paid web subscription holds the account: nothing written
    ENDED = "ended"  # the store subscription ended: every camera on free
    NOTHING = "nothing"  # no store subscription to end


@dataclass(frozen=True)
class StoreEntitlement:
    """What a store purchase entitles the account to, as the store last said."""

    store: str  # Store.APPLE or Store.GOOGLE
    plan: str  # a paid plan code of the catalog
    cycle: Cycle
    quantity: int  # per-camera plans: how many cameras, one per purchased line (>= 1)
    period_start: datetime
    period_end: datetime  # exclusive: the store's renewal (or expiry) instant
    grace_until: datetime | None = None  # set during the store's billing grace: service until then
    reference: str = ""  # the store's id of the purchase, for the audit row


# ---------------------------------------------------------------- which cameras


def covered_plans(account, entitlement: StoreEntitlement, catalog: Catalog) -> dict[str, str]:
    """{camera: plan} of every camera of the account under the entitlement.

    An account-wide plan (Premium) covers every camera up to its max_cameras; a per-camera
    plan (Plus) covers `quantity` cameras. Cameras the store's plan covers already keep it
    (a sync never moves coverage around, and a replacement camera keeps what it took
    over), then the oldest cameras first. The others are on free."""
    plan = catalog[entitlement.plan]
    current = selectors.current_plans(account)  # in the cameras' order: oldest first
    limit = plan.max_cameras if plan.scope == "account" else max(1, entitlement.quantity)
    ordered = sorted(current, key=lambda camera: current[camera] != plan.code)  # stable: keeps age order
    covered = set(ordered[:limit])
    return {camera: plan.code if camera in covered else FREE for camera in current}


def _shrinks(old: dict[str, str], new: dict[str, str], catalog: Catalog, at: datetime) -> list[tuple[str, datetime]]:
    """(camera, cut-off) of each camera whose history window the move shortens."""
    shrinks = []
    for camera, plan in new.items():
        days = catalog[plan].history_days
        if days < catalog[old.get(camera, FREE)].history_days:
            shrinks.append((camera, window_start(at, days)))
    return shrinks


def _erase_after_commit(shrinks: list[tuple[str, datetime]]) -> None:
    def erase() -> None:
        for camera, cutoff in shrinks:
            try:
                erasure.erase_clips_before(camera, cutoff)
            except Exception:  # the retention sweep finishes what a failure here leaves
                log.exception("erasure for camera %s failed; the retention sweep will finish it", camera)

    if shrinks:
        transaction.on_commit(erase)


# ---------------------------------------------------------------- the action


def apply_store_entitlement(*, account, entitlement: StoreEntitlement | None, at: datetime, actor=None,
                            reason: str = "", lapsed: bool = False) -> Applied:
    """Make the account's Subscription say what its store purchase entitles (None: that no
    store purchase entitles anything any more). `at` is the account's now: the instant of
    the change and of the erasure cut-offs. `lapsed` says an ending was the store's failed
    renewal rather than an expiry, a refund or a revocation (only the audit row differs).

    Raises StoreSyncBusy when another change holds the subscription: nothing was written."""
    subscription = subscription_for(account)
    held_by_store = subscription.channel == Channel.APP_STORE and subscription.status != Status.NONE
    if entitlement is None:
        if not held_by_store:
            return Applied.NOTHING
        return _end(account, subscription, at, actor=actor, reason=reason, lapsed=lapsed)
    if subscription.status != Status.NONE and not held_by_store:
        return Applied.WEB_SUBSCRIPTION
    return _hold(account, subscription, entitlement, at, actor=actor, reason=reason)


def _fields_of(entitlement: StoreEntitlement) -> dict:
    in_grace = entitlement.grace_until is not None
    return {
        "channel": Channel.APP_STORE, "store": entitlement.store,
        "status": Status.PAST_DUE if in_grace else Status.ACTIVE, "cycle": entitlement.cycle.value,
        "anchor": entitlement.period_start, "period_start": entitlement.period_start,
        "period_end": entitlement.period_end, "scheduled_cycle": "", "scheduled_stop": False, "failed_attempts": 0,
        "next_retry_at": entitlement.grace_until,
    }


def _claim(subscription: Subscription, **fields) -> None:
    """The conditional UPDATE of every write here: on the version read, and only while no
    payment holds the subscription's claim."""
    if not Subscription.objects.filter(pk=subscription.pk, version=subscription.version, claimed_by="").update(
        version=F("version") + 1, **fields
    ):
        raise StoreSyncBusy(f"subscription {subscription.pk} is being changed")


def _line_rows(subscription: Subscription) -> set[tuple]:
    return {(line.plan, line.camera_key, line.cycle, line.period_start) for line in selectors.active_lines(subscription)}


def _hold(account, subscription: Subscription, entitlement: StoreEntitlement, at: datetime, *, actor, reason: str) -> Applied:
    catalog = get_catalog()
    old = selectors.current_plans(account)
    target = covered_plans(account, entitlement, catalog)
    fields = _fields_of(entitlement)
    lines = lines_of(PlanState(entitlement.cycle, target), catalog)
    rows = {(key.plan, key.camera or "", key.cycle.value, entitlement.period_start) for key in lines}
    if (target == old and rows == _line_rows(subscription)
            and all(getattr(subscription, name) == value for name, value in fields.items())):
        return Applied.UNCHANGED
    with transaction.atomic():
        _claim(subscription, **fields)
        for camera, plan in target.items():
            Camera.objects.filter(account=account, id=camera).exclude(plan=plan).update(plan=plan)
        if rows != _line_rows(subscription):
            SubscriptionLine.objects.filter(subscription=subscription, ended_at__isnull=True).update(ended_at=at)
            SubscriptionLine.objects.bulk_create(
                SubscriptionLine(subscription=subscription, plan=key.plan, camera_key=key.camera or "",
                                 cycle=key.cycle.value, unit_price=price, paid=0,
                                 period_start=entitlement.period_start, started_at=at)
                for key, price in lines.items()
            )
        audit(actor=actor, account=account, action=_event(subscription, old, target, entitlement, catalog), at=at,
              channel=Channel.APP_STORE.value, store=entitlement.store, reference=entitlement.reference,
              reason=reason, period_end=iso_z(entitlement.period_end),
              grace_until=iso_z(entitlement.grace_until) if entitlement.grace_until else None,
              old={"status": subscription.status, "channel": subscription.channel, "cameras": old},
              new={"status": fields["status"].value, "channel": Channel.APP_STORE.value, "cameras": target})
        _erase_after_commit(_shrinks(old, target, catalog, at))
    return Applied.APPLIED


def _event(subscription: Subscription, old: dict, new: dict, entitlement: StoreEntitlement, catalog: Catalog) -> Event:
    """The timeline's name for what the store did, among the web's own names."""
    if subscription.status == Status.NONE or subscription.channel != Channel.APP_STORE:
        return Event.SUBSCRIPTION_SUBSCRIBE
    if old != new:
        before = state_price(PlanState(entitlement.cycle, old), catalog)
        after = state_price(PlanState(entitlement.cycle, new), catalog)
        return Event.SUBSCRIPTION_UPGRADE if after > before else Event.SUBSCRIPTION_DOWNGRADE
    if entitlement.grace_until is not None and subscription.status != Status.PAST_DUE:
        return Event.RENEWAL_FAILED
    return Event.RENEWED


def _end(account, subscription: Subscription, at: datetime, *, actor, reason: str, lapsed: bool) -> Applied:
    """Every camera to free. The clips outside the free window are held for 14 days when
    the store ended it for a failed payment (`lapsed`: POLICY.md section 6, a failed
    payment holds instead of erasing), else erased (the owner cancelled in the store).
    The next paid line starts a new web subscription, as after a cancel on the web."""
    catalog = get_catalog()
    old = selectors.current_plans(account)
    with transaction.atomic():
        _claim(subscription, status=Status.NONE, channel=Channel.WEB, store="", anchor=None, period_start=None,
               period_end=None, scheduled_cycle="", scheduled_stop=False, failed_attempts=0, next_retry_at=None)
        SubscriptionLine.objects.filter(subscription=subscription, ended_at__isnull=True).update(ended_at=at)
        Camera.objects.filter(account=account).exclude(plan=FREE).update(plan=FREE)
        free = dict.fromkeys(old, FREE)
        audit(actor=actor, account=account, action=Event.LAPSED_TO_FREE if lapsed else Event.SUBSCRIPTION_CANCEL,
              at=at, channel=Channel.APP_STORE.value, store=subscription.store, reason=reason,
              old={"status": subscription.status, "channel": subscription.channel, "cameras": old},
              new={"status": Status.NONE.value, "channel": Channel.WEB.value, "cameras": free})
        if lapsed:  # in this transaction: no sweep between free and the hold
            holds.hold_after_lapse(account, old_plans=old, at=at)
        else:
            _erase_after_commit(_shrinks(old, free, catalog, at))
    return Applied.ENDED


# ---------------------------------------------------------------- the end no store announced


def expire_store_subscriptions(*, at: datetime, account=None, leeway: timedelta = RENEWAL_LEEWAY) -> int:
    """End every app_store subscription (of `account`, or of every account) whose service
    ended at least `leeway` before `at` with no word from the store: its period end, or
    its grace's end while past_due. This is what ends an imported one, and a store's
    subscription whose last notification never came. Idempotent; returns how many ended.
    A subscription another change holds is left for the next run."""
    due = Subscription.objects.filter(channel=Channel.APP_STORE).filter(
        Q(status=Status.ACTIVE, period_end__lte=at - leeway) | Q(status=Status.PAST_DUE, next_retry_at__lte=at - leeway)
    )
    if account is not None:
        due = due.filter(account=account)
    ended = 0
    for subscription in due.select_related("account").order_by("period_end", "pk"):
        store = dict(Store.choices).get(subscription.store, "the store")
        try:
            ended += apply_store_entitlement(
                account=subscription.account, entitlement=None, at=at, lapsed=subscription.status == Status.PAST_DUE,
                reason=f"no renewal from {store} by {iso_z(subscription.next_retry_at or subscription.period_end)}",
            ) is Applied.ENDED
        except StoreSyncBusy:
            continue
    return ended
