"""Per-account test clocks (API.md): time moves forward only, and everything that falls due
on the way runs at its own instant."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from camcare import clock
from camcare.audit.events import Event, audit
from camcare.billing import selectors
from camcare.billing.errors import BillingRefusal
from camcare.cameras import erasure, holds
from camcare.catalog import get_catalog
from camcare.domain.periods import iso_z, window_start


def set_test_clock(account, at: datetime) -> None:
    account.test_clock_at = at
    type(account).objects.filter(pk=account.pk).update(test_clock_at=at)


def advance_test_clock(*, account, to: datetime, actor) -> datetime:
    """Freeze the account's clock at `to`, running everything due on the way (API.md)."""
    from camcare.billing.actions.reminders import send_due_reminders
    from camcare.billing.actions.renewals import run_due  # the billing run, shared with the job
    from camcare.billing.actions.store_entitlements import expire_store_subscriptions

    if not settings.TEST_CLOCKS:
        raise BillingRefusal("invalid_time", "Test clocks are off on this server.")
    if to < clock.now(account):
        raise BillingRefusal("invalid_time", "A test clock only moves forward.")
    set_test_clock(account, clock.now(account))
    # The daily sweep's reminders of each bill passed on the way, made just before it (a
    # reminder stays due until its bill, POLICY.md section 15), so one long jump makes
    # every reminder a day-by-day clock would have made, once each (their keys).
    run_due(account=account, until=to, on_test_clock=True,
            before_each=lambda when: send_due_reminders(at=when - timedelta(seconds=1), account=account))
    set_test_clock(account, to)
    expire_store_subscriptions(at=to, account=account)
    send_due_reminders(at=to, account=account)
    _erase_aged_clips(account, to)
    audit(actor=actor, account=account, action=Event.TEST_CLOCK_ADVANCED, at=to, to=iso_z(to))
    return to


def _erase_aged_clips(account, at: datetime) -> None:
    """The retention sweep of one account at `at`: clips older than each camera's window
    (held clips excepted: erase_clips_before leaves them), then the held clips whose
    hold ended by `at` (POLICY.md section 6)."""
    catalog = get_catalog()
    for camera, plan in selectors.current_plans(account).items():
        erasure.erase_clips_before(camera, window_start(at, catalog[plan].history_days))
    holds.erase_expired_holds(at=at, account=account)
