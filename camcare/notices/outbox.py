"""Write a notice in the event's transaction; send it after the commit; retry what failed.

Two ways in: `enqueue`, one notice sent right after its event commits (a change, a test
clock); and the bulk path of the billing run, `collecting` + `enqueue_many`, which writes a
batch's notices in one statement and leaves the sending to the sender (`send_due`: the
`send_notices` job, or the `send_notices_task` that `wake_sender` queues after the run),
since sending hundreds of e-mails inline would hold the run up.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.tasks import task
from django.template.loader import render_to_string

from camcare import clock
from camcare.notices.models import Notice

log = logging.getLogger("camcare.notices")

SENDING_TIMEOUT = timedelta(minutes=5)  # a sender silent this long died
RETRY_BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))
SENDER_PRIORITY = -50  # below the billing run's batches: a worker bills first, then sends


@dataclass(frozen=True)
class Draft:
    """A notice not written yet: what `enqueue` was asked inside `collecting`."""

    account: object
    kind: str
    key: str
    context: dict


_drafts: ContextVar[list[Draft] | None] = ContextVar("camcare_notice_drafts", default=None)


@contextmanager
def collecting() -> Iterator[list[Draft]]:
    """Inside this block, `enqueue` (and every `record_*` built on it) writes nothing and
    appends a Draft to the list yielded; the caller writes them with `enqueue_many` in the
    same transaction. The code that decides a notice stays the one of the single event."""
    drafts: list[Draft] = []
    token = _drafts.set(drafts)
    try:
        yield drafts
    finally:
        _drafts.reset(token)


def enqueue(*, account, kind: str, key: str, context: dict) -> Notice | None:
    """Record the notice of an event inside the event's transaction, and send it once that
    transaction commits. The same `key` again records nothing (None). Inside `collecting`:
    only drafted (None), for the caller's `enqueue_many`."""
    drafts = _drafts.get()
    if drafts is not None:
        drafts.append(Draft(account, kind, key, context))
        return None
    now = clock.real_now()
    try:
        with transaction.atomic():  # a savepoint: a duplicate must not break the event
            notice = Notice.objects.create(account=account, kind=kind, key=key, context=context,
                                           created_at=now, next_attempt_at=now)
    except IntegrityError:
        return None
    transaction.on_commit(lambda: send(notice.pk))
    return notice


def enqueue_many(drafts: list[Draft]) -> None:
    """Record many notices inside the caller's transaction, in one statement; a key
    already recorded (an event recorded twice) is skipped by the unique key, as `enqueue`
    skips it (ON CONFLICT DO NOTHING, in SQLite and PostgreSQL). Nothing is sent inline: the sender sends them after the commit (`send_due`,
    woken by `wake_sender`)."""
    if not drafts:
        return
    now = connection.ops.adapt_datetimefield_value(clock.real_now())
    context = Notice._meta.get_field("context")
    quote = connection.ops.quote_name
    names = ["key", "kind", "context", "account", "created_at", "next_attempt_at", "attempts", "last_error"]
    fields = [Notice._meta.get_field(name) for name in names]
    # bulk_create's per-value expressions cost more than the rest of a renewal's notice
    # (measured on the billing run, bench/billing_run.py).
    insert = (f"INSERT INTO {quote(Notice._meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) ")
    conflict = f" ON CONFLICT ({quote('key')}) DO NOTHING"
    if connection.vendor == "postgresql":
        # One array per column, in binary, the contexts as JSON text: the statement's text is
        # the same for any number of rows, so psycopg parses it once (a VALUES list of
        # thousands of placeholders cost more in its Python parser than the server spent),
        # and its binary arrays of text and instants dump several times faster.
        import psycopg

        rows = [(draft.key, draft.kind, json.dumps(draft.context, cls=context.encoder),
                 getattr(draft.account, "pk", draft.account), now, now, 0, "") for draft in drafts]
        arrays = ", ".join(f"CAST(%b AS {field.db_type(connection)}[])" for field in fields)
        connection.ensure_connection()
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(f"{insert}SELECT * FROM unnest({arrays}){conflict}",
                           [list(column) for column in zip(*rows, strict=True)])
        return
    rows = [(draft.key, draft.kind, context.get_db_prep_save(draft.context, connection),
             getattr(draft.account, "pk", draft.account), now, now, 0, "") for draft in drafts]
    with connection.cursor() as cursor:  # SQLite: one statement prepared once, each row bound in C
        cursor.executemany(f"{insert}VALUES ({', '.join(['%s'] * len(fields))}){conflict}", rows)


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


def _due(limit: int) -> list[int]:
    now = clock.real_now()
    return list(Notice.objects.filter(sent_at__isnull=True, next_attempt_at__lte=now).filter(
        Q(sending_since__isnull=True) | Q(sending_since__lt=now - SENDING_TIMEOUT)
    ).order_by("id").values_list("pk", flat=True)[:limit])


def send_due(*, limit: int = 1000) -> int:
    """The sender job: every unsent notice whose attempt is due. Returns how many went out."""
    return sum(send(pk) for pk in _due(limit))


def send_all_due(*, limit: int = 1000, rounds: int = 10_000) -> int:
    """`send_due` until nothing is due: what a billing run wrote goes out in one call. Ends,
    since a notice that failed is due again only after its backoff and one that another
    sender holds is not due. Returns how many went out."""
    sent = 0
    for _ in range(rounds):
        due = _due(limit)
        if not due:
            break
        sent += sum(send(pk) for pk in due)
    return sent


@task(priority=SENDER_PRIORITY)
def send_notices_task() -> int:
    """The sender as a django.tasks task, for a `db_worker` pool (README "Billing run")."""
    return send_all_due()


def wake_sender() -> None:
    """Queue `send_notices_task` unless one is already waiting: one wake-up sends every
    notice written before it runs. Without any task worker, the `send_notices` job (cron)
    sends them all the same; the waiting task then finds nothing left."""
    if not _sender_waiting():
        send_notices_task.enqueue()


def _sender_waiting() -> bool:
    try:
        from django_tasks_db.backend import DatabaseBackend
        from django_tasks_db.models import DBTaskResult
    except ImportError:  # another backend: no queue to look into
        return False
    backend = send_notices_task.get_backend()
    if not isinstance(backend, DatabaseBackend):
        return False
    return DBTaskResult.objects.ready().filter(
        backend_name=backend.alias, task_path=send_notices_task.module_path).exists()
