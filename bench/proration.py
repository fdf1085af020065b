"""How fast is a preview? Prints each figure next to its target and baseline (ARCHITECTURE.md
bench/; the targets are issue 10's).

  .venv/bin/python bench/proration.py [--seconds 2] [--rounds 10]

1. The pure domain core: `price_change` previews per second for an account with 10 cameras
   (5 on plus moving to a mix of plus and premium), no database.
2. POST /api/v1/subscription/preview for the same account through django.test.Client with a
   bearer token, on a fresh SQLite database in a temporary folder (each preview also stores
   its quote), next to
3. GET /api/v1/test-clock through the same client: a trivial authenticated endpoint, the
   framework's floor (authentication, middleware, JSON), so the ratio is the cost of billing.
4. The latency of each preview (p50, p99) and the SQL statements one preview runs.

Timing is wall time on a machine others share: each figure is the median of --rounds short
rounds, with the slowest and fastest round next to it, and the preview and the floor
alternate round by round so that a neighbour's load falls on both alike. Read the figures
as noisy; the ratio and the query count are the steadier ones.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CAMERAS = 10
AT = datetime(2027, 3, 11, tzinfo=UTC)  # inside the March period anchored on Mar 1

# Issue 10: the figures before it (measured on the issue's machine) and its targets.
DOMAIN_BASELINE, DOMAIN_TARGET = 13_461, 50_000  # previews/s, 10 cameras
RATIO_BASELINE, RATIO_TARGET = 0.14, 0.5  # preview req/s over floor req/s
P99_TARGET_MS = 20.0
QUERIES_BASELINE = 8  # SQL statements per API preview, authentication included


def timed_calls(call: Callable[[], None], seconds: float, batch: int,
                cpu: list[float] | None = None) -> list[float]:
    """The wall time of each call of `call` in seconds, over about `seconds`, timed in
    batches of `batch` calls (each call of a batch counts its average). `cpu`, when given,
    gets the process's CPU seconds per call of the same calls."""
    times: list[float] = []
    cpu_start = time.process_time()
    end = time.perf_counter() + seconds
    while (start := time.perf_counter()) < end:
        for _ in range(batch):
            call()
        times += [(time.perf_counter() - start) / batch] * batch
    if cpu is not None:
        cpu.append((time.process_time() - cpu_start) / len(times))
    return times


def rounds(calls: dict[str, Callable[[], None]], seconds: float, count: int, batch: int = 1,
           cpu: dict[str, list[float]] | None = None) -> dict[str, list[list[float]]]:
    """Per name, `count` rounds of per-call times: the calls alternate round by round, each
    round a `seconds / count` share of its call's time (after one warm-up call each). `cpu`
    gets, per name, each round's CPU seconds per call."""
    for call in calls.values():
        call()
    measured: dict[str, list[list[float]]] = {name: [] for name in calls}
    for _ in range(count):
        for name, call in calls.items():
            measured[name].append(timed_calls(call, seconds / count, batch,
                                              None if cpu is None else cpu.setdefault(name, [])))
    return measured


def rate(times: list[float]) -> float:
    return len(times) / sum(times)


def spread(values: list[float], unit: str = "", digits: int = 0) -> str:
    """`median unit (lowest-highest)` of a figure measured in rounds."""
    def fmt(value: float) -> str:
        return f"{value:,.{digits}f}"

    return f"{fmt(statistics.median(values))}{unit} ({fmt(min(values))}-{fmt(max(values))})"


