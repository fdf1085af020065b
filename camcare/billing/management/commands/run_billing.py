"""The billing job (cron it every few minutes): renewals and retries due at --at (default
now), a batch at a time, then the reconciler for payments a crash left pending, then the
app-store subscriptions whose store went silent past their expiry, then the reminders
before a bill (POLICY.md section 15: an annual renewal in 30 days, a card expiring before
a bill in 14). Idempotent: running it
twice, or two at once, never charges twice (POLICY.md section 5).

--workers 0 (the default) bills every batch in this process. --workers N queues a task
per batch (django.tasks, the django-tasks-db backend) and starts N `manage.py db_worker`
processes here, which exit once the queue is empty; `db_worker` processes on other
machines sharing the database take batches too. The notices the run wrote go out with
the sender: a queued `send_notices_task` for a task worker, or the `send_notices` job.
"""

from django.core.management.base import BaseCommand, CommandError

from camcare import clock
from camcare.billing import actions
from camcare.billing.actions import batch
from camcare.billing.tasks import fan_out
from camcare.domain.periods import parse_instant
from camcare.notices.outbox import wake_sender


class Command(BaseCommand):
    help = "Renew and retry every subscription due, then settle stale pending payments."

    def add_arguments(self, parser):
        parser.add_argument("--at", help="ISO 8601 instant to bill as of (default: now)")
        parser.add_argument("--limit", type=int, default=None, help="at most this many subscriptions")
        parser.add_argument("--workers", type=int, default=0,
                            help="db_worker processes to fan the batches out to (0: bill in this process)")
        parser.add_argument("--batch-size", type=int, default=batch.BATCH_SIZE,
                            help=f"subscriptions per batch (default {batch.BATCH_SIZE})")
        parser.add_argument("--threads", type=int, default=None,
                            help=f"gateway calls in flight per worker (default ${batch.THREADS_ENV} "
                                 f"or {batch.DEFAULT_THREADS})")

    def handle(self, *args, at=None, limit=None, workers=0, batch_size=batch.BATCH_SIZE, threads=None, **options):
        try:
            when = parse_instant(at) if at else clock.real_now()
        except ValueError as exc:
            raise CommandError("--at must be an ISO 8601 instant with a zone, e.g. 2027-04-01T00:00:00Z") from exc
        if workers < 0 or batch_size < 1 or (threads is not None and threads < 1):
            raise CommandError("--workers must be >= 0, --batch-size and --threads >= 1")
        if workers:
            ran, errors = fan_out(at=when, workers=workers, limit=limit, batch_size=batch_size, threads=threads)
            for error in errors:
                self.stderr.write(f"a task failed (what it had not claimed was billed after it; "
                                  f"its claims are the reconciler's): {error}")
        else:
            ran = actions.run_billing(at=when, limit=limit, batch_size=batch_size, threads=threads)
        settled = actions.reconcile_pending()
        ended = actions.expire_store_subscriptions(at=when)
        reminded = actions.send_due_reminders(at=when)
        if ran or settled or reminded:
            wake_sender()
        self.stdout.write(f"billed {ran} subscription(s), settled {settled} pending payment(s), "
                          f"ended {ended} lapsed store subscription(s), made {reminded} reminder(s) "
                          f"as of {when:%Y-%m-%dT%H:%M:%SZ}")
