"""Gateway calls side by side (step 2 of the billing run's batches, batch.py).

A gateway call mostly waits on the network (200 ms is a slow gateway), so a worker keeps
many in flight on threads. Each thread opens its own database connection (the sandbox
gateway keeps its book in ours) and closes it when the pool closes.

Calls that answer at once (the sandbox on this machine) are made on the caller's thread:
threads would only queue on the database's write lock. SLOW_IN_A_ROW calls in a row
slower than FAST_CALL (a network, not a busy machine's hiccup) switch every pool of the
process to threads from then on. Inside a caller's transaction (a test, a caller batching
in its own transaction) every call is made on the caller's thread: another connection
could not see that transaction.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from datetime import timedelta

from django.db import connection, connections

FAST_CALL = 0.02  # seconds: a gateway call that answers sooner needs no thread of its own
SLOW_IN_A_ROW = 3  # slower calls in a row that tell the gateway's latency from a hiccup
HEARTBEAT = timedelta(minutes=1)  # how often `Calls.results` runs its tick while it waits


class Calls:
    """Calls started by GatewayPool.start: their outcomes, in the order of their items."""

    def __init__(self, done: list, futures: list[Future], tick: Callable[[], None] | None):
        self._done = done  # made already, on the caller's thread
        self._futures = futures  # in flight on the pool's threads
        self._tick = tick

    def results(self) -> list:
        """Wait for every call: [its answer, or the exception it raised]. `tick` runs every
        HEARTBEAT meanwhile (the batch refreshes its claims)."""
        try:
            pending = set(self._futures)
            while pending:
                _, pending = wait(pending, timeout=HEARTBEAT.total_seconds())
                if pending and self._tick is not None:
                    self._tick()
        except BaseException:
            self.cancel()
            raise
        return self._done + [future.exception() or future.result() for future in self._futures]

    def cancel(self) -> None:
        """The calls not started yet are not made (their claims wait for the reconciler)."""
        for future in self._futures:
            future.cancel()


class GatewayPool:
    """At most `size` gateway calls in flight (see the module's docstring)."""

    waits = False  # learned once per process: gateway calls wait on the network

    def __init__(self, size: int):
        self.size = size
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> GatewayPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self, call: Callable, items: list, *, tick: Callable[[], None] | None = None) -> Calls:
        """call(item) for each item: made here while calls answer at once, else on the
        threads, where they run while the caller does something else."""
        if self.size <= 1 or connection.in_atomic_block:
            return Calls([outcome(call, item) for item in items], [], tick)
        done: list = []
        slow = 0
        while not GatewayPool.waits and len(done) < len(items):
            started = time.monotonic()
            done.append(outcome(call, items[len(done)]))
            slow = slow + 1 if time.monotonic() - started > FAST_CALL else 0
            GatewayPool.waits = slow >= SLOW_IN_A_ROW
        futures: list[Future] = []
        for item in items[len(done):]:
            futures.append(Future())
            self._jobs.put((call, item, futures[-1]))
        self._grow(len(futures))
        return Calls(done, futures, tick)

    def map(self, call: Callable, items: list, *, tick: Callable[[], None] | None = None) -> list:
        return self.start(call, items, tick=tick).results()

    def _grow(self, wanted: int) -> None:
        while len(self._threads) < min(self.size, wanted):
            thread = threading.Thread(target=self._work, name=f"gateway-{len(self._threads)}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _work(self) -> None:
        try:
            while (job := self._jobs.get()) is not None:
                call, item, future = job
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(call(item))
                    except BaseException as error:  # the outcome of that one call, for its caller
                        future.set_exception(error)
        finally:
            connections.close_all()  # this thread's connections only

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()
        self._threads = []


def outcome(call: Callable, item):
    """call(item), or the exception it raised: as a pool thread keeps it, that call's
    outcome is unknown, not the batch's end."""
    try:
        return call(item)
    except Exception as error:
        return error
