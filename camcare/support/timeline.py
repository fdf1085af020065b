"""One timeline per account, newest first, of everything that happened to it: plan changes
with their money, orders (charges with their declines, refunds, credits), renewals and
payment attempts, erasures, e-mails (sent, pending, failed with their attempts), errors
it saw, and staff actions (who, what, when). A staff account's timeline also has what it
did to other accounts.

Bounded and flat: each source is one indexed query of at most LIMIT rows (AuditEvent by
(account, -at), Order by (account, -created_at), Notice and ErrorReport by their account
foreign key), plus one query of the account's camera names; then merged in Python.

The text is written from chosen fields only, never from a dump of an event's detail, so
no token, hash or card number can reach the page through it (brand and last 4 only).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from camcare.audit.events import Event
from camcare.audit.models import AuditEvent, ErrorReport
from camcare.billing.models import Order, OrderKind, OrderStatus
from camcare.cameras.models import Camera
from camcare.catalog import get_catalog
from camcare.display import format_money
from camcare.domain.catalog import FREE
from camcare.notices.models import Notice

LIMIT = 300  # entries shown, and rows read from each source
ORDER_ID = re.compile(r"ORD-[0-9A-Z]{10}")


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str  # change, erasure, order, renewal, payment, notice, staff, card, camera, clock, error
    text: str
    amount: str = ""  # shown as money, e.g. "$3.99", "+$3.40"
    order_id: str = ""  # linked to the order's row on the account page
    actor: str = ""  # who: an e-mail, "owner" or "system"
    status: str = ""  # succeeded, failed, pending, sent...: a badge


def timeline_of(account, *, limit: int = LIMIT) -> list[Entry]:
    """The account's entries, newest first, at most `limit`."""
    context = _Context(account)
    entries = [
        *_event_entries(account, context, limit),
        *_order_entries(account, limit),
        *_notice_entries(account, limit),
        *_error_entries(account, limit),
    ]
    entries.sort(key=lambda entry: entry.at, reverse=True)  # stable: ties keep their source order
    return entries[:limit]


class _Context:
    """What the texts need besides the rows: camera names and history windows."""

    def __init__(self, account):
        self.account = account
        catalog = get_catalog()
        self.currency = catalog.currency
        self.names = dict(Camera.objects.filter(account=account).values_list("id", "name"))
        self.history_days = {plan.code: plan.history_days for plan in catalog}

    def money(self, cents, signed: bool = False) -> str:
        if not isinstance(cents, int):
            return ""
        if not signed:
            return format_money(cents, self.currency)
        return ("−" if cents < 0 else "+") + format_money(abs(cents), self.currency)

    def camera(self, camera_id) -> str:
        return self.names.get(camera_id) or f"camera {camera_id}"


def utc(at: datetime | None) -> str:
    """ "1 Mar 2027, 14:05 UTC", the console's one format for an instant."""
    return f"{at.day} {at:%b} {at.year}, {at:%H:%M} UTC" if at else ""


# ---------------------------------------------------------------- audit events


def _event_entries(account, context: _Context, limit: int) -> Iterable[Entry]:
    events = AuditEvent.objects.filter(account=account).select_related("actor").order_by("-at", "-id")[:limit]
    for event in events:
        yield from _describe(event, context)
    if account.is_staff:  # what this staff member did elsewhere (searches, other accounts)
        elsewhere = (AuditEvent.objects.filter(actor=account).exclude(account=account)
                     .select_related("actor", "account").order_by("-at", "-id")[:limit])
        for event in elsewhere:
            where = f"On {event.account.email}: " if event.account_id else ""
            for entry in _describe(event, context):
                yield Entry(entry.at, entry.kind, where + entry.text, entry.amount, "", entry.actor, entry.status)


def _actor(event: AuditEvent) -> str:
    if event.actor_id is None:
        return "system"
    if event.actor_id == event.account_id and not event.actor.is_staff:
        return "owner"
    return event.actor.email


