"""Cameras fixtures: registered cameras with their device tokens, and real clip files."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile

from camcare.billing import actions
from camcare.cameras.clipstore import store_clip
from camcare.cameras.demo import demo_files
from camcare.cameras.models import Camera, Clip
from camcare.cameras.services import register_camera
from tests.conftest import set_clock, utc

NOW = utc(2026, 11, 26, 12, 0, 0)


@dataclass
class Registered:
    camera: Camera
    token: str


@pytest.fixture
def mp4() -> bytes:
    """A real H.264 MP4 (one of the demo clips)."""
    return demo_files()[0].read_bytes()


@pytest.fixture
def now(owner, outsider) -> datetime:
    """The owner's and the outsider's test clocks, frozen at NOW."""
    set_clock(owner, NOW)
    set_clock(outsider, NOW)
    return NOW


@pytest.fixture
def porch(owner) -> Registered:
    return Registered(*register_camera(owner, "Porch", "KC200", "sn-porch-1"))


@pytest.fixture
def garden(owner) -> Registered:
    return Registered(*register_camera(owner, "Garden", "KC200", "sn-garden-1"))


@pytest.fixture
def theirs(outsider) -> Registered:
    return Registered(*register_camera(outsider, "Their door", "KC200", "sn-theirs-1"))


@pytest.fixture
def premium(owner, porch, garden, now, django_capture_on_commit_callbacks):
    """Porch and Garden on premium (30 days), paid by card."""
    actions.save_payment_method(account=owner, token="tok_visa", actor=owner)
    with django_capture_on_commit_callbacks(execute=True):
        actions.change_plan(account=owner, cameras={porch.camera.id: "premium", garden.camera.id: "premium"}, actor=owner)
    porch.camera.refresh_from_db()
    assert porch.camera.plan == "premium"


def add_clip(camera: Camera, recorded_at: datetime, content: bytes = b"\x00\x00\x00\x18ftypmp42" + b"x" * 100,
             duration_s: int = 4) -> Clip:
    """A clip stored as an upload stores it: a real file through the storage, then the row."""
    return store_clip(
        camera=camera, content=ContentFile(content, name="clip.mp4"), recorded_at=recorded_at,
        duration_s=duration_s, size=len(content), content_type="video/mp4",
    )


def media_files() -> set[str]:
    """Every clip file on disk, relative to MEDIA_ROOT."""
    root = Path(settings.MEDIA_ROOT)
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


def clip_ids(**filters) -> set[str]:
    return set(Clip.objects.filter(**filters).values_list("id", flat=True))