def percentile(times: list[float], share: float) -> float:
    """The smallest time that `share` of the calls did not exceed (nearest rank)."""
    ordered = sorted(times)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def targets(camera_ids: list[str]) -> dict[str, str]:
    """Half the cameras on premium (one line), the other half on plus (a line each)."""
    return {camera: ("premium" if i < CAMERAS // 2 else "plus") for i, camera in enumerate(camera_ids)}


def domain_core() -> Callable[[], None]:
    from camcare.domain.catalog import Catalog
    from camcare.domain.periods import Cycle, Period
    from camcare.domain.pricing import (
        CardPayment,
        HeldLine,
        LineKey,
        PlanState,
        Snapshot,
        Status,
        price_change,
    )

    catalog = Catalog.load(ROOT / "catalog.toml")
    cameras = [f"cam_{i:016d}" for i in range(CAMERAS)]
    current = {camera: ("plus" if i % 2 else "free") for i, camera in enumerate(cameras)}
    period = Period(datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC))
    lines = tuple(HeldLine(LineKey("plus", camera, Cycle.MONTHLY), 399, 399)
                  for camera, plan in current.items() if plan == "plus")
    snapshot = Snapshot(PlanState(Cycle.MONTHLY, current), Status.ACTIVE, period.start, period, lines, 0,
                        (CardPayment("ORD-0000000000", 399 * len(lines)),))
    target = targets(cameras)

    def preview() -> None:
        price_change(snapshot, target, None, AT, catalog)

    return preview


def through_the_api() -> tuple[Callable[[], None], Callable[[], None], int]:
    """(one API preview, one floor request, SQL statements of one API preview)."""
    data_dir = tempfile.mkdtemp(prefix="camcare-bench-")
    os.environ.update(CAMCARE_DATA_DIR=data_dir, CAMCARE_TEST_CLOCKS="1", CAMCARE_DEBUG="0",
                      CAMCARE_EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
                      DJANGO_SETTINGS_MODULE="camcare.settings")
    os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    call_command("migrate", verbosity=0)
    from camcare.accounts.models import Account
    from camcare.accounts.services import issue_token
    from camcare.billing import actions
    from camcare.cameras.models import Camera

    account = Account.objects.create_user(email="bench@example.com", password="bench-password-long-enough")
    cameras = [
        Camera.objects.create(account=account, name=f"Camera {i}", model="KC200", serial=f"BENCH-{i}",
                              device_token_hash=f"{i:064d}").id
        for i in range(CAMERAS)
    ]
    actions.save_payment_method(account=account, token="tok_visa", actor=account)
    actions.advance_test_clock(account=account, to=datetime(2027, 3, 1, tzinfo=UTC), actor=account)
    actions.change_plan(account=account, cameras={c: "plus" for i, c in enumerate(cameras) if i % 2}, actor=account)
    actions.advance_test_clock(account=account, to=AT, actor=account)

    client = Client(headers={"Authorization": f"Bearer {issue_token(account)}"})
    body = {"cameras": targets(cameras)}

    def preview() -> None:
        response = client.post("/api/v1/subscription/preview", body, content_type="application/json")
        assert response.status_code == 200, response.content

    def floor() -> None:
        response = client.get("/api/v1/test-clock")
        assert response.status_code == 200, response.content

    floor()  # the token's first use records it (a write the later requests skip)
    with CaptureQueriesContext(connection) as captured:
        preview()
    return preview, floor, len(captured.captured_queries)


def verdict(met: bool) -> str:
    return "meets the target" if met else "MISSES the target"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="wall time per figure")
    parser.add_argument("--rounds", type=int, default=10, help="rounds each figure is measured in")
    args = parser.parse_args()

    # Wall time is what the targets are about; the CPU time of the same calls says how much of
    # it was the machine's other work (on this shared VM, often most of it).
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    cpu: dict[str, list[float]] = {}
    core_rounds = rounds({"core": domain_core()}, args.seconds, args.rounds, batch=20, cpu=cpu)["core"]
    core = [rate(times) for times in core_rounds]
    print(f"domain core: {spread(core)} previews/s, {CAMERAS} cameras (target >= {DOMAIN_TARGET:,}: "
          f"{verdict(statistics.median(core) >= DOMAIN_TARGET)}; baseline {DOMAIN_BASELINE:,})")
    print(f"  per CPU second: {spread([1 / seconds for seconds in cpu['core']])} previews "
          f"({1e6 * min(cpu['core']):.1f} us of CPU per preview at best)")

    preview, floor, queries = through_the_api()
    measured = rounds({"preview": preview, "floor": floor}, 2 * args.seconds, args.rounds, cpu=cpu)
    previews = [rate(times) for times in measured["preview"]]
    floors = [rate(times) for times in measured["floor"]]
    ratios = [p / f for p, f in zip(previews, floors, strict=True)]
    print(f"preview endpoint: {spread(previews)} req/s; trivial authenticated endpoint (floor): "
          f"{spread(floors)} req/s")
    print(f"  preview / floor: {spread(ratios, digits=2)} (target >= {RATIO_TARGET}: "
          f"{verdict(statistics.median(ratios) >= RATIO_TARGET)}; baseline {RATIO_BASELINE})")
    cpu_ratios = [f / p for f, p in zip(cpu["floor"], cpu["preview"], strict=True)]  # as the rates
    print(f"  in CPU time: preview {spread([1e3 * s for s in cpu['preview']], ' ms', 2)}, floor "
          f"{spread([1e3 * s for s in cpu['floor']], ' ms', 2)}; preview / floor {spread(cpu_ratios, digits=2)}")
    latencies = [t for times in measured["preview"] for t in times]
    p50, p99 = (1000 * percentile(latencies, share) for share in (0.50, 0.99))
    print(f"  preview latency over {len(latencies):,} requests: p50 {p50:.1f} ms, p99 {p99:.1f} ms "
          f"(target p99 < {P99_TARGET_MS:g} ms: {verdict(p99 < P99_TARGET_MS)})")
    print(f"  SQL statements per preview: {queries}, authentication included (baseline {QUERIES_BASELINE}; "
          "the floor runs 1)")


if __name__ == "__main__":
    main()