def _describe(event: AuditEvent, context: _Context) -> list[Entry]:
    detail = event.detail if isinstance(event.detail, dict) else {}
    describe = DESCRIBERS.get(event.action, _generic)
    kind, text, amount, status = describe(detail, context)
    order_id = detail.get("order_id") or next(iter(detail.get("orders") or []), "")
    entry = Entry(event.at, kind, text, amount, order_id if isinstance(order_id, str) else "", _actor(event), status)
    return [entry, *_erasures(event, detail, context)]


Description = tuple[str, str, str, str]  # kind, text, amount, status


def _generic(detail: dict, context: _Context) -> Description:
    return "event", "Recorded event", "", ""


CHANGE_WORDS = {
    Event.SUBSCRIPTION_SUBSCRIBE: "Subscribed", Event.SUBSCRIPTION_UPGRADE: "Upgraded",
    Event.SUBSCRIPTION_DOWNGRADE: "Downgraded", Event.SUBSCRIPTION_TO_ANNUAL: "Switched to annual",
    Event.SUBSCRIPTION_CANCEL: "Cancelled", Event.SUBSCRIPTION_NOTHING: "Changed nothing",
    Event.SUBSCRIPTION_SCHEDULE_ONLY: "Scheduled a change for the period end",
}


def _plans_moved(detail: dict, context: _Context) -> str:
    """ "Porch plus → premium; monthly → annual" from the event's old and new state."""
    old, new = detail.get("old") or {}, detail.get("new") or {}
    old_cameras, new_cameras = old.get("cameras") or {}, new.get("cameras") or {}
    moves = [f"{context.camera(camera)} {old_cameras.get(camera, FREE)} → {plan}"
             for camera, plan in new_cameras.items() if old_cameras.get(camera, FREE) != plan]
    if old.get("cycle") and new.get("cycle") and old["cycle"] != new["cycle"]:
        moves.append(f"{old['cycle']} → {new['cycle']}")
    return "; ".join(moves)


def _change(word: str) -> Callable[[dict, _Context], Description]:
    def describe(detail: dict, context: _Context) -> Description:
        moved = _plans_moved(detail, context)
        return "change", f"{word}{': ' + moved if moved else ''}", context.money(detail.get("net"), signed=True), ""

    return describe


def _renewal(detail: dict, context: _Context) -> Description:
    return "renewal", "Renewed: the next period was billed", context.money(detail.get("amount")), "succeeded"


def _renewal_failed(detail: dict, context: _Context) -> Description:
    return ("renewal", "Renewal payment failed: past due, service goes on, retries follow",
            context.money(detail.get("amount")), "failed")


def _retry_failed(detail: dict, context: _Context) -> Description:
    if detail.get("by_owner"):
        text = "A payment attempt outside the schedule failed (card saved, or support): it does not count towards the four"
    else:
        text = f"Payment attempt {detail.get('attempts', '?')} of 4 of the unpaid bill failed"
    return "payment", text, "", "failed"


def _static(kind: str, text: str, status: str = "") -> Callable[[dict, _Context], Description]:
    return lambda detail, context: (kind, text, "", status)


def _card_saved(detail: dict, context: _Context) -> Description:
    return "card", f"Card saved: {detail.get('brand', '')} ···· {detail.get('last4', '')}", "", ""


def _camera_removed(detail: dict, context: _Context) -> Description:
    name = (detail.get("old") or {}).get("name") or context.camera(detail.get("camera"))
    return "erasure", f"Camera {name} ({detail.get('serial', '')}) removed: all its clips erased", "", ""


def _imported(detail: dict, context: _Context) -> Description:
    store = f" ({detail['store']})" if detail.get("store") else ""
    return "change", f"Subscription imported from the {detail.get('channel', 'old app')} channel{store}", "", ""


def _support_money(word: str) -> Callable[[dict, _Context], Description]:
    def describe(detail: dict, context: _Context) -> Description:
        of = f" of {detail['refers_to']}" if detail.get("refers_to") else ""
        status = "succeeded" if detail.get("succeeded") else "failed"
        return "staff", f"{word}{of} issued: {detail.get('reason', '')}", context.money(detail.get("amount")), status

    return describe


