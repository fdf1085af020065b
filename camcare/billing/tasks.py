"""The billing run fanned out (README "Billing run"): a few batches at a time are one
django.tasks task (a worker pipelines them: one batch's gateway calls wait while the next
is claimed), kept by the django-tasks-db backend in the database and taken by
`manage.py db_worker` processes, on this machine or on many sharing one PostgreSQL.

The database, not the queue, decides what is billed: a task re-selects, under its
claims, what of its ids is still due and unclaimed (batch.run_batches), so a task run twice
bills nothing twice, and a task lost with its worker loses nothing: what it had not
claimed is billed by the sweep at the end of the run (or the next run), what it had
claimed is settled by the reconciler once its claims are stale (reconciler.STALE_CLAIM;
a live batch refreshes its claims, so only a dead one's go stale).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import connections, transaction
from django.tasks import TaskResultStatus, task

from camcare.billing.actions import batch
from camcare.domain.periods import iso_z, parse_instant

log = logging.getLogger("camcare.billing")

BATCH_PRIORITY = 10  # above the notice sender's: a worker bills first
BATCHES_PER_TASK = 4  # batches a worker pipelines per task: more tasks than workers, still
WORKER_INTERVAL = "0.2"  # seconds a worker waits on a busy queue before looking again


@task(priority=BATCH_PRIORITY)
def bill_batches(batches: list[list[int]], at: str, threads: int | None = None) -> int:
    """Batches of the billing run (subscription ids) at the instant `at` (ISO 8601).
    Returns how many bills ran."""
    return batch.run_batches(batches, at=parse_instant(at), threads=threads)


def enqueue_batches(*, at: datetime, limit: int | None = None, batch_size: int = batch.BATCH_SIZE,
                    threads: int | None = None) -> tuple[list[list[int]], list]:
    """Tasks of BATCHES_PER_TASK batches due at `at`, in time order, all committed before
    any worker looks. Returns (the batches, the tasks' results)."""
    batches = batch.due_batches(at, limit=limit, size=batch_size)
    with transaction.atomic():
        return batches, [bill_batches.enqueue(batches[start:start + BATCHES_PER_TASK], iso_z(at), threads)
                         for start in range(0, len(batches), BATCHES_PER_TASK)]


def fan_out(*, at: datetime, workers: int, limit: int | None = None, batch_size: int = batch.BATCH_SIZE,
            threads: int | None = None) -> tuple[int, list[str]]:
    """The billing run on `workers` db_worker processes started here (and any others that
    serve the same queue). Returns (bills ran, errors of failed tasks). What a failed or
    lost task left unclaimed is billed here at the end, in this process (the same batches
    again: only what is still due and unclaimed in them)."""
    batches, results = enqueue_batches(at=at, limit=limit, batch_size=batch_size, threads=threads)
    connections.close_all()  # the workers are other processes; nothing of ours is held meanwhile
    run_workers(workers)
    ran, errors = 0, []
    for result in results:
        result.refresh()
        if result.status == TaskResultStatus.SUCCESSFUL:
            ran += result.return_value
        elif result.status == TaskResultStatus.FAILED:
            errors += [f"task {result.id}: {error.traceback.strip().splitlines()[-1]}" for error in result.errors[-1:]]
    return ran + batch.run_batches(batches, at=at, threads=threads), errors


def worker_command() -> list[str]:
    """`manage.py db_worker` that takes tasks until the queue is empty, then exits."""
    manage = Path(settings.BASE_DIR) / "manage.py"
    entry = [str(manage)] if manage.exists() else ["-m", "django"]
    return [sys.executable, *entry, "db_worker", "--batch", "--no-startup-delay", "--no-reload",
            "--interval", WORKER_INTERVAL, "--verbosity", "0"]


def run_workers(count: int) -> None:
    """Start `count` workers and wait for them all (a worker that died is no error: what
    it held is the reconciler's, what it had not taken is another worker's or the sweep's)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "camcare.settings")}
    processes = [subprocess.Popen(worker_command(), cwd=settings.BASE_DIR, env=env) for _ in range(count)]
    for process in processes:
        if process.wait():
            log.warning("billing: db_worker %s exited with %s", process.pid, process.returncode)
