"""Billing run speed: renewals per second of `run_billing`, next to bare SQL.

    .venv/bin/python bench/billing_run.py [--n 100000] [--latency-n 10000] [--only ...]
    .venv/bin/python bench/billing_run.py --quick          # --n 2000 --latency-n 1000

Makes N subscriptions due (bulk inserts into a template database, copied for each run),
then times the billing run (camcare.billing.actions.batch / tasks.fan_out, the code of
`manage.py run_billing`) in a fresh process per scenario:

  sqlite     SQLite, one worker (in-process), the sandbox at no latency
  pg1, pg2   PostgreSQL, `--workers 1` and `--workers 2` (db_worker processes)
  lat-sqlite SQLite, one worker, the sandbox at --latency-ms (default 200) for --latency-n
  lat-pg     PostgreSQL, one worker, the same
  baseline   the same rows written with bare SQL, one transaction per batch (SQLite, PG)

PostgreSQL: DATABASE_URL's server when it points at one (the bench creates and drops its
own databases there), else a throwaway cluster started with initdb/pg_ctl in a temp dir,
as .ci/run does. Each run is checked: every subscription renewed once, one sandbox charge
each, no pending order, the ledger summing to zero. Figures on a shared 2-core machine
are noisy: each is one run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PERIOD_START = datetime(2027, 3, 1, tzinfo=UTC)
PERIOD_END = datetime(2027, 4, 1, tzinfo=UTC)
AT = datetime(2027, 4, 1, 6, tzinfo=UTC)  # the run's instant: every period ended at 00:00
CHUNK = 5000  # rows per bulk INSERT of the set-up
SCENARIOS = ("sqlite", "pg1", "pg2", "lat-sqlite", "lat-pg", "baseline")


# ---------------------------------------------------------------- the child processes


def _django() -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def populate(n: int) -> dict:
    """N accounts with one camera on plus (monthly, 399), a tok_visa card, and a
    subscription whose period ended at PERIOD_END: all due at AT."""
    from django.core.management import call_command

    from camcare.accounts.models import Account
    from camcare.billing.models import PaymentMethod, Subscription, SubscriptionLine
    from camcare.cameras.models import Camera

    call_command("migrate", verbosity=0)
    for start in range(0, n, CHUNK):
        ids = range(start, min(n, start + CHUNK))
        Account.objects.bulk_create([Account(id=f"acc_bench{i:012d}", email=f"b{i}@bench.example", password="!")
                                     for i in ids])
        Camera.objects.bulk_create([Camera(id=f"cam_bench{i:012d}", account_id=f"acc_bench{i:012d}", name=f"Cam {i}",
                                           serial=f"BENCH-{i}", plan="plus", device_token_hash=f"{i:064d}")
                                    for i in ids])
        PaymentMethod.objects.bulk_create([PaymentMethod(id=f"pm_bench{i:012d}", account_id=f"acc_bench{i:012d}",
                                                         token="tok_visa", brand="Visa", last4="4242",
                                                         created_at=PERIOD_START) for i in ids])
        subscriptions = Subscription.objects.bulk_create([
            Subscription(account_id=f"acc_bench{i:012d}", status="active", cycle="monthly", anchor=PERIOD_START,
                         period_start=PERIOD_START, period_end=PERIOD_END, currency="USD") for i in ids])
        SubscriptionLine.objects.bulk_create([
            SubscriptionLine(subscription=subscription, plan="plus", camera_key=f"cam_bench{i:012d}", cycle="monthly",
                             unit_price=399, paid=399, period_start=PERIOD_START, started_at=PERIOD_START)
            for i, subscription in zip(ids, subscriptions, strict=True)])
    return {"n": n}


def bill(workers: int, batch_size: int, threads: int | None) -> dict:
    from django.db import connections

    from camcare.billing import tasks
    from camcare.billing.actions import batch

    connections.close_all()
    started = time.perf_counter()
    if workers:
        ran, errors = tasks.fan_out(at=AT, workers=workers, batch_size=batch_size, threads=threads)
    else:
        ran, errors = batch.run_billing(at=AT, batch_size=batch_size, threads=threads), []
    elapsed = time.perf_counter() - started
    return {"elapsed": span(tasks) if workers else elapsed, "wall": elapsed, "ran": ran, "errors": errors, **check()}


def span(tasks) -> float:
    """Seconds from the first batch task's start to the last one's end: the workers'
    billing, without the seconds each db_worker process takes to start Django."""
    from django.db.models import Max, Min
    from django_tasks_db.models import DBTaskResult

    times = DBTaskResult.objects.filter(task_path=tasks.bill_batches.module_path).aggregate(
        first=Min("started_at"), last=Max("finished_at"))
    return (times["last"] - times["first"]).total_seconds()


def check() -> dict:
    """What the run left: renewals, charges, pending orders, the ledger's sum."""
    from django.db.models import Count, Sum

    from camcare.billing.models import LedgerEntry, Order, SandboxCharge

    renewals = Order.objects.filter(purpose="renewal")
    per_period = renewals.values("account_id", "period_start").annotate(k=Count("id")).filter(k__gt=1).count()
    return {
        "renewed": renewals.filter(status="succeeded").count(),
        "pending": Order.objects.filter(status="pending").count(),
        "charges": SandboxCharge.objects.count(),
        "twice": per_period,
        "ledger": LedgerEntry.objects.aggregate(s=Sum("amount"))["s"] or 0,
    }