def _searched(detail: dict, context: _Context) -> Description:
    return "staff", f"Searched “{detail.get('query', '')}” ({detail.get('found', 0)} found)", "", ""


def _verify_failed(detail: dict, context: _Context) -> Description:
    return "staff", f"Second factor refused: {detail.get('reason', 'wrong code')}", "", "failed"


def _refused(detail: dict, context: _Context) -> Description:
    return ("staff", f"Refused to {detail.get('what', 'act')}: {detail.get('message', '')}",
            context.money(detail.get("amount")), "failed")


def _resent(detail: dict, context: _Context) -> Description:
    before = f" (sent before {detail['previously_sent_at']})" if detail.get("previously_sent_at") else " (never sent before)"
    return "staff", f"Receipt of {detail.get('order_id', '')} sent again{before}", "", ""


def _retried(detail: dict, context: _Context) -> Description:
    paid = detail.get("succeeded")
    text = ("Retried the unpaid bill now: " + ("paid" if paid else f"declined ({detail.get('decline_code', '')})")
            + "; a support retry does not use one of the four scheduled attempts")
    return "staff", text, context.money(detail.get("amount")), "succeeded" if paid else "failed"


DESCRIBERS: dict[str, Callable[[dict, _Context], Description]] = {
    **{event.value: _change(word) for event, word in CHANGE_WORDS.items()},
    Event.CHANGE_PAYMENT_FAILED: lambda d, c: ("payment", f"A plan change was declined by the card ({d.get('decline_code', '')}): nothing changed", "", "failed"),
    Event.SCHEDULED_CHANGE_DROPPED: _static("change", "The scheduled change was dropped"),
    Event.RENEWED: _renewal,
    Event.RENEWAL_FAILED: _renewal_failed,
    Event.RETRY_FAILED: _retry_failed,
    Event.UNPAID_BILL_PAID: _static("payment", "The unpaid bill was paid", "succeeded"),
    Event.LAPSED_TO_FREE: _static("change", "Lapsed after the last failed attempt: every camera on free, the unpaid period voided"),
    Event.IMPORTED: _imported,
    Event.PAYMENT_METHOD_SAVED: _card_saved,
    Event.CAMERA_REMOVED: _camera_removed,
    Event.CAMERA_REPLACED: _static("camera", "A camera was replaced by a new one"),
    Event.ACCOUNT_TIME_ZONE_CHANGED: lambda d, c: ("account", f"Time zone changed from {d.get('old', '')} to {d.get('new', '')}", "", ""),
    Event.TEST_CLOCK_ADVANCED: lambda d, c: ("clock", f"Test clock moved to {d.get('to', '')}", "", ""),
    Event.SUPPORT_CREDIT: _support_money("Credit"),
    Event.SUPPORT_REFUND: _support_money("Refund"),
    Event.SUPPORT_SEARCHED: _searched,
    Event.SUPPORT_VIEWED_ACCOUNT: _static("staff", "Viewed the account in the support console"),
    Event.SUPPORT_VERIFIED: _static("staff", "Passed the console's second factor (TOTP)", "succeeded"),
    Event.SUPPORT_VERIFY_FAILED: _verify_failed,
    Event.SUPPORT_DEVICE_ENROL_STARTED: _static("staff", "Started setting up an authenticator app"),
    Event.SUPPORT_DEVICE_ENROLLED: _static("staff", "Set up an authenticator app for the console", "succeeded"),
    Event.SUPPORT_REFUSED: _refused,
    Event.SUPPORT_RECEIPT_RESENT: _resent,
    Event.SUPPORT_PAYMENT_RETRIED: _retried,
}

# Changes that shrink a window erase at once (POLICY.md section 6); a scheduled one only
# at the period end, which is its own event then.
ERASING = {Event.SUBSCRIPTION_DOWNGRADE, Event.SUBSCRIPTION_CANCEL, Event.SUBSCRIPTION_UPGRADE,
           Event.SUBSCRIPTION_TO_ANNUAL, Event.LAPSED_TO_FREE}


