"""Billing runs SIGKILLed at random points converge (issue 10): after the kills, the
reconciler and one more run, each (subscription, period) is charged exactly once at the
gateway and in the ledger, the ledger sums to zero, no order is left pending, and every
receipt reaches a real SMTP server (aiosmtpd on loopback) once.

Real processes, as in production: `manage.py run_billing --workers W` starts W
`manage.py db_worker` processes that take the batches from the django-tasks-db queue; the
whole process group (the run and its workers) is killed with SIGKILL, several times, at
random instants (the seed is printed, so a failure can be replayed with
CAMCARE_FAULT_SEED). SQLite with one worker; PostgreSQL (when DATABASE_URL points at
one, as in .ci/run's PostgreSQL pass) with three. The subscriptions are made by the billing
bench's own set-up (bench/billing_run.py), all due at the same instant.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.concurrency.conftest import PYTHON, ROOT, _database, _postgres_url
from tests.notices.mail import Inbox, free_port

N = int(os.environ.get("CAMCARE_FAULT_N", 2000))
KILLS = int(os.environ.get("CAMCARE_FAULT_KILLS", 4))
AT = "2027-04-01T06:00:00Z"  # bench/billing_run.py: every period ended at 2027-04-01T00:00Z
BENCH = ROOT / "bench" / "billing_run.py"
RUN_TIMEOUT = 600  # seconds for the last, unkilled run on a busy 2-core machine

CHECK = """
import json
from django.db.models import Count, Sum
from camcare.billing.models import LedgerEntry, Order, SandboxCharge, Subscription
from camcare.notices.models import Notice
renewals = Order.objects.filter(purpose="renewal")
print(json.dumps({
    "subscriptions": Subscription.objects.count(),
    "renewed": renewals.filter(status="succeeded").values("account_id", "period_start").distinct().count(),
    "renewal_orders": renewals.filter(status="succeeded").count(),
    "twice": renewals.exclude(status="failed").values("account_id", "period_start")
             .annotate(k=Count("id")).filter(k__gt=1).count(),
    "charges": SandboxCharge.objects.filter(succeeded=True).count(),
    "charged": SandboxCharge.objects.filter(succeeded=True).aggregate(s=Sum("amount"))["s"] or 0,
    "ordered": renewals.filter(status="succeeded").aggregate(s=Sum("amount"))["s"] or 0,
    "gateway_book": LedgerEntry.objects.filter(book="gateway").aggregate(s=Sum("amount"))["s"] or 0,
    "ledger": LedgerEntry.objects.aggregate(s=Sum("amount"))["s"] or 0,
    "unbalanced": LedgerEntry.objects.values("posting").annotate(s=Sum("amount")).exclude(s=0).count(),
    "pending": Order.objects.filter(status="pending").count(),
    "claimed": Subscription.objects.exclude(claimed_by="").count(),
    "period_ends": sorted({s.isoformat() for s in Subscription.objects.values_list("period_end", flat=True)}),
    "receipts": sorted(Notice.objects.filter(kind="receipt").values_list("key", flat=True)),
    "unsent": Notice.objects.filter(sent_at__isnull=True).count(),
}))
"""

# Every process is dead: what the killed runs held is settled at once, and a notice a
# killed sender held is free again (in production the reconciler and the sender wait until
# a hold is STALE_CLAIM / SENDING_TIMEOUT old).
RECONCILE_ALL = (
    "from datetime import timedelta; from camcare.billing import actions; "
    "from camcare.notices.models import Notice; "
    "Notice.objects.filter(sent_at__isnull=True).update(sending_since=None); "
    "print(actions.reconcile_pending(older_than=timedelta(0)))"
)


@pytest.fixture
def inbox():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


def _env(db_env: dict, smtp_port: int) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CAMCARE_", "DJANGO_", "PYTEST_")) and k != "DATABASE_URL"}
    env.update(db_env)
    env.update({
        "DJANGO_SETTINGS_MODULE": "camcare.settings", "CAMCARE_TEST_CLOCKS": "0", "CAMCARE_LOG_LEVEL": "ERROR",
        "CAMCARE_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "CAMCARE_EMAIL_HOST": "127.0.0.1", "CAMCARE_EMAIL_PORT": str(smtp_port), "PYTHONUNBUFFERED": "1",
    })
    return env


def _manage(env: dict, *args: str, timeout: float = RUN_TIMEOUT) -> str:
    done = subprocess.run([str(PYTHON), "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr[-4000:]}"
    return done.stdout


def _orders_written(db_env: dict) -> int:
    """Orders in the database now, read with bare SQL (no Django start-up per look)."""
    if "DATABASE_URL" in db_env:
        import psycopg

        with psycopg.connect(db_env["DATABASE_URL"]) as conn:
            return conn.execute("SELECT count(*) FROM billing_order").fetchone()[0]
    import sqlite3

    with sqlite3.connect(Path(db_env["CAMCARE_DATA_DIR"]) / "camcare.sqlite3", timeout=30) as conn:
        return conn.execute("SELECT count(*) FROM billing_order").fetchone()[0]


def _kill_a_run(env: dict, db_env: dict, workers: int, rng: random.Random) -> str:
    """Start a billing run with its workers in a process group of its own, and SIGKILL the
    whole group once it has written a random number more orders (then a random few
    milliseconds later, to land in a claim, a gateway call or a settle), or when it ends."""
    start = _orders_written(db_env)
    target = start + rng.randint(1, max(1, (N - start) // 2))
    linger = rng.uniform(0, 0.3)
    run = subprocess.Popen([str(PYTHON), "manage.py", "run_billing", "--at", AT, "--workers", str(workers),
                            "--batch-size", "100"], cwd=ROOT, env=env, start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + RUN_TIMEOUT
    while run.poll() is None and _orders_written(db_env) < target and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(linger)
    outcome = (f"ended by itself ({run.returncode})" if run.poll() is not None
               else f"killed after {_orders_written(db_env) - start} orders (+{linger * 1000:.0f} ms)")
    try:
        os.killpg(run.pid, signal.SIGKILL)  # the run and every db_worker it started
    except ProcessLookupError:
        pass
    run.wait()
    time.sleep(0.2)  # the group's last workers are reaped by the kernel
    return outcome


def _check(env: dict) -> dict:
    return json.loads(_manage(env, "shell", "-c", CHECK).strip().splitlines()[-1])


@pytest.mark.parametrize("workers", [1 if _postgres_url() is None else 3])
def test_billing_runs_killed_at_random_converge_to_each_period_charged_once(workers, inbox):
    messages, smtp_port = inbox
    seed = int(os.environ.get("CAMCARE_FAULT_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    print(f"fault test: seed {seed}, {N} subscriptions, {KILLS} kills, {workers} worker(s)")
    with tempfile.TemporaryDirectory(prefix="camcare-faults-") as tmp, _database(Path(tmp)) as db_env:
        env = _env(db_env, smtp_port)
        done = subprocess.run([sys.executable, str(BENCH), "child", "populate", json.dumps({"n": N})], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
        assert done.returncode == 0, done.stderr[-4000:]
        history = [_kill_a_run(env, db_env, workers, rng) for _ in range(KILLS)]
        killed = _check(env)
        assert killed["twice"] == 0, (history, killed)  # even before any repair
        _manage(env, "shell", "-c", RECONCILE_ALL)
        _manage(env, "run_billing", "--at", AT, "--workers", str(workers))
        _manage(env, "send_notices")
        after = _check(env)
        assert _manage(env, "run_billing", "--at", AT).startswith("billed 0 subscription(s), settled 0")

    assert after["subscriptions"] == N, history
    assert after["renewed"] == after["renewal_orders"] == after["charges"] == N, (history, after)
    assert after["twice"] == 0
    assert after["charged"] == after["ordered"] == after["gateway_book"] == N * 399
    assert (after["ledger"], after["unbalanced"]) == (0, 0)
    assert (after["pending"], after["claimed"]) == (0, 0)
    assert after["period_ends"] == ["2027-05-01T00:00:00+00:00"]
    assert after["unsent"] == 0
    order_ids = [key.removeprefix("receipt:") for key in after["receipts"]]
    assert len(order_ids) == N
    delivered = [message["Subject"].rsplit(" ", 1)[-1] for message in messages.messages]
    assert sorted(delivered) == sorted(order_ids), "each receipt delivered exactly once"
    print(f"fault test: {'; '.join(history)}; killed state {killed['renewed']} renewed, "
          f"{killed['pending']} pending, {killed['claimed']} claimed")
