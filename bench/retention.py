"""Retention sweep speed: clips erased per second, next to the bare minimum.

    .venv/bin/python bench/retention.py [--clips 100000] [--cameras 1000] [--runs 3]

Sets up its own SQLite database and media folder in a temporary directory, creates
`--clips` small clip files and rows across `--cameras` cameras, all aged out, and times
`camcare.cameras.erasure.sweep` erasing them. The baseline does the least any sweep
must do for the same files: one bare os.unlink per file plus one SQL DELETE of the rows.
Prints the median of `--runs` runs of each, and their ratio (target: within 3x).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(tempfile.mkdtemp(prefix="camcare-bench-"))

sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "camcare.settings"
os.environ["CAMCARE_DATA_DIR"] = str(WORK)
os.environ["CAMCARE_MEDIA_ROOT"] = str(WORK / "media")
os.environ["CAMCARE_TEST_CLOCKS"] = "0"
os.environ["CAMCARE_LOG_LEVEL"] = "WARNING"
os.environ["CAMCARE_DEBUG"] = "0"  # as in production: no query log
os.environ.pop("DATABASE_URL", None)  # the figure is for SQLite, the default
os.environ.pop("CAMCARE_STORAGE", None)  # and for local storage

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from camcare.accounts.models import Account  # noqa: E402
from camcare.cameras import erasure  # noqa: E402
from camcare.cameras.models import Camera, Clip  # noqa: E402

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
PAYLOAD = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 16  # a small file: the cost is per file


def make_cameras(count: int) -> list[Camera]:
    account = Account.objects.create_user(email="bench@example.com", password="not-used-bench-only")
    cameras = [
        Camera(id=f"cam_bench{i:011d}", account=account, name=f"Camera {i}", serial=f"BENCH-{i}",
               plan="free", device_token_hash=f"{i:064d}")
        for i in range(count)
    ]
    Camera.objects.bulk_create(cameras)
    return cameras


def make_clips(cameras: list[Camera], count: int, run: int) -> list[str]:
    """`count` clips aged out of the free plan's 2 days: files on disk and rows."""
    media = Path(os.environ["CAMCARE_MEDIA_ROOT"])
    recorded_at = NOW - timedelta(days=10)
    rows, paths = [], []
    for i in range(count):
        camera = cameras[i % len(cameras)]
        name = f"clips/{camera.account_id}/{camera.id}/clp_r{run}_{i:011d}.mp4"
        path = media / name
        if i < len(cameras):
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(PAYLOAD)
        paths.append(str(path))
        rows.append(Clip(id=f"clp_r{run}_{i:011d}", camera=camera, recorded_at=recorded_at, duration_s=4,
                         size=len(PAYLOAD), file=name))
    Clip.objects.bulk_create(rows, batch_size=5000)
    os.sync()  # both contenders start with the new files on disk, not in writeback
    return paths


def time_sweep(cameras, count: int, run: int) -> float:
    make_clips(cameras, count, run)
    started = time.perf_counter()
    report = erasure.sweep(NOW)
    elapsed = time.perf_counter() - started
    assert report.erased == count and not Clip.objects.exists(), report
    return elapsed


def time_baseline(cameras, count: int, run: int) -> float:
    paths = make_clips(cameras, count, run + 100)
    started = time.perf_counter()
    for path in paths:
        os.unlink(path)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM cameras_clip")
    elapsed = time.perf_counter() - started
    assert not Clip.objects.exists()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=100_000)
    parser.add_argument("--cameras", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    try:
        call_command("migrate", verbosity=0)
        cameras = make_cameras(args.cameras)
        sweeps, baselines = [], []
        for run in range(args.runs):
            sweeps.append(time_sweep(cameras, args.clips, run))
            baselines.append(time_baseline(cameras, args.clips, run))
            print(f"run {run + 1}: sweep {args.clips / sweeps[-1]:,.0f} clips/s, "
                  f"baseline {args.clips / baselines[-1]:,.0f} clips/s", flush=True)
        sweep_rate = args.clips / statistics.median(sweeps)
        baseline_rate = args.clips / statistics.median(baselines)
        print(f"{args.clips:,} clips on {args.cameras:,} cameras, SQLite + local storage, median of {args.runs} runs")
        print(f"sweep:    {sweep_rate:,.0f} clips erased per second")
        print(f"baseline: {baseline_rate:,.0f} clips per second (os.unlink each + one SQL DELETE)")
        print(f"ratio:    {baseline_rate / sweep_rate:.2f}x slower than the baseline (target: within 3x)")
    finally:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