def _erasures(event: AuditEvent, detail: dict, context: _Context) -> list[Entry]:
    """An entry per camera whose history window the event shortened."""
    if event.action not in ERASING:
        return []
    old = (detail.get("old") or {}).get("cameras") or {}
    new = (detail.get("new") or {}).get("cameras") or {}
    entries = []
    for camera, plan in new.items():
        before, after = context.history_days.get(old.get(camera)), context.history_days.get(plan)
        if before is None or after is None or after >= before:
            continue
        cutoff = utc(event.at - timedelta(days=after))
        leaves = "leave its history" if event.action == Event.LAPSED_TO_FREE else "erased"
        entries.append(Entry(event.at, "erasure",
                             f"Clips of {context.camera(camera)} recorded before {cutoff} {leaves} "
                             f"({before} → {after} days of history)", actor=_actor(event)))
    return entries


# ---------------------------------------------------------------- orders, notices, errors


def _order_entries(account, limit: int) -> Iterable[Entry]:
    orders = Order.objects.filter(account=account).select_related("refers_to").order_by("-created_at", "-id")[:limit]
    for order in orders:
        yield Entry(order.created_at, "order", _order_text(order), format_money(order.amount, order.currency),
                    order.order_id, "", _order_status(order))


def _order_status(order: Order) -> str:
    if order.kind == OrderKind.CHARGE and order.status == OrderStatus.FAILED:
        return "declined"
    return order.status


def _order_text(order: Order) -> str:
    words = {OrderKind.CHARGE: "Charge", OrderKind.REFUND: "Refund", OrderKind.CREDIT: "Credit"}
    text = f"{words.get(order.kind, 'Order')}: {order.description}"
    if order.refers_to_id and order.refers_to.order_id not in order.description:
        text += f" (of {order.refers_to.order_id})"
    if order.credit_used:
        text += f"; {format_money(order.credit_used, order.currency)} of credit used"
    if order.card_last4 and order.kind != OrderKind.CREDIT:
        text += f"; card {order.card_brand} ···· {order.card_last4}"
    if order.status == OrderStatus.FAILED:
        text += f"; declined: {order.failure_message or order.failure_code}"
    if order.reason:
        text += f"; reason: {order.reason}"
    return text


NOTICE_WORDS = {"receipt": "Receipt", "payment_failed": "Failed payment", "lapsed": "Plan lapsed",
                "annual_renewal": "Annual renewal reminder", "card_expiring": "Card expiring",
                "plan_changed": "Plan changed", "trial_ending": "Trial ending reminder",
                "trial_ended": "Trial ended unpaid", "stop_reminder": "Plan ending reminder"}


def _notice_entries(account, limit: int) -> Iterable[Entry]:
    notices = Notice.objects.filter(account=account).order_by("-created_at", "-id")[:limit]
    for notice in notices:
        match = ORDER_ID.search(notice.key)
        amount = notice.context.get("amount") if isinstance(notice.context, dict) else ""
        yield Entry(notice.created_at, "notice", _notice_text(notice), amount if isinstance(amount, str) else "",
                    match.group(0) if match else "", "system", _notice_status(notice))


def _notice_status(notice: Notice) -> str:
    if notice.sent_at:
        return "sent"
    if notice.attempts and notice.last_error:
        return "failed"
    return "pending"


def _notice_text(notice: Notice) -> str:
    what = f"E-mail “{NOTICE_WORDS.get(notice.kind, notice.kind.replace('_', ' '))}”"
    tries = f"{notice.attempts} attempt{'s' if notice.attempts != 1 else ''}"
    if notice.sent_at:
        return f"{what} sent {utc(notice.sent_at)} ({tries})"
    if notice.attempts and notice.last_error:
        return f"{what} not sent after {tries}: {notice.last_error[:120]}; next try {utc(notice.next_attempt_at)}"
    return f"{what} waiting to be sent ({tries} so far)"


def _error_entries(account, limit: int) -> Iterable[Entry]:
    reports = ErrorReport.objects.filter(account=account).order_by("-at", "-id")[:limit]
    for report in reports:
        yield Entry(report.at, "error", f"Saw error {report.reference}: {report.status} {report.code}, {report.message}",
                    actor="owner", status="failed")
