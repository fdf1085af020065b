"""The billing run fanned out to `manage.py db_worker` processes (camcare.billing.tasks):
each due period billed once whatever the workers do, a dead worker's batch settled by
the reconciler, what it never reached billed by the run's sweep."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import timedelta
from io import StringIO
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.tasks import TaskResultStatus

from camcare.billing import actions, tasks
from camcare.billing.models import Order, Subscription
from camcare.domain.periods import iso_z
from tests.billing.test_batch_run import (  # noqa: F401 (fixtures)
    AT,
    assert_once_and_balanced,
    migrated_sqlite,
    owner,
    real_db,
)
from tests.conftest import utc

pytestmark = pytest.mark.django_db(transaction=True)  # see real_db


@pytest.fixture
def workers_env(real_db, monkeypatch):  # noqa: F811 (the fixture)
    """The environment `run_billing --workers` hands its db_worker processes: this test's
    database (the SQLite file's folder, or the PostgreSQL test database)."""
    if real_db is not None:
        monkeypatch.setenv("CAMCARE_DATA_DIR", str(real_db.parent))
        monkeypatch.delenv("DATABASE_URL", raising=False)
    else:
        db = connection.settings_dict
        credentials = quote(db["USER"] or "") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
        monkeypatch.setenv("DATABASE_URL", f"postgres://{credentials}@{db['HOST'] or 'localhost'}:"
                                           f"{db['PORT'] or 5432}/{db['NAME']}")
    monkeypatch.setenv("CAMCARE_TEST_CLOCKS", "1")  # the accounts' clocks, as in this process
    monkeypatch.setenv("CAMCARE_LOG_LEVEL", "WARNING")
    return os.environ


def due_owners(count: int, *, declined_every: int = 5) -> list:
    """`count` owners whose Feb and Mar periods both fell due before AT (a run down for a
    month), every `declined_every`-th with a card that declines (one attempt, then past_due)."""
    return [owner(f"f{n}", utc(2027, 1, 3 + n % 12, 9),
                  token="tok_chargeDeclined" if declined_every and n % declined_every == 0 else "tok_visa")
            for n in range(count)]


def expected_bills(count: int, *, declined_every: int = 5) -> int:
    return sum(1 if declined_every and n % declined_every == 0 else 2 for n in range(count))


def test_it_bills_each_due_period_once_on_two_workers(workers_env):
    due_owners(14)
    out = StringIO()
    call_command("run_billing", "--at", iso_z(AT), "--workers", "2", "--batch-size", "3", "--threads", "2",
                 stdout=out, stderr=out)
    assert f"billed {expected_bills(14)} subscription(s)" in out.getvalue(), out.getvalue()
    from django_tasks_db.models import DBTaskResult

    batches = DBTaskResult.objects.filter(task_path=tasks.bill_batches.module_path)
    assert batches.count() == 2  # 14 due subscriptions, 3 a batch: 5 batches, 4 a task
    assert set(batches.values_list("status", flat=True)) == {TaskResultStatus.SUCCESSFUL}
    assert_once_and_balanced()
    call_command("run_billing", "--at", iso_z(AT), "--workers", "2", stdout=out)  # again: nothing left
    assert "billed 0 subscription(s)" in out.getvalue()


def test_it_converges_when_a_worker_dies_mid_batch(workers_env, monkeypatch):
    due_owners(9, declined_every=0)  # paid cards: the reconciler's instant moves no retry date
    monkeypatch.setenv("CAMCARE_SANDBOX_LATENCY_MS", "400")  # long enough to die during a call
    monkeypatch.setattr(tasks, "BATCHES_PER_TASK", 1)  # three tasks: one for the worker to die in
    tasks.enqueue_batches(at=AT, batch_size=3, threads=1)
    connections.close_all()
    worker = subprocess.Popen(tasks.worker_command(), env=dict(os.environ), start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not Subscription.objects.exclude(claimed_by="").exists():
            assert worker.poll() is None and time.monotonic() < deadline, "the worker claimed nothing"
            time.sleep(0.02)
        time.sleep(0.5)  # into its gateway calls
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    connections.close_all()
    stranded = set(Subscription.objects.exclude(claimed_by="").values_list("pk", flat=True))
    assert stranded and Order.objects.filter(status="pending").exists()

    monkeypatch.setenv("CAMCARE_SANDBOX_LATENCY_MS", "0")
    out = StringIO()
    call_command("run_billing", "--at", iso_z(AT), "--workers", "1", "--batch-size", "3", stdout=out)
    # The dead worker's claims are not stale yet: the run billed around them.
    assert set(Subscription.objects.exclude(claimed_by="").values_list("pk", flat=True)) == stranded
    assert actions.reconcile_pending(older_than=timedelta(0)) == len(stranded)
    call_command("run_billing", "--at", iso_z(AT), stdout=out)  # what the settled claims left due
    renewals = Order.objects.filter(purpose="renewal")
    assert renewals.count() == expected_bills(9, declined_every=0)
    assert_once_and_balanced()
