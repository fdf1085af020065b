"""The one clock of camcare: every "now" comes from here (never datetime.now()).

An account follows real time until its first test-clock move (API.md, test clocks);
from then on its clock stands still at `Account.test_clock_at` until moved again.
"""

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from camcare.domain.periods import whole_seconds


def real_now() -> datetime:
    return whole_seconds(timezone.now())


def now(account=None) -> datetime:
    """The current instant for `account` (UTC, whole seconds)."""
    if account is not None and settings.TEST_CLOCKS and account.test_clock_at is not None:
        return account.test_clock_at
    return real_now()
