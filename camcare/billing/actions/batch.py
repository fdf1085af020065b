"""The billing run a batch at a time: the payment sequence (payments.py) for a few hundred
subscriptions at once, with the rules of one bill (bills.py) and the writes of one bill
(bill_writer.py), so a batch bills exactly what the single path would.

A batch is a list of subscription ids, cut in time order from what is due at `at`:

  1. `claim`: one UPDATE claims every id still due and unclaimed, each with its own claim
     id (its renewal order's Order ID), the guard checked per row by the WHERE clause;
     the rows that now hold one of our claim ids are the batch. Under the claims, their
     inputs are read (four queries) and their pending orders written (one INSERT).
  2. `charge`: the gateway calls side by side on a thread pool (gateway_pool.py), each
     with its order's idempotency key, outside any transaction; a live batch refreshes
     its claims every gateway_pool.HEARTBEAT, so only a dead one's go stale (reconciler.STALE_CLAIM).
  3. `settle`: in one transaction, the claims still ours are released and every bill's
     rows written (bill_writer.write), the notices drafted and written in bulk.

Batches are pipelined (`run_batches`): while one batch's calls wait on the gateway, the
next batch is claimed and the one before settled, so a worker's pace is the slower of
its database work and its gateway calls, not their sum. A settled batch's ids come back
at the end of the line, for what is still due (a run down for two months bills the
second month in a second round), until nothing is. A call whose outcome is unknown (the
gateway raised) leaves its claim and pending order for the reconciler.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections import deque
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Case, F, Q, When
from django.db.models.sql import UpdateQuery

from camcare import clock
from camcare.accounts.models import Account
from camcare.billing.actions import bill_writer, bills, payments
from camcare.billing.actions.gateway_pool import Calls, GatewayPool
from camcare.billing.actions.rows import (
    among,
    cache_related,
    from_db_values,
    insert_rows,
    update_each,
    values_of,
)
from camcare.billing.gateway import GatewayResult, get_gateway
from camcare.billing.models import Channel, Order, Subscription
from camcare.catalog import get_catalog
from camcare.domain.order_ids import CROCKFORD, random_code
from camcare.domain.pricing import Status
from camcare.notices import outbox

log = logging.getLogger("camcare.billing")

BATCH_SIZE = 500  # subscriptions per batch (and per task of the fan-out)
THREADS_ENV = "CAMCARE_GATEWAY_THREADS"
# Gateway calls in flight per worker. A call mostly waits on the network: at 200 ms a
# call (a slow gateway), 200 threads keep a worker at ~450 renewals/s on this project's
# 2-core machine (bench/billing_run.py; 100 threads: ~320/s). Each thread of the sandbox
# gateway holds a database connection (its book is ours): on PostgreSQL, max_connections
# must cover workers x threads with it; a real gateway's calls hold none.
DEFAULT_THREADS = 200
IN_FLIGHT = 2  # batches claimed and not settled: one waits on the gateway, one is worked on
ORDER_ID_LENGTH = 10  # Crockford characters after "ORD-" (domain.order_ids)
MAX_ROUNDS = 1000  # rounds of one batch: periods a subscription can be behind by, a bound

Outcome = dict[int, GatewayResult] | BaseException  # step 2 of one payment


def threads_setting(threads: int | None = None) -> int:
    """Gateway threads per worker: the argument, else CAMCARE_GATEWAY_THREADS, else DEFAULT_THREADS."""
    if threads is None:
        threads = int(os.environ.get(THREADS_ENV) or DEFAULT_THREADS)
    return max(1, threads)


def due_filter(at: datetime) -> Q:
    """What the billing run bills at `at` (POLICY.md section 5): a renewal whose period
    ended, or a retry whose date came; never a store's subscription (the store bills it)."""
    return (Q(status__in=bills.RENEWS, period_end__lte=at) | Q(status=Status.PAST_DUE, next_retry_at__lte=at)) & ~Q(
        channel=Channel.APP_STORE)


def due_ids(at: datetime, *, limit: int | None = None) -> list[int]:
    """The ids due at `at` and not claimed, in time order (the instant each fell due)."""
    due_at = Case(When(status__in=bills.RENEWS, then=F("period_end")), default=F("next_retry_at"))
    rows = (Subscription.objects.filter(due_filter(at), claimed_by="").annotate(due_at=due_at)
            .order_by("due_at", "pk").values_list("pk", flat=True))
    return list(rows[:limit])


