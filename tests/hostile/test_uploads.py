"""Hostile device uploads (POST /device/clips, multipart), with and without an
Idempotency-Key: a body too large is refused before it is read, or while it streams."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.test.client import BOUNDARY, encode_multipart

from camcare.api.clips import MULTIPART_SLACK
from camcare.cameras.models import Clip
from tests.api.conftest import CLIP_AT, mp4_bytes
from tests.hostile.conftest import assert_refused, state

UPLOAD = ("POST", "/api/v1/device/clips")
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


class CountingInput(io.BytesIO):
    """wsgi.input that counts the bytes the server reads of it."""

    taken = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.taken += len(chunk)
        return chunk

    def readline(self, size=-1):
        line = super().readline(size)
        self.taken += len(line)
        return line


def form(content: bytes | None = None, **fields) -> bytes:
    data = {"recorded_at": CLIP_AT, "duration_s": "30", **fields}
    data["file"] = SimpleUploadedFile("clip.mp4", mp4_bytes() if content is None else content, "video/mp4")
    return encode_multipart(BOUNDARY, data)


@dataclass(frozen=True)
class Upload:
    label: str
    body: object  # bytes, or a function of the settings giving them
    status: int
    code: str | None
    environ: dict = field(default_factory=dict)
    read_nothing: bool = False

    def data(self) -> bytes:
        return self.body() if callable(self.body) else self.body


def too_many_fields() -> bytes:
    return form(**{f"field{n}": "x" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)})


def past_the_limit_while_streaming() -> bytes:
    """A file larger than CLIP_MAX_BYTES in a body that declares less than the limit plus
    MULTIPART_SLACK: only reading tells."""
    return form(content=mp4_bytes()[:4096].ljust(settings.CLIP_MAX_BYTES + MULTIPART_SLACK // 2, b"\0"))


UPLOADS = [
    Upload("declared larger than a clip may be", form(), 413, "clip_too_large",
           environ={"CONTENT_LENGTH": str(50 * 1024 * 1024 * 1024)}, read_nothing=True),
    Upload("a Content-Length of 5,000 digits", form(), 413, "clip_too_large",
           environ={"CONTENT_LENGTH": "9" * 5000}, read_nothing=True),
    Upload("chunked, without a Content-Length", form(), 411, "length_required",
           environ={"CONTENT_LENGTH": "", "HTTP_TRANSFER_ENCODING": "chunked"}, read_nothing=True),
    Upload("a file past the limit, found while streaming", past_the_limit_while_streaming, 413, "clip_too_large"),
    Upload("more form fields than the server parses", too_many_fields, 400, "bad_request"),
    Upload("duration_s of 5,000 digits", form(duration_s="9" * 5000), 422, "invalid_request"),
    Upload("recorded_at with a NUL", form(recorded_at=CLIP_AT.replace("-02-", "-0\x002-")), 422, None),
    Upload("recorded_at nested 500 deep", form(recorded_at="[" * 500), 422, "invalid_recorded_at"),
    Upload("JSON instead of a form", b'{"file": "x"}', 422, "invalid_request", environ={"CONTENT_TYPE": "application/json"}),
]


@pytest.fixture
def small_clips(settings):
    """A limit small enough that a body past it is quick to send."""
    settings.CLIP_MAX_BYTES = 200_000


def send(world, upload: Upload, idempotency_key: str | None):
    token = world.owner.device_tokens[world.owner.camera("Porch")]
    data = upload.data()
    stream = CountingInput(data)
    headers = {"Authorization": f"Device {token}"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    environ = {"wsgi.input": stream, "CONTENT_LENGTH": str(len(data)), **upload.environ}
    return Client().post(UPLOAD[1], data=data, content_type=MULTIPART, headers=headers, **environ), stream


@pytest.mark.parametrize("idempotency_key", [None, "hostile-upload"], ids=["no key", "with a key"])
@pytest.mark.parametrize("upload", UPLOADS, ids=[u.label for u in UPLOADS])
def test_it_refuses_a_hostile_upload_and_stores_nothing(upload, idempotency_key, world, small_clips):
    before = state()
    response, stream = send(world, upload, idempotency_key)
    assert_refused(response, UPLOAD, upload.status, upload.code, account=world.owner.account)
    assert state() == before
    if upload.read_nothing:
        assert stream.taken == 0, f"{stream.taken} bytes read before the refusal"


def test_it_refuses_a_body_declared_too_large_before_asking_who_sends_it(world):
    """No credentials and a huge declared size: nothing is read to find out."""
    data = form()
    stream = CountingInput(data)
    response = Client().post(UPLOAD[1], data=data, content_type=MULTIPART,
                             **{"wsgi.input": stream, "CONTENT_LENGTH": "9" * 30})
    assert_refused(response, UPLOAD, 413, "clip_too_large")
    assert stream.taken == 0


def test_it_stores_a_clip_under_its_own_name_whatever_the_file_is_called(world):
    token = world.owner.device_tokens[world.owner.camera("Porch")]
    data = {"recorded_at": CLIP_AT, "duration_s": "30",
            "file": SimpleUploadedFile("../../../../etc/cron.d/x\x00.mp4", mp4_bytes(), "video/mp4")}
    response = Client().post(UPLOAD[1], data=data, headers={"Authorization": f"Device {token}"})
    assert response.status_code == 201, response.content
    stored = Path(settings.MEDIA_ROOT, Clip.objects.get(pk=response.json()["id"]).file.name).resolve()
    assert stored.is_relative_to(Path(settings.MEDIA_ROOT).resolve()) and "cron" not in stored.name
