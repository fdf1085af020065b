"""Write a notice in the event's transaction; send it after the commit; retry what failed."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string

from camcare import clock
from camcare.notices.models import Notice

log = logging.getLogger("camcare.notices")

SENDING_TIMEOUT = timedelta(minutes=5)  # a sender silent this long died
RETRY_BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))


def enqueue(*, account, kind: str, key: str, context: dict) -> Notice | None:
    """Record the notice of an event inside the event's transaction, and send it once that
    transaction commits. The same `key` again records nothing (None)."""
    now = clock.real_now()
    try:
        with transaction.atomic():  # a savepoint: a duplicate must not break the event
            notice = Notice.objects.create(account=account, kind=kind, key=key, context=context,
                                           created_at=now, next_attempt_at=now)
    except IntegrityError:
        return None
    transaction.on_commit(lambda: send(notice.pk))
    return notice


def _render(notice: Notice) -> EmailMultiAlternatives:
    context = {**notice.context, "site_url": settings.SITE_URL}
    subject = render_to_string(f"notices/{notice.kind}.subject.txt", context).strip()
    message = EmailMultiAlternatives(subject, render_to_string(f"notices/{notice.kind}.txt", context),
                                     None, [notice.account.email])
    message.attach_alternative(render_to_string(f"notices/{notice.kind}.html", context), "text/html")
    return message


def send(notice_id: int) -> bool:
    """Send one notice if no other sender holds it. True when it went out now."""
    now = clock.real_now()
    claimed = Notice.objects.filter(pk=notice_id, sent_at__isnull=True).filter(
        Q(sending_since__isnull=True) | Q(sending_since__lt=now - SENDING_TIMEOUT)
    ).update(sending_since=now, attempts=F("attempts") + 1)
    if not claimed:
        return False
    notice = Notice.objects.select_related("account").get(pk=notice_id)
    try:
        _render(notice).send()
    except Exception as error:  # the SMTP server refused or is away: try again later
        backoff = RETRY_BACKOFF[min(notice.attempts, len(RETRY_BACKOFF)) - 1]
        Notice.objects.filter(pk=notice_id).update(sending_since=None, next_attempt_at=now + backoff,
                                                   last_error=str(error)[:300])
        log.warning("notice %s not sent (attempt %s): %s", notice.key, notice.attempts, error)
        return False
    Notice.objects.filter(pk=notice_id).update(sent_at=clock.real_now(), sending_since=None, last_error="")
    return True


def send_due(*, limit: int = 1000) -> int:
    """The sender job: every unsent notice whose attempt is due. Returns how many went out."""
    now = clock.real_now()
    due = Notice.objects.filter(sent_at__isnull=True, next_attempt_at__lte=now).filter(
        Q(sending_since__isnull=True) | Q(sending_since__lt=now - SENDING_TIMEOUT)
    ).order_by("id").values_list("pk", flat=True)[:limit]
    return sum(send(pk) for pk in list(due))
