"""The owner's e-mails about billing (POLICY.md sections 7 and 15), through the notices outbox.

Each `record_*` is called inside the transaction of its event: the notice exists exactly
when the event does, goes out after the commit, and its key names the event, so recording
the same event again (a replay, a second sweep, a crash and retry) makes no second one.

Contexts are plain JSON values rendered at send time, so dates and amounts are formatted
here, once: money with its currency, dates in words with their zone (section 16). Links
are the templates' own ({% url %} after settings.SITE_URL: every link absolute), made at
send time, so no URL can fail inside the event's transaction.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count

from camcare.accounts import time_zones
from camcare.billing.models import Order, OrderKind, OrderStatus, PaymentMethod
from camcare.cameras.models import Camera, Clip
from camcare.catalog import get_catalog
from camcare.display import format_day, format_day_time, format_money, format_month
from camcare.domain.catalog import FREE
from camcare.domain.periods import iso_z, parse_instant, window_start
from camcare.domain.pricing import Case, Outcome
from camcare.notices.outbox import enqueue

KIND_WORDS = {OrderKind.CHARGE: "Payment", OrderKind.REFUND: "Refund", OrderKind.CREDIT: "Credit"}
# What a receipt's amount is: a charge's amount is its card part (credit used beside it).
AMOUNT_LABELS = {OrderKind.CHARGE: "Paid by card", OrderKind.REFUND: "Refunded to your card",
                 OrderKind.CREDIT: "Added to your credit"}


def zone_of(account) -> str:
    """The zone the account reads dates in (section 16), named in every date; UTC for a
    name this server's tz database lacks: a notice is recorded inside its event's
    transaction, which a zone must never make fail."""
    return time_zones.zone_of(account)


def card_words(brand: str, last4: str) -> str:
    return f"{brand or 'Card'} ending in {last4}" if last4 else ""


def plan_name(code: str) -> str:
    catalog = get_catalog()
    return catalog[code].name if code in catalog else code


# ---------------------------------------------------------------- receipts


def record_receipt(order: Order) -> None:
    """Call inside the transaction that settled `order`: the receipt exists exactly when the
    order does, and goes out after the commit. An order that moved nothing has none."""
    if order.status != OrderStatus.SUCCEEDED or not (order.amount or order.credit_used):
        return
    zone = zone_of(order.account)
    enqueue(account=order.account, kind="receipt", key=f"receipt:{order.order_id}", context={
        "word": KIND_WORDS.get(order.kind, "Order"),
        "order_id": order.order_id,
        "description": order.description,
        "amount": format_money(order.amount, order.currency),
        "credit_used": format_money(order.credit_used, order.currency) if order.credit_used else "",
        "refund_of": order.refers_to.order_id if order.refers_to_id else "",
        "card": card_words(order.card_brand, order.card_last4),
        "amount_label": AMOUNT_LABELS.get(order.kind, "Amount"),
        "date": format_day_time(order.created_at, zone),  # the account's clock, as on its receipt page
    })


# ---------------------------------------------------------------- failed payments and the lapse


def record_payment_failed(order: Order, *, next_attempt_at: datetime | None) -> None:
    """A renewal or retry attempt failed: `order` is that attempt (status failed); the next
    attempt falls due at `next_attempt_at`, or None when it was the last one (the lapse
    notice then says what moved to free). One notice per attempt, keyed by its Order ID."""
    if order.status != OrderStatus.FAILED:
        return
    zone = zone_of(order.account)
    enqueue(account=order.account, kind="payment_failed", key=f"payment_failed:{order.order_id}", context={
        "order_id": order.order_id,
        "description": order.description,
        "amount": format_money(order.amount, order.currency),
        "card": card_words(order.card_brand, order.card_last4),
        "reason": order.failure_message,
        "attempted": format_day_time(order.created_at, zone),
        "next_attempt": format_day_time(next_attempt_at, zone),
        "last_attempt": next_attempt_at is None,
    })


def record_lapsed(account, *, order: Order, at: datetime, moved: dict[str, str],
                  held_until: datetime | None = None) -> None:
    """The last attempt of a bill failed at `at` and every camera moved to free. `order` is
    that attempt; `moved` = {camera_id: its plan code before}. The clips outside the free
    window are held until `held_until` when given, else erased (what the lapse does today).
    Call before the erasure runs (it runs after the commit), so the counts are the clips
    that go or are held."""
    if not moved:
        return
    enqueue(account=account, kind="lapsed", key=f"lapsed:{order.order_id}", context={
        "order_id": order.order_id,
        "amount": format_money(order.amount, order.currency),
        "lapsed_at": format_day_time(at, zone_of(account)),
        **to_free_context(account, at=at, moved=moved, held=held_until is not None),
        "held_until": format_day_time(held_until, zone_of(account)),
    })


def to_free_context(account, *, at: datetime, moved: dict[str, str], held: bool) -> dict:
    """What moving the cameras `moved` ({camera id: plan before}) to free at `at` does to
    their clips: each camera with the clips recorded before the free window's cut-off,
    counted as held (after a hold) or visible (before the erasure, which runs after the
    commit). {cameras: [{id, name, old_plan, clips, shrinks}], free_plan, free_days,
    cutoff (words), cutoff_iso}."""
    catalog = get_catalog()
    free_days = catalog[FREE].history_days
    cutoff = window_start(at, free_days)
    shrinking = [camera for camera, plan in moved.items()
                 if plan in catalog and catalog[plan].history_days > free_days]
    counts = clip_counts_before(shrinking, cutoff, held=held)
    names = dict(Camera.objects.filter(id__in=list(moved)).values_list("id", "name"))
    cameras = [{"id": camera, "name": names.get(camera, camera), "old_plan": plan_name(plan),
                "clips": counts.get(camera, 0), "shrinks": camera in shrinking}
               for camera, plan in sorted(moved.items(), key=lambda item: names.get(item[0], item[0]))]
    return {"cameras": cameras, "free_plan": plan_name(FREE), "free_days": free_days,
            "cutoff": format_day_time(cutoff, zone_of(account)), "cutoff_iso": iso_z(cutoff)}


def record_trial_ended(account, *, at: datetime, moved: dict[str, str], held_until: datetime) -> None:
    """A free trial ended at `at` with no card for its first bill (POLICY.md section 12):
    the cameras of `moved` ({camera id: plan}) moved to free, their older clips held until
    `held_until`. One notice per trial: an account has one."""
    zone = zone_of(account)
    enqueue(account=account, kind="trial_ended", key=f"trial_ended:{account.pk}:{iso_z(at)}", context={
        "ended_at": format_day_time(at, zone),
        **to_free_context(account, at=at, moved=moved, held=True),
        "held_until": format_day_time(held_until, zone),
    })


def clip_counts_before(camera_ids: list[str], cutoff: datetime, *, held: bool = False) -> dict[str, int]:
    """{camera id: clips recorded before `cutoff`}, the held ones (a lapse counted after its
    hold) or the visible ones (about to be erased): one grouped query."""
    if not camera_ids:
        return {}
    clips = Clip.objects.held() if held else Clip.objects.visible()
    rows = (clips.filter(camera_id__in=camera_ids, recorded_at__lt=cutoff)
            .values("camera_id").annotate(n=Count("id")).values_list("camera_id", "n"))
    return dict(rows)


# ---------------------------------------------------------------- an owner's change

CHANGE_HEADINGS = {
    Case.CANCEL: "Your subscription is cancelled",
    Case.TO_ANNUAL: "You switched to annual billing",
    Case.TRIAL: "Your free trial started",
}


def record_plan_changed(account, *, quote, outcome: Outcome, old: dict, orders: list[Order],
                        erasures: list[dict]) -> None:
    """An owner's change succeeded (step 3 of apply_change, in its transaction): what moved
    (`old` = {"cycle", "cameras": {id: plan}} before it, `outcome.state` after), the money
    (the change's orders, with their Order IDs) and what it erases (`erasures` as
    erasures_of gives them, counted before the commit). One notice per quote: a quote is
    executed once, and the reconciler finishing a crashed change makes no second.

    A new subscription (nothing paid before) has none: its charge's receipt already says
    what it added and what it cost, and nothing is erased by subscribing, so the owner
    gets one e-mail for it, not two."""
    if outcome.case is Case.SUBSCRIBE:
        return
    zone = zone_of(account)
    names = dict(Camera.objects.filter(account=account).values_list("id", "name"))
    money = [money_line(order) for order in orders if order.status == OrderStatus.SUCCEEDED]
    enqueue(account=account, kind="plan_changed", key=f"plan_changed:{quote.id}", context={
        "heading": CHANGE_HEADINGS.get(outcome.case, "Your plan changed"),
        "changed_at": format_day_time(outcome.at, zone),
        "cameras": camera_moves(old.get("cameras", {}), outcome.state.cameras, names),
        "old_cycle": old.get("cycle", ""),
        "new_cycle": outcome.state.cycle.value if outcome.period else "",
        "scheduled_cycle": outcome.scheduled_cycle.value if outcome.scheduled_cycle else "",
        "period_end": format_day_time(outcome.period.end, zone) if outcome.period else "",
        "money": [line for line in money if line],
        "order_ids": [order.order_id for order in orders if order.status == OrderStatus.SUCCEEDED],
        "erased": [{"name": names.get(item["camera"], "a removed camera"), "clips": item["clips"],
                    "before": format_day_time(parse_instant(item["recorded_before"]), zone)}
                   for item in erasures],
        "next_bill": next_bill_words(outcome, zone),
        "trial": trial_words(outcome, zone),
    })


def trial_words(outcome: Outcome, zone: str) -> str:
    """"Free until <date>, then <amount> per <cycle>" while the state is in a free trial."""
    if outcome.trial_end is None or outcome.next_bill is None:
        return ""
    cycle = {"monthly": "month", "annual": "year"}[outcome.state.cycle.value]
    return (f"Free until {format_day_time(outcome.trial_end, zone)}, "
            f"then {format_money(outcome.next_bill[1], outcome.currency)} per {cycle}")


def record_stopped(account, *, subscription_id: int, at: datetime, old: dict[str, str]) -> None:
    """The stop the owner scheduled was carried out at `at` (POLICY.md section 13): every
    camera to free, nothing billed, the clips outside the free window erased (after the
    commit; counted here, before). Sent as a plan change, once per (subscription, instant)."""
    zone = zone_of(account)
    moved = {camera: plan for camera, plan in old.items() if plan != FREE}
    clips = to_free_context(account, at=at, moved=moved, held=False)
    names = {camera["id"]: camera["name"] for camera in clips["cameras"]}
    enqueue(account=account, kind="plan_changed", key=f"stopped:{subscription_id}:{iso_z(at)}", context={
        "heading": "Your plan ended, as you asked",
        "changed_at": format_day_time(at, zone),
        "cameras": camera_moves(old, dict.fromkeys(old, FREE), names),
        "old_cycle": "", "new_cycle": "", "scheduled_cycle": "", "period_end": "",
        "money": [], "order_ids": [],
        "erased": [{"name": camera["name"], "clips": camera["clips"], "before": clips["cutoff"]}
                   for camera in clips["cameras"] if camera["shrinks"]],
        "next_bill": "", "trial": "",
    })


def camera_moves(before: dict[str, str], after, names: dict[str, str]) -> list[dict]:
    """[{name, old_plan, new_plan}] of each camera whose plan changed, by camera name."""
    moves = [{"name": names.get(camera, "a removed camera"), "old_plan": plan_name(before.get(camera, FREE)),
              "new_plan": plan_name(plan)}
             for camera, plan in after.items() if before.get(camera, FREE) != plan]
    return sorted(moves, key=lambda move: move["name"])


def money_line(order: Order) -> dict | None:
    """{label, amount, order_id, credit_used} of one settled order of a change; None for a
    charge that moved nothing."""
    if order.kind == OrderKind.CHARGE and not (order.amount or order.credit_used):
        return None
    card = card_words(order.card_brand, order.card_last4)
    labels = {
        OrderKind.CHARGE: f"Charged to your {card}" if card and order.amount else "Charged",
        OrderKind.REFUND: f"Refunded to your {card}" if card else "Refunded to your card",
        OrderKind.CREDIT: "Added to your credit",
    }
    return {"label": labels.get(order.kind, "Order"), "amount": format_money(order.amount, order.currency),
            "credit_used": format_money(order.credit_used, order.currency) if order.credit_used else "",
            "order_id": order.order_id}


def next_bill_words(outcome: Outcome, zone: str) -> str:
    if outcome.next_bill is None:
        return ""
    when, amount = outcome.next_bill
    return f"{format_money(amount, outcome.currency)} on {format_day_time(when, zone)}"


# ---------------------------------------------------------------- reminders (the daily sweep)


def record_annual_renewal(subscription, *, amount: int, credit_used: int, currency: str,
                          card: PaymentMethod | None) -> bool:
    """30 days before the annual renewal at `subscription.period_end`: what it will bill
    (`amount` minor units to the card after `credit_used` of credit) and how to stop it.
    True when the notice was made now (False: this renewal's reminder exists already)."""
    account = subscription.account
    zone = zone_of(account)
    key = reminder_key("annual_renewal", subscription.pk, subscription.period_end)
    return enqueue(account=account, kind="annual_renewal", key=key, context={
        "renews_at": format_day_time(subscription.period_end, zone),
        "renews_on": format_day(subscription.period_end, zone),
        **bill_words(amount=amount, credit_used=credit_used, currency=currency, card=card),
    }) is not None


def bill_words(*, amount: int, credit_used: int, currency: str, card: PaymentMethod | None) -> dict:
    """A coming bill as a reminder shows it: the total, the card part (`amount` minor units)
    after `credit_used` of credit, the card, and whether a card is needed at all."""
    return {
        "total": format_money(amount + credit_used, currency),
        "amount": format_money(amount, currency),
        "credit_used": format_money(credit_used, currency) if credit_used else "",
        "card": card_words(card.brand, card.last4) if card else "",
        "card_needed": amount > 0,
    }


def record_card_expiring(subscription, *, card: PaymentMethod, amount: int, currency: str,
                         at: datetime) -> bool:
    """14 days before the bill at `subscription.period_end` (`amount` minor units to the
    card), when the saved `card` expires before it; `at` is the sweep's instant (a card
    may have expired already). True when the notice was made now."""
    account = subscription.account
    zone = zone_of(account)
    key = reminder_key("card_expiring", subscription.pk, subscription.period_end)
    return enqueue(account=account, kind="card_expiring", key=key, context={
        "card": card_words(card.brand, card.last4),
        "expiry": f"{card.exp_month:02d}/{card.exp_year}",
        "expiry_month": format_month(card.exp_month, card.exp_year),
        "expired": (card.exp_year, card.exp_month) < (at.year, at.month),  # UTC months
        "bill_at": format_day_time(subscription.period_end, zone),
        "amount": format_money(amount, currency),
    }) is not None


def record_trial_ending(subscription, *, amount: int, credit_used: int, currency: str,
                        card: PaymentMethod | None) -> bool:
    """3 days before a free trial ends (POLICY.md section 15): what its first bill will
    charge (`amount` minor units to the card after `credit_used` of credit) and on which
    card, or that no card is saved and what happens then. True when made now."""
    account = subscription.account
    zone = zone_of(account)
    key = reminder_key("trial_ending", subscription.pk, subscription.period_end)
    return enqueue(account=account, kind="trial_ending", key=key, context={
        "ends_at": format_day_time(subscription.period_end, zone),
        "ends_on": format_day(subscription.period_end, zone),
        **bill_words(amount=amount, credit_used=credit_used, currency=currency, card=card),
        "free_plan": plan_name(FREE),
        "free_days": get_catalog()[FREE].history_days,
    }) is not None


def record_stop_reminder(subscription, *, plans: dict[str, str]) -> bool:
    """3 days before a scheduled stop (POLICY.md section 15): its date, what it will erase
    (each camera's clips that would go as of now, with the cut-off taken at the stop's
    instant) and a download link for each. True when made now."""
    account = subscription.account
    at = subscription.period_end
    moved = {camera: plan for camera, plan in plans.items() if plan != FREE}
    key = reminder_key("stop_reminder", subscription.pk, at)
    return enqueue(account=account, kind="stop_reminder", key=key, context={
        "stops_at": format_day_time(at, zone_of(account)),
        "stops_on": format_day(at, zone_of(account)),
        **to_free_context(account, at=at, moved=moved, held=False),
    }) is not None


def reminder_key(kind: str, subscription_id: int, period_end: datetime) -> str:
    """One reminder per (kind, subscription, bill date): a second sweep makes none, and the
    next period's bill has its own."""
    return f"{kind}:{subscription_id}:{iso_z(period_end)}"
