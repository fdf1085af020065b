"""The billing run a batch at a time (camcare.billing.actions.batch): it bills exactly what
the single path bills (POLICY.md section 5), once per (subscription, period) when runs
overlap or crash, its notices in bulk, its gateway calls side by side.

These tests use a real SQLite file (or, on PostgreSQL, the test database with no test
transaction around it): the batch's gateway threads have connections of their own, which
must see what the test wrote, and SQLite's in-memory test database locks whole tables
between connections.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
import uuid
from collections import defaultdict
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection, connections
from django.db.models import Count, Sum

from camcare.accounts.models import Account
from camcare.audit.models import AuditEvent
from camcare.billing import actions, selectors
from camcare.billing.actions import batch, gateway_pool, payments
from camcare.billing.actions.batch import due_filter
from camcare.billing.actions.renewals import run_due
from camcare.billing.gateway import SandboxGateway
from camcare.billing.models import (
    LedgerEntry,
    Order,
    PaymentMethod,
    SandboxCharge,
    Subscription,
    SubscriptionLine,
)
from camcare.cameras.models import Camera
from camcare.notices import outbox
from camcare.notices.models import Notice
from tests.billing.conftest import add_camera
from tests.conftest import set_clock, utc

AT = utc(2027, 3, 20, 6)  # the run's instant
# No test transaction around a test (real_db); on SQLite the test moves to a file of its own.
pytestmark = pytest.mark.django_db(transaction=True)


# ---------------------------------------------------------------- a database others see


@contextmanager
def pointed_at(path):
    """The default connection (and every thread's) on the SQLite file `path`; the in-memory
    test database is kept open meanwhile (closing it would drop it) and put back after."""
    conn = connections["default"]
    saved = conn.settings_dict["NAME"], conn.connection
    conn.connection = None
    conn.settings_dict["NAME"] = str(path)
    try:
        yield
    finally:
        conn.close()
        conn.settings_dict["NAME"], conn.connection = saved


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory, django_db_setup, django_db_blocker):
    """A SQLite file migrated once for the session, copied by each test that uses it."""
    path = tmp_path_factory.mktemp("billing-db") / "camcare.sqlite3"
    with django_db_blocker.unblock(), pointed_at(path):
        call_command("migrate", verbosity=0)
    return path


@pytest.fixture
def real_db(request, tmp_path, django_db_setup, django_db_blocker):
    """A fresh database that other threads and processes see as this test does (the test is
    marked transaction=True: nothing wraps it). Yields the SQLite file (CAMCARE_DATA_DIR is
    its folder), or None on PostgreSQL, where the test database is seen by all as it is."""
    if connection.vendor != "sqlite":
        yield None
        return
    template = request.getfixturevalue("migrated_sqlite")
    path = tmp_path / "data" / "camcare.sqlite3"
    path.parent.mkdir()
    shutil.copy(template, path)
    with django_db_blocker.unblock(), pointed_at(path):
        yield path


def copy_of(path, name):
    """A copy of the SQLite file `path` as it is now (every connection closed first, so the
    file holds everything)."""
    connections.close_all()
    target = path.parent.parent / name / "camcare.sqlite3"
    target.parent.mkdir()
    for file in path.parent.glob("camcare.sqlite3*"):
        shutil.copy(file, target.parent / file.name)
    return target


# ---------------------------------------------------------------- subscriptions of every kind


def owner(tag: str, when, *, cameras: int = 1, plan: str = "plus", cycle: str | None = None,
          token: str = "tok_visa") -> Account:
    """An owner whose test clock stands at `when`, subscribed then: `cameras` cameras on
    `plan`, paid by tok_visa; then `token` is the card on file."""
    account = Account.objects.create_user(email=f"{tag}-{uuid.uuid4().hex[:8]}@batch.example", password=None)
    set_clock(account, when)
    cams = [add_camera(account, f"Cam{n}") for n in range(cameras)]
    actions.save_payment_method(account=account, token="tok_visa", actor=account)
    actions.change_plan(account=account, cameras={c.pk: plan for c in cams}, cycle=cycle, actor=account)
    if token != "tok_visa":
        actions.save_payment_method(account=account, token=token, actor=account)
    return account


def credit(account, amount: int) -> None:
    actions.issue_support_credit(request_key=uuid.uuid4().hex, account=account, amount=amount, reason="goodwill",
                                 actor=account)


def failed_attempts(account, *instants) -> None:
    """The billing run at each instant (the single path): the bill's attempts so far."""
    for instant in instants:
        run_due(account=account, until=instant)


def population(repeat: int = 2) -> list[Account]:
    """Every case the run meets at AT, `repeat` times: paid, declined, credit (part, whole,
    beside a decline), a scheduled annual->monthly switch, Jan 31 anchors, a run down two
    months, a retry that fails, one that pays and then renews, the fourth failure (the
    lapse), no card, nothing due, an app-store subscription."""
    accounts = []
    for _ in range(repeat):
        accounts.append(owner("visa", utc(2027, 2, 5, 9), cameras=2))
        accounts.append(owner("declined", utc(2027, 2, 6, 9), token="tok_chargeDeclined"))
        part = owner("credit-part", utc(2027, 2, 7, 9), cameras=2)
        credit(part, 300)
        whole = owner("credit-whole", utc(2027, 2, 7, 10))
        credit(whole, 1000)
        declined_credit = owner("credit-declined", utc(2027, 2, 7, 11), token="tok_chargeDeclined")
        credit(declined_credit, 150)
        switch = owner("annual-to-monthly", utc(2026, 3, 10, 8), cycle="annual")
        set_clock(switch, utc(2026, 9, 1))
        actions.change_plan(account=switch, cycle="monthly", actor=switch)
        accounts += [part, whole, declined_credit, switch]
        accounts.append(owner("jan31", utc(2027, 1, 31, 10)))
        accounts.append(owner("two-months-down", utc(2027, 1, 3, 12)))
        accounts.append(owner("jan31-two-months", utc(2026, 12, 31, 10), plan="premium"))
        retry = owner("retry-fails", utc(2027, 1, 10, 7), token="tok_chargeDeclined")
        failed_attempts(retry, utc(2027, 2, 10, 8))
        pays = owner("retry-pays", utc(2027, 1, 11, 7), token="tok_chargeDeclined")
        failed_attempts(pays, utc(2027, 2, 11, 8))
        PaymentMethod.objects.filter(account=pays).update(token="tok_visa")  # a card that works again
        lapse = owner("lapse", utc(2027, 1, 12, 7), cameras=2, token="tok_chargeDeclined")
        failed_attempts(lapse, utc(2027, 2, 12, 8), utc(2027, 2, 13, 9), utc(2027, 2, 15, 10))
        no_card = owner("no-card", utc(2027, 2, 8, 9))
        PaymentMethod.objects.filter(account=no_card).delete()
        store = owner("app-store", utc(2027, 2, 9, 9))
        Subscription.objects.filter(account=store).update(channel="app_store")
        accounts += [retry, pays, lapse, no_card, store, owner("not-due", utc(2027, 3, 10, 9))]
    return accounts


def single_path_run(at) -> int:
    """The reference: the billing run of before, one subscription at a time in time order."""
    ran = 0
    due = Subscription.objects.filter(due_filter(at))
    for subscription in due.select_related("account").order_by("period_end", "pk"):
        ran += run_due(account=subscription.account, until=at)
    return ran


# ---------------------------------------------------------------- what a run left


def books() -> dict:
    """Everything billing state holds, with each Order ID replaced by (account, n-th order
    of the account) and nothing that depends on real time or on chance (posting ids,
    gateway references, settled_at): two runs that did the same have equal books."""
    labels, counts = {}, defaultdict(int)
    for order_id, account_id in Order.objects.order_by("pk").values_list("order_id", "account_id"):
        labels[order_id] = f"{account_id}#{counts[account_id]}"
        counts[account_id] += 1
    ids = re.compile("|".join(map(re.escape, labels)) or "^$")

    def named(text: str) -> str:
        return ids.sub(lambda match: labels[match.group(0)], text)

    postings = defaultdict(list)
    for entry in LedgerEntry.objects.select_related("order"):
        postings[entry.posting].append((entry.account_id, entry.order and labels[entry.order.order_id], entry.book,
                                        entry.amount, entry.at, entry.memo))
    return {
        "orders": sorted(((labels[o.order_id], o.kind, o.status, o.purpose, o.amount, o.credit_used, o.period_start,
                           o.description, o.gateway_key, o.card_last4, o.failure_code, o.created_at, o.claim != "")
                          for o in Order.objects.all()), key=repr),
        "postings": sorted((tuple(sorted(entries, key=repr)) for entries in postings.values()), key=repr),
        "subscriptions": sorted(Subscription.objects.values_list(
            "account_id", "status", "cycle", "anchor", "period_start", "period_end", "scheduled_cycle", "version",
            "claimed_by", "failed_attempts", "next_retry_at"), key=repr),
        "lines": sorted(SubscriptionLine.objects.values_list(
            "subscription__account_id", "plan", "camera_key", "cycle", "unit_price", "paid", "credited",
            "period_start", "started_at", "ended_at"), key=repr),
        "cameras": sorted(Camera.objects.values_list("account_id", "id", "plan")),
        "audit": sorted(((a.account_id, a.action, a.at, named(json.dumps(a.detail, sort_keys=True)))
                        for a in AuditEvent.objects.all()), key=repr),
        "notices": sorted(((n.account_id, n.kind, named(n.key), named(json.dumps(n.context, sort_keys=True)))
                          for n in Notice.objects.all()), key=repr),
        "charges": sorted(SandboxCharge.objects.values_list("idempotency_key", "amount", "succeeded", "decline_code")),
    }


def assert_once_and_balanced() -> None:
    """Each (subscription, period) renewed at most once, every attempt charged at most
    once, nothing pending, every posting summing to zero."""
    renewals = Order.objects.filter(purpose="renewal", description__startswith="Renewal")
    assert not renewals.values("account_id", "period_start").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert not SandboxCharge.objects.values("idempotency_key").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert not Order.objects.filter(status="pending").exists()
    assert not Subscription.objects.exclude(claimed_by="").exists()
    unbalanced = LedgerEntry.objects.values("posting").annotate(total=Sum("amount")).exclude(total=0)
    assert list(unbalanced) == []
    charged = SandboxCharge.objects.filter(succeeded=True).aggregate(s=Sum("amount"))["s"] or 0
    assert (LedgerEntry.objects.filter(book="gateway").aggregate(s=Sum("amount"))["s"] or 0) == charged


# ---------------------------------------------------------------- the batch equals the single path


def test_it_bills_what_the_single_path_bills(real_db, tmp_path):
    if real_db is None:
        pytest.skip("compares two copies of a SQLite file")
    population()
    single = copy_of(real_db, "single")
    ran = batch.run_billing(at=AT, batch_size=7, threads=4)
    batched = books()
    with pointed_at(single):
        assert single_path_run(AT) == ran
        reference = books()
    assert ran > 0
    for part in reference:
        assert batched[part] == reference[part], part
    assert_once_and_balanced()


def test_it_bills_each_case_by_the_rules(real_db):
    """The cases of the population, read back (the single path agrees, above)."""
    accounts = {account.email.rsplit("-", 1)[0]: account for account in population(repeat=1)}
    batch.run_billing(at=AT, batch_size=5, threads=3)

    def bills(tag):
        return [(o.period_start, o.amount, o.credit_used, o.status) for o in
                Order.objects.filter(account=accounts[tag], purpose="renewal").order_by("pk")]

    def state(tag):
        return Subscription.objects.get(account=accounts[tag])

    assert bills("visa") == [(utc(2027, 3, 5, 9), 798, 0, "succeeded")]
    assert bills("declined") == [(utc(2027, 3, 6, 9), 399, 0, "failed")]
    assert (state("declined").status, state("declined").next_retry_at) == ("past_due", AT + timedelta(days=1))
    assert bills("credit-part") == [(utc(2027, 3, 7, 9), 498, 300, "succeeded")]
    assert bills("credit-whole") == [(utc(2027, 3, 7, 10), 0, 399, "succeeded")]
    assert bills("credit-declined") == [(utc(2027, 3, 7, 11), 249, 0, "failed")]  # all or nothing
    assert selectors.credit_balance(accounts["credit-declined"]) == 150
    assert bills("annual-to-monthly") == [(utc(2027, 3, 10, 8), 399, 0, "succeeded")]
    assert (state("annual-to-monthly").cycle, state("annual-to-monthly").anchor) == ("monthly", utc(2027, 3, 10, 8))
    assert [b[0] for b in bills("jan31")] == [utc(2027, 2, 28, 10)]
    assert [b[0] for b in bills("two-months-down")] == [utc(2027, 2, 3, 12), utc(2027, 3, 3, 12)]
    assert [b[0] for b in bills("jan31-two-months")] == [utc(2027, 1, 31, 10), utc(2027, 2, 28, 10)]
    assert (state("retry-fails").status, state("retry-fails").failed_attempts) == ("past_due", 2)
    assert [b[3] for b in bills("retry-fails")] == ["failed", "failed"]  # one attempt in this run
    assert [(b[0], b[3]) for b in bills("retry-pays")] == [
        (utc(2027, 2, 11, 7), "failed"), (utc(2027, 2, 11, 7), "succeeded"), (utc(2027, 3, 11, 7), "succeeded")]
    assert (state("lapse").status, set(selectors.current_plans(accounts["lapse"]).values())) == ("none", {"free"})
    assert selectors.receivable_balance(accounts["lapse"]) == 0
    assert Notice.objects.filter(account=accounts["lapse"], kind="lapsed").count() == 1
    assert bills("no-card") == [(utc(2027, 3, 8, 9), 399, 0, "failed")]
    assert bills("app-store") == [] and bills("not-due") == []
    assert_once_and_balanced()


def test_it_writes_the_notices_in_bulk_and_sends_them_later(real_db, settings):
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    paid = owner("paid", utc(2027, 2, 5, 9))
    declined = owner("declined", utc(2027, 2, 6, 9), token="tok_chargeDeclined")
    sent_before = Notice.objects.filter(sent_at__isnull=False).count()
    mail.outbox.clear()
    batch.run_billing(at=AT, threads=2)
    renewal = Order.objects.get(account=paid, purpose="renewal", period_start=utc(2027, 3, 5, 9))
    failure = Order.objects.get(account=declined, purpose="renewal", status="failed")
    fresh = Notice.objects.filter(key__in=[f"receipt:{renewal.order_id}", f"payment_failed:{failure.order_id}"])
    assert sorted(fresh.values_list("kind", "sent_at")) == [("payment_failed", None), ("receipt", None)]
    assert mail.outbox == []  # nothing inline
    outbox.wake_sender()
    outbox.wake_sender()  # one waiting sender is enough
    from django_tasks_db.models import DBTaskResult

    assert DBTaskResult.objects.filter(task_path=outbox.send_notices_task.module_path).count() == 1
    assert outbox.send_all_due() == 2
    assert Notice.objects.filter(sent_at__isnull=False).count() == sent_before + 2
    assert {message.subject.split()[1] for message in mail.outbox} == {"payment"}


# ---------------------------------------------------------------- exactly once


def test_it_bills_each_period_once_when_two_runs_overlap(real_db):
    accounts = [owner(f"o{n}", utc(2027, 1, 3 + n % 12, 9), token="tok_chargeDeclined" if n % 5 == 0 else "tok_visa")
                for n in range(24)]
    results, errors = [], []

    def run():
        try:
            results.append(batch.run_billing(at=AT, batch_size=4, threads=3))
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    runs = [threading.Thread(target=run) for _ in range(2)]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join()
    assert errors == []
    # Each renewing account: Feb and Mar; each declined one: its one attempt.
    assert sum(results) == sum(1 if n % 5 == 0 else 2 for n in range(len(accounts)))
    assert batch.run_billing(at=AT) == 0  # and a third run finds nothing
    assert_once_and_balanced()


def test_it_converges_after_a_crash_mid_batch(real_db):
    accounts = [owner(f"c{n}", utc(2027, 2, 3 + n, 9)) for n in range(6)]
    credit(accounts[0], 5000)  # paid by credit: no gateway call
    ids = batch.due_ids(AT)
    claimed = batch.claim(ids, at=AT)  # step 1 of a batch
    gateway = SandboxGateway()
    for payment in claimed[:3]:  # step 2 reached the gateway for half, then the worker died
        payments.call_gateway(payment, gateway)
    assert Order.objects.filter(status="pending").count() == 6
    assert batch.run_billing(at=AT) == 0  # the claims hold: a second run leaves them alone
    assert actions.reconcile_pending() == 0  # not stale yet (STALE_CLAIM): maybe still running
    assert actions.reconcile_pending(older_than=timedelta(0)) == 6
    assert SandboxCharge.objects.filter(idempotency_key__startswith="renewal:").count() == 5
    assert set(Order.objects.filter(purpose="renewal", period_start__gte=utc(2027, 3, 1)).values_list(
        "status", flat=True)) == {"succeeded"}
    assert set(Subscription.objects.values_list("status", flat=True)) == {"active"}
    assert batch.run_billing(at=AT) == 0
    assert_once_and_balanced()


def test_it_leaves_a_call_whose_outcome_is_unknown_to_the_reconciler(real_db, monkeypatch):
    paid, lost = owner("paid", utc(2027, 2, 5, 9)), owner("lost", utc(2027, 2, 6, 9))
    real_charge = SandboxGateway.charge
    lost_key = f"renewal:{Subscription.objects.get(account=lost).pk}:"

    def network(self, **call):  # the gateway's network, not our code: this call never answers
        if call["idempotency_key"].startswith(lost_key):
            raise ConnectionError("timed out")
        return real_charge(self, **call)

    monkeypatch.setattr(SandboxGateway, "charge", network)
    assert batch.run_billing(at=AT, threads=2) == 1
    assert Order.objects.get(account=lost, status="pending").period_start == utc(2027, 3, 6, 9)
    monkeypatch.undo()
    assert actions.reconcile_pending(older_than=timedelta(0)) == 1
    assert Subscription.objects.get(account=lost).period_start == utc(2027, 3, 6, 9)
    assert Order.objects.filter(account=paid, purpose="renewal", status="succeeded").count() == 1
    assert_once_and_balanced()


def test_it_keeps_the_claims_of_a_live_batch_fresh(real_db, monkeypatch):
    """While its gateway calls are in flight, a batch refreshes its claims: only a dead
    batch's claims grow stale for the reconciler."""
    for n in range(6):  # the first calls are made alone (until the pool learns that calls wait), the rest on threads
        owner(f"slow{n}", utc(2027, 2, 5 + n, 9))
    monkeypatch.setenv("CAMCARE_SANDBOX_LATENCY_MS", "600")
    monkeypatch.setattr(gateway_pool, "HEARTBEAT", timedelta(milliseconds=100))
    long_ago = utc(2000, 1, 1)
    seen = []

    def age_the_claim_then_watch():
        try:
            deadline = time.monotonic() + 20
            while not Subscription.objects.exclude(claimed_by="").filter(claimed_at__gt=long_ago).update(
                    claimed_at=long_ago):
                assert time.monotonic() < deadline
                time.sleep(0.01)
            while time.monotonic() < deadline and not seen:
                seen.extend(Subscription.objects.exclude(claimed_by="").filter(claimed_at__gt=long_ago))
                time.sleep(0.02)
        finally:
            connections.close_all()

    watcher = threading.Thread(target=age_the_claim_then_watch)
    watcher.start()
    assert batch.run_billing(at=AT, threads=3) == 6
    watcher.join()
    assert seen  # the heartbeat wrote a fresh claimed_at while the call was in flight
    assert_once_and_balanced()


# ---------------------------------------------------------------- the sandbox's latency


def test_it_waits_the_sandbox_latency_per_call(real_db, monkeypatch):
    monkeypatch.setenv("CAMCARE_SANDBOX_LATENCY_MS", "60")
    gateway = SandboxGateway()
    started = time.perf_counter()
    gateway.charge(token="tok_visa", amount=100, currency="USD", idempotency_key="latency:1")
    assert time.perf_counter() - started >= 0.06
    assert SandboxGateway(latency=0).latency == 0


def test_it_makes_the_gateway_calls_of_a_batch_side_by_side(real_db, monkeypatch):
    for n in range(8):
        owner(f"l{n}", utc(2027, 2, 5 + n, 9))
    monkeypatch.setattr(gateway_pool.GatewayPool, "waits", True)  # as learned from earlier calls (see the pool)
    monkeypatch.setenv("CAMCARE_SANDBOX_LATENCY_MS", "100")
    started = time.perf_counter()
    assert batch.run_billing(at=AT, threads=8) == 8
    elapsed = time.perf_counter() - started
    assert elapsed >= 0.1  # each call waited its round trip
    assert elapsed < 8 * 0.1 * 3  # but not one after the other (a loose bound: a busy machine)
    assert_once_and_balanced()


def test_it_refuses_a_latency_that_is_not_a_number(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    monkeypatch.setenv("CAMCARE_SANDBOX_LATENCY_MS", "fast")
    with pytest.raises(ImproperlyConfigured):
        SandboxGateway()


def test_it_refreshes_a_live_claim_well_before_it_looks_stale():
    from camcare.billing.actions.reconciler import STALE_CLAIM

    assert STALE_CLAIM >= 5 * gateway_pool.HEARTBEAT


def test_it_calls_a_gateway_that_answers_at_once_inline_and_one_that_waits_on_threads(monkeypatch):
    monkeypatch.setattr(gateway_pool.GatewayPool, "waits", False)
    with gateway_pool.GatewayPool(4) as pool:
        assert pool.map(lambda n: n * 2, [1, 2, 3]) == [2, 4, 6]
        assert pool._threads == []  # nothing to wait for: no thread
        slow = pool.map(lambda n: time.sleep(0.05) or n, list(range(7)))
        assert slow == list(range(7))
        assert gateway_pool.GatewayPool.waits and len(pool._threads) == 4  # three alone, then side by side
        assert isinstance(pool.map(lambda n: 1 / n, [0])[0], ZeroDivisionError)  # kept as that call's outcome
