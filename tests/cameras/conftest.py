"""Cameras fixtures: registered cameras with their device tokens, and real clip files.

Every test here runs twice, on each clip storage production supports: the local folder
and S3 (a real S3 API server on loopback, tests/cameras/s3.py). Tests look at the stored
files through the storage API only (media_files, age_file), never through paths.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage

from camcare import clock
from camcare.billing import actions
from camcare.cameras.clipstore import storage, store_clip
from camcare.cameras.demo import demo_files
from camcare.cameras.models import Camera, Clip
from camcare.cameras.services import register_camera
from tests.cameras import s3
from tests.conftest import set_clock, utc

NOW = utc(2026, 11, 26, 12, 0, 0)
LOCAL = {"BACKEND": "django.core.files.storage.FileSystemStorage"}  # under MEDIA_ROOT, a tmp dir


@pytest.fixture(scope="session")
def s3_server():
    server = s3.S3Server()
    yield server
    server.stop()


@pytest.fixture(autouse=True, params=["local", "s3"])
def clip_storage(request, settings) -> str:
    """The clip storage of this run of the test: "local" or "s3" (its own empty bucket).

    Overriding settings.STORAGES resets Django's storage handler and default_storage
    (the setting_changed signal), and clipstore.storage() looks it up on every call."""
    if request.param == "local":
        settings.STORAGES = {**settings.STORAGES, "default": LOCAL}
        yield "local"
        return
    server = request.getfixturevalue("s3_server")
    bucket = server.new_bucket()
    settings.STORAGES = {**settings.STORAGES, "default": server.storage_config(bucket)}
    yield "s3"
    server.drop_bucket(bucket)


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
    """The name of every file in the clip storage (a path under MEDIA_ROOT, an S3 key)."""
    return set(_walk(storage(), ""))


def _walk(store, folder: str):
    try:
        folders, files = store.listdir(folder)
    except FileNotFoundError:  # a local storage that never stored anything
        return
    prefix = f"{folder}/" if folder else ""
    yield from (prefix + name for name in files)
    for child in folders:
        yield from _walk(store, prefix + child)


def age_file(name: str, hours: float) -> None:
    """Backdate a stored file's modification time by `hours` of real time."""
    when = clock.real_now() - timedelta(hours=hours)
    store = storage()
    if isinstance(store, FileSystemStorage):
        os.utime(store.path(name), (when.timestamp(), when.timestamp()))
    else:
        s3.backdate(store, name, when)


def clip_ids(**filters) -> set[str]:
    return set(Clip.objects.filter(**filters).values_list("id", flat=True))
