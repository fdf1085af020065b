"""Clip files through Django's storage API (local folder, or S3 by configuration).

A clip is a file plus a row. The file is written first and the row second; if the row
cannot be written the file is deleted at once (and the sweep's `--orphans` pass removes
what a crash leaves behind). Erasure goes the other way round: see erasure.py.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.files.storage import storages
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

from camcare.cameras.errors import CameraRefusal
from camcare.cameras.models import Camera, Clip, clip_upload_path
from camcare.cameras.services import window_start
from camcare.domain.periods import parse_instant

SNIFF_BYTES = 64  # enough for an ISO-BMFF `ftyp` box or an EBML header with its DocType
MAX_DURATION_S = 24 * 3600  # a clip is an event recording, never longer than a day
CHUNK = 64 * 1024


def storage():
    """The clip storage: STORAGES["default"] (local folder, or S3 with CAMCARE_STORAGE=s3)."""
    return storages["default"]


def sniff_video(head: bytes) -> str | None:
    """The content type of a real video container from its first bytes, else None.

    Only the container is checked (an `ftyp` box at offset 4 for MP4/QuickTime, the EBML
    magic for WebM/Matroska): enough to refuse a JPEG or a text file renamed .mp4.
    """
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "video/webm" if b"webm" in head[:SNIFF_BYTES] else "video/x-matroska"
    return None


def _read_head(upload: UploadedFile) -> bytes:
    upload.seek(0)
    head = upload.read(SNIFF_BYTES)
    upload.seek(0)
    return head


def check_size(size: int) -> None:
    if size > settings.CLIP_MAX_BYTES:
        raise CameraRefusal(
            413, "clip_too_large",
            f"A clip may be at most {settings.CLIP_MAX_BYTES} bytes; this one has {size}.",
        )


def parse_recorded_at(text: str) -> datetime:
    try:
        return parse_instant(text)
    except (ValueError, TypeError, AttributeError) as exc:
        raise CameraRefusal(
            422, "invalid_recorded_at",
            "recorded_at must be an ISO 8601 instant with a time zone, like 2026-11-26T10:00:00Z.",
        ) from exc


def check_recorded_at(camera: Camera, recorded_at: datetime, now: datetime) -> None:
    """POLICY.md 6: a clip from the future of the account's clock, or already older than
    the camera's window, is refused."""
    if recorded_at > now:
        raise CameraRefusal(
            422, "invalid_recorded_at",
            f"recorded_at {recorded_at:%Y-%m-%dT%H:%M:%SZ} is in the future of the account's clock.",
        )
    start = window_start(camera, now)
    if start is not None and recorded_at < start:
        raise CameraRefusal(
            422, "invalid_recorded_at",
            f"recorded_at is outside this camera's video history (clips before "
            f"{start:%Y-%m-%dT%H:%M:%SZ} are not kept on its plan).",
        )


def check_duration(duration_s: int) -> None:
    if type(duration_s) is not int or not 1 <= duration_s <= MAX_DURATION_S:
        raise CameraRefusal(
            422, "invalid_duration", f"duration_s must be a whole number of seconds from 1 to {MAX_DURATION_S}.",
        )


def receive_clip(*, camera: Camera, upload: UploadedFile, recorded_at: str, duration_s: int, now: datetime) -> Clip:
    """Check an upload and store it; nothing is stored unless every check passes.

    `now` is the camera's account clock. The upload is already on disk or in a small
    in-memory buffer (Django's upload handlers); only its first bytes are read here, and
    the storage copies it in chunks.
    """
    check_size(upload.size)
    content_type = sniff_video(_read_head(upload))
    if content_type is None:
        raise CameraRefusal(
            415, "unsupported_media_type", "The file is not a video (MP4 or WebM expected).",
        )
    instant = parse_recorded_at(recorded_at)
    check_duration(duration_s)
    check_recorded_at(camera, instant, now)
    return store_clip(camera=camera, content=upload, recorded_at=instant, duration_s=duration_s,
                      size=upload.size, content_type=content_type)


def store_clip(*, camera: Camera, content, recorded_at: datetime, duration_s: int, size: int, content_type: str) -> Clip:
    """Write the file, then the row; a failed row deletes the file it would have named.

    The camera may leave the account while its upload is on the way (removed, or replaced:
    POLICY.md section 14). Its row is locked before the clip's is written, so the upload
    either lands before the camera goes (and goes with it) or finds it gone: then the
    device token no longer counts, and the answer is the 401 of any unknown token."""
    clip = Clip(camera=camera, recorded_at=recorded_at, duration_s=duration_s, size=size, content_type=content_type)
    name = storage().save(clip_upload_path(clip, ""), content)
    clip.file.name = name
    try:
        with transaction.atomic():  # a savepoint: a failed INSERT leaves a caller's transaction usable
            if not Camera.objects.select_for_update().filter(pk=camera.pk).exists():
                raise CAMERA_GONE
            clip.save(force_insert=True)
    except BaseException as error:
        storage().delete(name)
        if isinstance(error, IntegrityError) and not Camera.objects.filter(pk=camera.pk).exists():
            raise CAMERA_GONE from error  # a deferred foreign key: the camera went after the check
        raise
    return clip


CAMERA_GONE = CameraRefusal(401, "unauthorized", "This camera is no longer on its account: its device token does not count.")


def open_clip(clip: Clip):
    """The clip's file opened for binary reading (raises FileNotFoundError when gone)."""
    return storage().open(clip.file.name, "rb")