def due_batches(at: datetime, *, limit: int | None = None, size: int = BATCH_SIZE) -> list[list[int]]:
    ids = due_ids(at, limit=limit)
    return [ids[start:start + size] for start in range(0, len(ids), max(1, size))]


def run_billing(*, at: datetime, limit: int | None = None, batch_size: int = BATCH_SIZE,
                threads: int | None = None) -> int:
    """Every batch due at `at`, in this process. Returns how many bills ran (a renewal or
    an attempt each)."""
    return run_batches(due_batches(at, limit=limit, size=batch_size), at=at, threads=threads)


def run_batches(batches: list[list[int]], *, at: datetime, threads: int | None = None) -> int:
    """Bill what of each batch is due at `at` and unclaimed, pipelined (see the module's
    docstring), until nothing is. Safe to run twice, or beside another run: the claims
    decide. Returns how many bills ran."""
    todo = deque(batches)
    in_flight: deque[tuple[list[payments.Payment], Calls]] = deque()
    ran = 0
    with GatewayPool(threads_setting(threads)) as pool:
        try:
            for _ in range(MAX_ROUNDS * (len(batches) + 1)):
                if todo:
                    batch = claim(todo.popleft(), at=at)
                    if batch:
                        in_flight.append((batch, charge(batch, pool)))
                if in_flight and (len(in_flight) >= IN_FLIGHT or not todo):
                    batch, calls = in_flight.popleft()
                    settled = settle(batch, calls.results(), at=at)
                    ran += len(settled)
                    if settled:
                        todo.append([settlement.subscription_id for settlement in settled])
                if not todo and not in_flight:
                    break
        except BaseException:
            for _, calls in in_flight:
                calls.cancel()  # calls not made yet are not made: their claims are the reconciler's
            raise
    return ran


# ---------------------------------------------------------------- step 1


def claim(ids: list[int], *, at: datetime) -> list[payments.Payment]:
    """Step 1 of a batch, in one short transaction: claim what of `ids` is due and unclaimed
    (the guard is the WHERE clause of one UPDATE, checked row by row), give each claimed
    row its own claim id, read their inputs under the claims, write their pending orders
    in one INSERT. The batch's token marks its rows only inside this transaction."""
    token = "BATCH-" + random_code(10)
    claimed: list[Subscription] = []
    with transaction.atomic():
        for chunk in bill_writer.chunks(ids):
            _claim_rows(chunk, token, at=at)
            claimed += _claimed(chunk, token)
        claimed.sort(key=lambda subscription: subscription.pk)
        if not claimed:
            return []
        for subscription, claim_id in zip(claimed, claim_ids(len(claimed)), strict=True):
            subscription.claimed_by = claim_id
        update_each(Subscription, set_fields=["claimed_by"], where_fields=["id", "claimed_by"],
                    rows=[(subscription.claimed_by, subscription.pk, token) for subscription in claimed])
        inputs = bills.load_inputs(claimed)
        catalog = get_catalog()  # one price list for the batch, as one bill reads one
        batch = []
        for subscription in claimed:
            payment = payments.Payment(subscription, subscription.claimed_by)
            start = bills.start_renewal if subscription.status in bills.RENEWS else bills.start_retry
            start(payment, inputs[subscription.pk], catalog=catalog)
            batch.append(payment)
        _write_orders([order for payment in batch for order in payment.orders])
    return batch


def claim_ids(count: int) -> list[str]:
    """`count` claim ids, each the Order ID of its claim's first order: the format of
    domain.order_ids.new_order_id ("ORD-" + 10 Crockford base32 characters, 50 random
    bits), drawn with one read of the system's randomness for the batch instead of ten per
    id (each byte's low 5 bits are uniform, 256 being a multiple of 32)."""
    raw = secrets.token_bytes(ORDER_ID_LENGTH * count)
    return ["ORD-" + "".join(CROCKFORD[byte & 31] for byte in raw[start:start + ORDER_ID_LENGTH])
            for start in range(0, len(raw), ORDER_ID_LENGTH)]


