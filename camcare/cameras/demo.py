"""Demo clips for `make run`: small real H.264 MP4s shipped in demo_clips/.

They were made once with ffmpeg (so `make run` does not need it), 160x90, 5 fps, 4 s:
  ffmpeg -f lavfi -i testsrc2=size=160x90:rate=5 -t 4 -c:v libx264 -profile:v baseline \
    -pix_fmt yuv420p -crf 40 -preset veryslow -movflags +faststart -an demo-1.mp4
(demo-2..5 with smptebars, mandelbrot, gradients and testsrc).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from django.core.files import File

from camcare.cameras.clipstore import store_clip
from camcare.cameras.models import Camera, Clip

DEMO_DIR = Path(__file__).resolve().parent / "demo_clips"
DEMO_DURATION_S = 4


def demo_files() -> list[Path]:
    return sorted(DEMO_DIR.glob("demo-*.mp4"))


def add_demo_clips(camera: Camera, now: datetime, count: int, *, days: int = 30) -> list[Clip]:
    """`count` clips spread evenly over the `days` before `now` (the newest an hour before
    `now`), cycling through the demo files. Clips older than the camera's window when the
    sweep runs are erased like any other: give the camera its plan first, or pass `days`."""
    files = demo_files()
    if not files or count <= 0:
        return []
    span = timedelta(days=days) - timedelta(hours=2)
    step = span / max(count - 1, 1)
    clips = []
    for index in range(count):
        recorded_at = (now - timedelta(hours=1) - step * index).replace(microsecond=0)
        path = files[index % len(files)]
        with path.open("rb") as handle:
            clips.append(store_clip(
                camera=camera, content=File(handle, name=path.name), recorded_at=recorded_at,
                duration_s=DEMO_DURATION_S, size=path.stat().st_size, content_type="video/mp4",
            ))
    return clips