def baseline(batch_size: int) -> dict:
    """The rows a renewal writes, with bare SQL and no rules, one transaction per batch:
    claim, order, sandbox charge, subscription, lines, settled order, two ledger entries,
    an audit event, a notice. The floor any billing run stands on."""
    import secrets

    from django.db import connection, transaction

    from camcare.billing.actions.rows import execute_many  # executemany, server-side binding on PG
    from camcare.billing.models import Subscription

    adapt = connection.ops.adapt_datetimefield_value
    now, start, end = adapt(datetime.now(UTC)), adapt(PERIOD_END), adapt(datetime(2027, 5, 1, tzinfo=UTC))
    rows = list(Subscription.objects.filter(status="active", period_end__lte=AT, claimed_by="")
                .order_by("period_end", "pk").values_list("pk", "account_id"))
    started = time.perf_counter()
    for first in range(0, len(rows), batch_size):
        chunk = rows[first:first + batch_size]
        claims = [("ORD-" + secrets.token_hex(5).upper(), pk, account) for pk, account in chunk]
        with transaction.atomic():
            execute_many("UPDATE billing_subscription SET claimed_by = %s, claimed_at = %s "
                               "WHERE id = %s AND claimed_by = ''", [(c, now, pk) for c, pk, _ in claims])
            execute_many(
                "INSERT INTO billing_order (order_id, account_id, kind, status, purpose, claim, amount, credit_used, "
                "currency, description, created_at, period_start, gateway_key, gateway_ref, card_brand, card_last4, "
                "failure_code, failure_message, reason) VALUES (%s, %s, 'charge', 'pending', 'renewal', %s, 399, 0, "
                "'USD', 'Renewal', %s, %s, %s, '', 'Visa', '4242', '', '', '')",
                [(c, account, c, now, start, f"renewal:{pk}:1") for c, pk, account in claims])
            execute_many(
                "INSERT INTO billing_sandboxcharge (id, idempotency_key, token, amount, currency, succeeded, "
                "decline_code, created_at) VALUES (%s, %s, 'tok_visa', 399, 'USD', %s, '', %s)",
                [("ch_" + secrets.token_hex(12), f"renewal:{pk}:1", True, now) for _, pk, _ in claims])
            execute_many("UPDATE billing_subscription SET period_start = %s, period_end = %s, claimed_by = '', "
                               "claimed_at = NULL, version = version + 1 WHERE id = %s AND claimed_by = %s",
                               [(start, end, pk, c) for c, pk, _ in claims])
            execute_many("UPDATE billing_subscriptionline SET ended_at = %s "
                               "WHERE subscription_id = %s AND ended_at IS NULL", [(start, pk) for _, pk, _ in claims])
            execute_many(
                "INSERT INTO billing_subscriptionline (subscription_id, plan, camera_key, cycle, unit_price, paid, "
                "credited, period_start, started_at) VALUES (%s, 'plus', '', 'monthly', 399, 399, 0, %s, %s)",
                [(pk, start, start) for _, pk, _ in claims])
            execute_many("UPDATE billing_order SET status = 'succeeded', settled_at = %s WHERE order_id = %s",
                               [(now, c) for c, _, _ in claims])
            execute_many(
                "INSERT INTO billing_ledgerentry (posting, at, book, account_id, amount, currency, memo, order_id) "
                "SELECT %s, %s, %s, NULL, %s, 'USD', 'Renewal', id FROM billing_order WHERE order_id = %s",
                [(f"pst_{c}", start, book, amount, c) for c, _, _ in claims
                 for book, amount in (("sales", -399), ("gateway", 399))])
            execute_many("INSERT INTO support_auditevent (at, action, detail, account_id) "
                               "VALUES (%s, 'subscription.renewed', %s, %s)",
                               [(start, json.dumps({"order_id": c, "amount": 399}), account) for c, _, account in claims])
            execute_many("INSERT INTO notices_notice (key, kind, context, created_at, attempts, next_attempt_at, "
                               "last_error, account_id) VALUES (%s, 'receipt', %s, %s, 0, %s, '', %s)",
                               [(f"receipt:{c}", json.dumps({"order_id": c}), now, now, account)
                                for c, _, account in claims])
    return {"elapsed": time.perf_counter() - started, "ran": len(rows), "errors": [], **check()}


