"""Turning renewal off (POLICY.md section 13): the stop at the period end, scheduled now.

Nothing moves now and nothing is charged: the stop is a scheduled change like the annual
-> monthly switch (it replaces one), shown and undone (changes.drop_scheduled_change) until
the period end, when the renewal rules (bills.py) carry it out instead of billing. The
answer is R, with the erasures the stop will make, counted as a preview counts them.
"""

from __future__ import annotations

from camcare import clock
from camcare.audit.events import Event, audit
from camcare.billing import selectors
from camcare.billing.actions import payments
from camcare.billing.actions.apply_change import erasures_of
from camcare.billing.actions.changes import _settle_due, _subscription_and_balance
from camcare.billing.actions.common import as_refusal, refuse_if_store
from camcare.billing.errors import change_in_progress
from camcare.billing.outcomes import ChangeResult
from camcare.catalog import get_catalog
from camcare.domain.periods import iso_z
from camcare.domain.pricing import Outcome, schedule_stop


def stop_at_period_end(*, account, actor) -> ChangeResult:
    """Schedule every camera to free at the period end (409 past_due, managed_in_app_store,
    nothing_to_stop). Bumps the version: an open quote priced the renewal it no longer has."""
    for _ in range(3):  # the version moved between the read and the claim: read again
        at = clock.now(account)
        subscription, balance = _subscription_and_balance(account)
        refuse_if_store(subscription)
        if _settle_due(account, subscription, at):
            subscription, balance = _subscription_and_balance(account)
        snapshot = selectors.snapshot_of(subscription, selectors.current_plans(account), balance,
                                         card_payments=False)
        with as_refusal():
            outcome = schedule_stop(snapshot, at, get_catalog())
        erasures = erasures_of(outcome)  # the clips stored now that the stop would erase
        claimed, _ = payments.run(
            subscription.pk, guard={"version": subscription.version},
            prepare=lambda payment: None,
            apply=lambda payment, results, outcome=outcome, erasures=erasures: _schedule(
                payment, outcome, erasures, actor),
        )
        if claimed:
            return ChangeResult(outcome, erasures, subscription=selectors.subscription_summary(account))
        if selectors.subscription_or_none(account).claimed_by:
            break
    raise change_in_progress()


def _schedule(payment: payments.Payment, outcome: Outcome, erasures: list[dict], actor) -> None:
    subscription = payment.subscription
    already = subscription.scheduled_stop
    payments.release(payment, changed=not already, scheduled_stop=True, scheduled_cycle="")
    if already:
        return  # asked again: nothing changes
    audit(actor=actor, account=subscription.account, action=Event.STOP_SCHEDULED, at=outcome.at,
          old={"scheduled_cycle": subscription.scheduled_cycle or None, "scheduled_stop": False},
          new={"scheduled_stop": True, "at": iso_z(outcome.period.end)}, erasures=erasures)
