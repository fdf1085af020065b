"""The daily sweep of reminders before a bill (POLICY.md section 15):

- 30 days before an annual renewal: its date, what it will bill, how to stop it;
- 14 days before a bill, when the saved card expires before it (a trial's first bill too);
- 3 days before a free trial ends: what it will charge and on which card, or that no card
  is saved and what happens then;
- 3 days before a scheduled stop: its date, what it will erase, the download.

A reminder falls due at `bill - lead` and stays due until the bill, so a sweep that was
down for days still sends it (late, once). Each is keyed by (kind, subscription, bill
date): a second sweep, two sweeps at once or a sweep after a crash make none twice
(the outbox's unique key), and a renewal moves the bill date and so makes a new one.

Queries: candidates come from the (status, period_end) index, in pages of PAGE by id;
the keys already made are read per page in one query, and only the subscriptions still
without their reminder are loaded (with account and card), so a sweep that finds
everything done reads two light queries per page.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import F, QuerySet
from django.db.models.functions import ExtractMonth, ExtractYear

from camcare.billing import selectors
from camcare.billing.actions.bills import RENEWS
from camcare.billing.actions.renewals import next_period_terms
from camcare.billing.emails import (
    record_annual_renewal,
    record_card_expiring,
    record_stop_reminder,
    record_trial_ending,
    reminder_key,
)
from camcare.billing.models import Channel, PaymentMethod, Subscription
from camcare.domain.periods import Cycle
from camcare.domain.pricing import Status, renewal_bill
from camcare.notices.models import Notice

ANNUAL_RENEWAL_LEAD = timedelta(days=30)
CARD_EXPIRING_LEAD = timedelta(days=14)
TRIAL_ENDING_LEAD = timedelta(days=3)
STOP_LEAD = timedelta(days=3)
PAGE = 500  # subscriptions per page of the sweep (one key lookup, one load each)


def send_due_reminders(*, at: datetime, account=None) -> int:
    """Make every reminder due by `at` (UTC), or only `account`'s (its test clock passing
    through `at`); each goes out after its own commit. Returns how many were made."""
    sweeps = [
        (annual_renewals_due(at), "annual_renewal", _remind_annual_renewal),
        (expiring_cards_due(at), "card_expiring", lambda sub: _remind_card_expiring(sub, at=at)),
        (trials_ending_due(at), "trial_ending", _remind_trial_ending),
        (stops_due(at), "stop_reminder", _remind_stop),
    ]
    return sum(_sweep(due if account is None else due.filter(account=account), kind, remind)
               for due, kind, remind in sweeps)


def _period_ending(at: datetime, lead: timedelta) -> QuerySet[Subscription]:
    """Subscriptions that camcare bills itself (not the app stores), active or in a trial,
    whose period ends after `at` and at most `lead` after it: end - lead <= at < end."""
    return (Subscription.objects.filter(status__in=RENEWS, period_end__gt=at, period_end__lte=at + lead)
            .exclude(channel=Channel.APP_STORE))


def _billed_here(at: datetime, lead: timedelta) -> QuerySet[Subscription]:
    """Those of _period_ending that bill at the period end: a stop bills nothing."""
    return _period_ending(at, lead).filter(scheduled_stop=False)


def annual_renewals_due(at: datetime) -> QuerySet[Subscription]:
    """Annual subscriptions renewing as annual within 30 days (a scheduled switch to monthly
    bills a month, not a year: no annual reminder; a trial's first bill has its own)."""
    return _billed_here(at, ANNUAL_RENEWAL_LEAD).filter(status=Status.ACTIVE, cycle=Cycle.ANNUAL.value,
                                                        scheduled_cycle="")


def trials_ending_due(at: datetime) -> QuerySet[Subscription]:
    """Free trials ending within 3 days whose end bills the first period."""
    return _billed_here(at, TRIAL_ENDING_LEAD).filter(status=Status.TRIALING)


def stops_due(at: datetime) -> QuerySet[Subscription]:
    """Scheduled stops (a trial's too) carried out within 3 days."""
    return _period_ending(at, STOP_LEAD).filter(scheduled_stop=True)


def expiring_cards_due(at: datetime) -> QuerySet[Subscription]:
    """Subscriptions billed within 14 days whose saved card expires before the bill: its
    expiry month (valid through its last instant, UTC) is before the bill's month. A card
    without an expiry (unknown) is never matched."""
    return (_billed_here(at, CARD_EXPIRING_LEAD)
            .filter(account__payment_method__exp_year__isnull=False, account__payment_method__exp_month__isnull=False)
            # Months counted as year * 12 + month: the card's last month is before the bill's.
            .annotate(bill_month=ExtractYear("period_end", tzinfo=UTC) * 12 + ExtractMonth("period_end", tzinfo=UTC),
                      card_month=F("account__payment_method__exp_year") * 12 + F("account__payment_method__exp_month"))
            .filter(card_month__lt=F("bill_month")))


def _sweep(due: QuerySet[Subscription], kind: str, remind: Callable[[Subscription], bool]) -> int:
    """`remind` each subscription of `due` that has no `kind` reminder for its bill yet."""
    made, after = 0, 0
    while True:
        page = list(due.filter(pk__gt=after).order_by("pk").values_list("pk", "period_end")[:PAGE])
        if not page:
            return made
        after = page[-1][0]
        keys = {reminder_key(kind, pk, period_end): pk for pk, period_end in page}
        done = set(Notice.objects.filter(key__in=list(keys)).values_list("key", flat=True))
        todo = [pk for key, pk in keys.items() if key not in done]
        for subscription in Subscription.objects.filter(pk__in=todo).select_related(
                "account", "account__payment_method").order_by("pk"):
            with transaction.atomic():  # the reminder's own event: it goes out after this commit
                made += remind(subscription)


def _card_of(subscription: Subscription) -> PaymentMethod | None:
    try:
        return subscription.account.payment_method  # loaded with the page (select_related)
    except PaymentMethod.DoesNotExist:
        return None


def _next_bill(subscription: Subscription) -> tuple[int, int]:
    """(card part, credit used) of the bill at the period end, at today's plans and prices,
    the credit balance first (as the renewal will bill it, POLICY.md section 5)."""
    _, _, _, prices = next_period_terms(subscription)
    credit_used, card = renewal_bill(sum(prices.values()), selectors.credit_balance(subscription.account))
    return card, credit_used


def _remind_annual_renewal(subscription: Subscription) -> bool:
    card, credit_used = _next_bill(subscription)
    if card + credit_used == 0:
        return False  # nothing renews (every camera back on free meanwhile)
    return record_annual_renewal(subscription, amount=card, credit_used=credit_used,
                                 currency=subscription.currency, card=_card_of(subscription))


def _remind_card_expiring(subscription: Subscription, *, at: datetime) -> bool:
    card, _ = _next_bill(subscription)
    method = _card_of(subscription)
    if card == 0 or method is None:
        return False  # credit pays the whole bill: the card is not charged
    return record_card_expiring(subscription, card=method, amount=card, currency=subscription.currency, at=at)


def _remind_trial_ending(subscription: Subscription) -> bool:
    card, credit_used = _next_bill(subscription)
    return record_trial_ending(subscription, amount=card, credit_used=credit_used,
                               currency=subscription.currency, card=_card_of(subscription))


def _remind_stop(subscription: Subscription) -> bool:
    return record_stop_reminder(subscription, plans=selectors.current_plans(subscription.account))