def child(argv: list[str]) -> None:
    """`billing_run.py child <what> <json args>`: one step in a process of its own; its
    answer is the last line it prints."""
    _django()
    what, args = argv[0], json.loads(argv[1])
    answer = {"populate": populate, "bill": bill, "baseline": baseline}[what](**args)
    print(json.dumps(answer), flush=True)


# ---------------------------------------------------------------- the databases


def _env(db: dict, latency_ms: float = 0) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAMCARE_", "DJANGO_")) and k != "DATABASE_URL"}
    env.update(db)
    env.update({"DJANGO_SETTINGS_MODULE": "camcare.settings", "CAMCARE_LOG_LEVEL": "WARNING", "CAMCARE_DEBUG": "0",
                "CAMCARE_TEST_CLOCKS": "0", "CAMCARE_SANDBOX_LATENCY_MS": str(latency_ms),
                "CAMCARE_EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend"})
    return env


def run_child(db: dict, what: str, latency_ms: float = 0, **args) -> dict:
    done = subprocess.run([sys.executable, __file__, "child", what, json.dumps(args)], cwd=ROOT,
                          env=_env(db, latency_ms), capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{what} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


class SQLite:
    name = "SQLite"

    def __init__(self, work: Path, n: int):
        self.template = work / "sqlite-template"
        run_child({"CAMCARE_DATA_DIR": str(self.template)}, "populate", n=n)

    @contextmanager
    def copy(self):
        target = Path(tempfile.mkdtemp(prefix="run-", dir=self.template.parent))
        for path in self.template.glob("camcare.sqlite3*"):
            shutil.copy(path, target / path.name)
        try:
            yield {"CAMCARE_DATA_DIR": str(target)}
        finally:
            shutil.rmtree(target, ignore_errors=True)


class Postgres:
    name = "PostgreSQL"

    def __init__(self, work: Path, url: str | None):
        self.cluster = None if url else _start_cluster(work)
        self.url = url or self.cluster["url"]
        self.templates: dict[int, str] = {}  # subscriptions due -> the database holding them

    def template(self, n: int) -> str:
        if n not in self.templates:
            self.templates[n] = name = f"camcare_bench_tpl_{uuid.uuid4().hex[:8]}"
            self._sql(f'CREATE DATABASE "{name}"')
            run_child({"DATABASE_URL": self._url(name)}, "populate", n=n)
        return self.templates[n]

    def _url(self, name: str) -> str:
        return urlunsplit(urlsplit(self.url)._replace(path=f"/{name}"))

    def _sql(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self._url("postgres"), autocommit=True) as conn:
            conn.execute(statement)

    @contextmanager
    def copy(self, n: int):
        name = f"camcare_bench_{uuid.uuid4().hex[:8]}"
        self._sql(f'CREATE DATABASE "{name}" TEMPLATE "{self.template(n)}"')
        try:
            yield {"DATABASE_URL": self._url(name)}
        finally:
            self._sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        try:
            for name in self.templates.values():
                self._sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            if self.cluster:
                _as_postgres([self.cluster["bin"] / "pg_ctl", "-D", self.cluster["data"], "-m", "immediate", "stop"])


def _as_postgres(command: list) -> None:
    command = [str(part) for part in command]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def _start_cluster(work: Path) -> dict:
    """A throwaway PostgreSQL server in `work`, as .ci/run starts one (durability off: the
    figure is the billing run's, not the disk's), with connections for 2 x the threads."""
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not bins or not (bins[-1] / "postgres").exists():
        raise SystemExit("no PostgreSQL server here: apt-get install postgresql, or set DATABASE_URL")
    pg, data = bins[-1], work / "pg"
    data.mkdir(parents=True)
    if os.geteuid() == 0:  # initdb refuses root: the server runs as postgres, in its own folders
        for folder in (work.parent, work, data):
            shutil.chown(folder, "postgres")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _as_postgres([pg / "initdb", "-D", data / "data", "-U", "camcare", "--auth=trust", "-E", "UTF8"])
    options = (f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
               "-c full_page_writes=off -c max_connections=600 -c shared_buffers=256MB")
    _as_postgres([pg / "pg_ctl", "-D", data / "data", "-o", options, "-l", data / "log", "-w", "start"])
    return {"bin": pg, "data": data / "data", "url": f"postgres://camcare@127.0.0.1:{port}/postgres"}


def _postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if urlsplit(url).scheme in {"postgres", "postgresql", "pgsql"} else None


# ---------------------------------------------------------------- the figures


def report(label: str, result: dict, n: int, target: str, ok: bool | None) -> float:
    rate = result["ran"] / result["elapsed"] if result["elapsed"] else 0.0
    sound = (result["renewed"] == n and result["charges"] == n and not result["pending"] and not result["twice"]
             and result["ledger"] == 0 and not result["errors"])
    verdict = "" if ok is None else ("  [met]" if ok else "  [MISSED]")
    wall = f" (wall {result['wall']:.1f} s with the workers' start)" if result.get("wall", result["elapsed"]) != result[
        "elapsed"] else ""
    print(f"{label:<44} {n:>7,} in {result['elapsed']:6.1f} s = {rate:7,.0f}/s   target: {target}{verdict}{wall}"
          + ("" if sound else f"\n    NOT SOUND: {result}"), flush=True)
    return rate


def main() -> None:
    if sys.argv[1:2] == ["child"]:
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="subscriptions due (default 100,000)")
    parser.add_argument("--latency-n", type=int, default=10_000, help="subscriptions of the latency runs")
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--threads", type=int, default=None, help="gateway threads per worker (default: the run's)")
    parser.add_argument("--only", default=",".join(SCENARIOS), help=f"comma-separated, of {', '.join(SCENARIOS)}")
    parser.add_argument("--quick", action="store_true", help="--n 2000 --latency-n 1000")
    args = parser.parse_args()
    if args.quick:
        args.n, args.latency_n = 2000, 1000
    only = set(args.only.split(","))
    if only - set(SCENARIOS):
        parser.error(f"--only takes {', '.join(SCENARIOS)}")
    work = Path(tempfile.mkdtemp(prefix="camcare-bench-billing-"))
    print(f"billing run: batches of {args.batch_size}, gateway threads {args.threads or 'default'}; "
          "one run each on a shared 2-core machine, so the figures are noisy", flush=True)
    postgres = None
    try:
        run_sqlite = only & {"sqlite", "baseline"}
        run_pg = only & {"pg1", "pg2", "lat-pg", "baseline"}
        bill = {"batch_size": args.batch_size, "threads": args.threads}
        n, ln = args.n, args.latency_n
        if run_sqlite:
            sqlite = SQLite(work / "sqlite", n)
            if "sqlite" in only:
                with sqlite.copy() as db:
                    result = run_child(db, "bill", workers=0, **bill)
                report("SQLite, 1 worker, no latency", result, n, "100,000 in < 60 s (1,667/s)",
                       result["ran"] / result["elapsed"] >= 100_000 / 60)
            if "baseline" in only:
                with sqlite.copy() as db:
                    report("  baseline: bare SQL, one txn per batch", run_child(db, "baseline", batch_size=args.batch_size),
                           n, "-", None)
        if "lat-sqlite" in only:
            lat_sqlite = SQLite(work / "sqlite-lat", ln)
            with lat_sqlite.copy() as db:
                result = run_child(db, "bill", latency_ms=args.latency_ms, workers=0, **bill)
            report(f"SQLite, 1 worker, sandbox at {args.latency_ms:g} ms", result, ln, ">= 400/s per worker",
                   result["ran"] / result["elapsed"] >= 400)
        if run_pg:
            postgres = Postgres(work / "postgres", _postgres_url())
            one = None
            if "pg1" in only:
                with postgres.copy(n) as db:
                    one = report("PostgreSQL, 1 worker, no latency", run_child(db, "bill", workers=1, **bill), n,
                                 "(the reference of 2 workers)", None)
            if "pg2" in only:
                with postgres.copy(n) as db:
                    result = run_child(db, "bill", workers=2, **bill)
                two = result["ran"] / result["elapsed"]
                report("PostgreSQL, 2 workers, no latency", result, n,
                       f">= 1.6x one worker ({two / one:.2f}x)" if one else ">= 1.6x one worker",
                       two / one >= 1.6 if one else None)
            if "baseline" in only:
                with postgres.copy(n) as db:
                    report("  baseline: bare SQL, one txn per batch", run_child(db, "baseline", batch_size=args.batch_size),
                           n, "-", None)
            if "lat-pg" in only:
                with postgres.copy(ln) as db:
                    result = run_child(db, "bill", latency_ms=args.latency_ms, workers=1, **bill)
                report(f"PostgreSQL, 1 worker, sandbox at {args.latency_ms:g} ms", result, ln, ">= 400/s per worker",
                       result["ran"] / result["elapsed"] >= 400)
    finally:
        if postgres is not None:
            postgres.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