def _claim_rows(ids: list[int], token: str, *, at: datetime) -> None:
    """UPDATE ... SET claimed_by = token WHERE <due at `at`> AND id IN ids AND claimed_by = "":
    the ORM's statement, run on SQLite with NOT INDEXED (rowid lookups still apply). Without
    statistics SQLite's planner takes the due query's index for the more selective, and
    every batch's claim then walked every due row (all of them, at the start of a run)
    instead of its own few hundred by id."""
    query = Subscription.objects.filter(due_filter(at), pk__in=among(Subscription, "id", ids),
                                        claimed_by="").query.chain(UpdateQuery)
    query.add_update_values({"claimed_by": token, "claimed_at": clock.real_now()})
    sql, params = query.get_compiler(connection.alias).as_sql()
    if connection.vendor == "sqlite":
        table = connection.ops.quote_name(Subscription._meta.db_table)
        sql = sql.replace(f"UPDATE {table} SET ", f"UPDATE {table} NOT INDEXED SET ", 1)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _claimed(ids: list[int], token: str) -> list[Subscription]:
    """The subscriptions of `ids` that hold `token`, each with its account: what
    select_related("account") reads, as values (rows.from_db_values)."""
    names = [field.attname for field in Subscription._meta.concrete_fields]
    account_names = [field.attname for field in Account._meta.concrete_fields]
    # By id, then by the token: claimed_by has no index for an equality.
    rows = list(Subscription.objects.filter(pk__in=among(Subscription, "id", ids), claimed_by=token).values_list(
        *names, *(f"account__{name}" for name in account_names)))
    subscriptions = from_db_values(Subscription, [row[:len(names)] for row in rows])
    for subscription, account in zip(subscriptions, from_db_values(Account, [row[len(names):] for row in rows]),
                                     strict=True):
        cache_related(subscription, "account", account)
    return subscriptions


def _write_orders(orders: list[Order]) -> None:
    """The pending orders in one INSERT, which gives back their ids (the gateway's answers
    and the ledger refer to them); they are saved instances from then on."""
    by_order_id = {order.order_id: order for order in orders}
    for pk, order_id in insert_rows(Order, [values_of(order) for order in orders], returning=("id", "order_id")):
        order = by_order_id[order_id]
        order.pk = pk
        order._state.adding, order._state.db = False, connection.alias


# ---------------------------------------------------------------- step 2


def charge(batch: list[payments.Payment], pool: GatewayPool) -> Calls:
    """Step 2 of a batch, started: each payment's call_gateway on the pool (one gateway
    client for the batch). An exception is kept as that payment's outcome: unknown."""
    gateway = get_gateway()
    return pool.start(lambda payment: payments.call_gateway(payment, gateway), batch,
                      tick=lambda: refresh_claims(batch))


def refresh_claims(batch: list[payments.Payment]) -> None:
    """The heartbeat of a live batch: its claims are not stale while it runs."""
    for chunk in bill_writer.chunks(batch):
        Subscription.objects.filter(pk__in=among(Subscription, "id", [payment.subscription.pk for payment in chunk]),
                                    claimed_by__in=among(Subscription, "claimed_by", [p.claim for p in chunk])).update(
            claimed_at=clock.real_now())


# ---------------------------------------------------------------- step 3


def settle(batch: list[payments.Payment], outcomes: list[Outcome], *, at: datetime) -> list[bill_writer.Settlement]:
    """Step 3 of a batch, in one transaction: the claims still ours (another settler, the
    reconciler, may have finished one) are released and their bills written. A payment
    whose call raised keeps its claim and pending order for the reconciler."""
    known = []
    for payment, outcome in zip(batch, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            log.warning("billing: the gateway call of %s failed (%r); the reconciler settles it", payment.claim, outcome)
        else:
            known.append((payment, outcome))
    for attempt in range(2):
        try:
            return _settle_held(known, at=at)
        except payments.ClaimLost:  # a claim went between the check and the write: again
            if attempt:
                raise
    return []


def _settle_held(known: list[tuple[payments.Payment, dict[int, GatewayResult]]], *, at: datetime) -> list:
    with transaction.atomic():
        held: set[str] = set()
        for chunk in bill_writer.chunks([payment for payment, _ in known]):
            # FOR UPDATE on PostgreSQL: a reconciler's release waits for this transaction;
            # on SQLite the write lock taken at BEGIN (IMMEDIATE) does the same.
            held.update(Subscription.objects.select_for_update().filter(
                pk__in=among(Subscription, "id", [payment.subscription.pk for payment in chunk]),
                claimed_by__in=among(Subscription, "claimed_by", [payment.claim for payment in chunk]),
            ).values_list("claimed_by", flat=True))
        settlements = []
        for payment, results in known:
            if payment.claim not in held:
                continue
            rule = bills.settle_retry if isinstance(payment.context, bills.RetryContext) else bills.settle_renewal
            settlements.append(rule(payment, bills.result_of(payment, results), at=at))
        with outbox.collecting() as drafts:
            bill_writer.write(settlements)
        outbox.enqueue_many(drafts)
    return settlements
