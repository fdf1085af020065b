"""How fast is a preview? Prints each figure with its baseline (ARCHITECTURE.md bench/).

  .venv/bin/python bench/proration.py [--seconds 2]

1. The pure domain core: `price_change` previews per second for an account with 10 cameras
   (5 on plus moving to a mix of plus and premium), no database.
2. POST /api/v1/subscription/preview for the same account through django.test.Client with a
   bearer token, on a fresh SQLite database in a temporary folder (each preview also stores
   its quote), next to
3. GET /api/v1/test-clock through the same client: a trivial authenticated endpoint, the
   framework's floor (authentication, middleware, JSON), so the ratio is the cost of billing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CAMERAS = 10
AT = datetime(2027, 3, 11, tzinfo=UTC)  # inside the March period anchored on Mar 1


def rate(call, seconds: float) -> float:
    """Calls per second of `call` over about `seconds` of wall time (after one warm-up)."""
    call()
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(20):
            call()
        done += 20
    return done / elapsed


def targets(camera_ids: list[str]) -> dict[str, str]:
    """Half the cameras on premium (one line), the other half on plus (a line each)."""
    return {camera: ("premium" if i < CAMERAS // 2 else "plus") for i, camera in enumerate(camera_ids)}


def domain_core(seconds: float) -> float:
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
    return rate(lambda: price_change(snapshot, target, None, AT, catalog), seconds)


def through_the_api(seconds: float) -> tuple[float, float]:
    data_dir = tempfile.mkdtemp(prefix="camcare-bench-")
    os.environ.update(CAMCARE_DATA_DIR=data_dir, CAMCARE_TEST_CLOCKS="1", CAMCARE_DEBUG="0",
                      CAMCARE_EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
                      DJANGO_SETTINGS_MODULE="camcare.settings")
    os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

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

    return rate(preview, seconds), rate(floor, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="wall time per figure")
    seconds = parser.parse_args().seconds
    core = domain_core(seconds)
    print(f"domain core: {core:,.0f} previews/s ({CAMERAS} cameras; baseline: none, pure Python)")
    endpoint, floor = through_the_api(seconds)
    print(f"preview endpoint: {endpoint:,.0f} req/s vs trivial authenticated endpoint: {floor:,.0f} req/s "
          f"(floor) -> {endpoint / floor:.2f} of the floor")


if __name__ == "__main__":
    main()
