"""Deliver an existing notice again (support's "resend the receipt").

A notice's key is unique per event, so the outbox never records a second one for the same
receipt; resending re-opens the row that exists: `sent_at` back to None and its next
attempt due now, then the usual sender sends it after the commit (and retries it if
sending fails, like any notice). The caller audits it in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q

from camcare import clock
from camcare.notices import outbox
from camcare.notices.models import Notice


class NotResendable(Exception):
    """The notice is being sent this very moment: a resend now could send it twice."""


@dataclass(frozen=True)
class Resent:
    notice: Notice
    previously_sent_at: datetime | None  # None: it had never gone out (a resend sends it now)


def resend(notice: Notice) -> Resent:
    """Re-open `notice` for delivery, sent after the caller's transaction commits. Raises
    NotResendable while a sender holds it (its claim is younger than SENDING_TIMEOUT)."""
    now = clock.real_now()
    not_in_flight = Q(sending_since__isnull=True) | Q(sending_since__lt=now - outbox.SENDING_TIMEOUT)
    previously_sent_at = Notice.objects.filter(pk=notice.pk).values_list("sent_at", flat=True).first()
    reopened = Notice.objects.filter(not_in_flight, pk=notice.pk).update(
        sent_at=None, sending_since=None, next_attempt_at=now, last_error="",
    )
    if not reopened:
        raise NotResendable(notice.key)
    transaction.on_commit(lambda: outbox.send(notice.pk))
    notice.refresh_from_db()
    return Resent(notice, previously_sent_at)
