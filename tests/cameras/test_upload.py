"""POST /api/v1/device/clips: the camera uploads a clip with its device token."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError
from django.test import Client

from camcare.cameras.clipstore import store_clip
from camcare.cameras.errors import CameraRefusal
from camcare.cameras.models import Camera, Clip
from tests.cameras.conftest import media_files
from tests.conftest import Api

URL = "/api/v1/device/clips"
WEBM = bytes.fromhex("1a45dfa3") + b"\x9f\x42\x86\x81\x01\x42\x82\x84webm" + b"\x00" * 64


def upload(token, content: bytes, recorded_at: str = "2026-11-26T11:00:00Z", duration_s="4",
           name="clip.mp4", scheme="Device", **extra):
    client = Client()
    data = {"recorded_at": recorded_at, "duration_s": duration_s,
            "file": SimpleUploadedFile(name, content, content_type="video/mp4")}
    return client.post(URL, data, headers={"Authorization": f"{scheme} {token}"}, **extra)


def assert_refused(response, status: int, code: str):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert body["reference"].startswith("ERR-")
    assert body["message"]
    assert Clip.objects.count() == 0
    assert media_files() == set()


def test_it_stores_an_uploaded_clip(porch, now, mp4):
    response = upload(porch.token, mp4, recorded_at="2026-11-26T13:00:00+02:00", duration_s="4")
    assert response.status_code == 201, response.content
    clip = Clip.objects.get(id=response.json()["id"])
    assert response.json() == {"id": clip.id}
    assert clip.camera == porch.camera
    assert clip.recorded_at == now - timedelta(hours=1)
    assert (clip.duration_s, clip.size, clip.content_type) == (4, len(mp4), "video/mp4")
    assert media_files() == {f"clips/{porch.camera.account_id}/{porch.camera.id}/{clip.id}.mp4"}
    with clip.file.open("rb") as stored:
        assert stored.read() == mp4


def test_it_accepts_a_webm_clip(porch, now):
    response = upload(porch.token, WEBM, name="clip.webm")
    assert response.status_code == 201, response.content
    clip = Clip.objects.get()
    assert clip.content_type == "video/webm"
    assert clip.file.name.endswith(".webm")


def test_it_refuses_a_bad_device_token(porch, now, mp4):
    assert_refused(upload("dev_not-a-token", mp4), 401, "unauthorized")
    assert_refused(upload("", mp4), 401, "unauthorized")


def test_it_refuses_an_owners_bearer_token(porch, owner, now, mp4):
    bearer = Api(owner).headers["Authorization"].split(" ", 1)[1]
    assert_refused(upload(bearer, mp4, scheme="Bearer"), 401, "unauthorized")
    assert_refused(upload(porch.token, mp4, scheme="Bearer"), 401, "unauthorized")


def test_it_refuses_a_clip_from_the_future_of_the_accounts_clock(porch, now, mp4):
    assert_refused(upload(porch.token, mp4, recorded_at="2026-11-26T12:00:01Z"), 422, "invalid_recorded_at")


def test_it_accepts_a_clip_recorded_at_the_accounts_now(porch, now, mp4):
    assert upload(porch.token, mp4, recorded_at="2026-11-26T12:00:00Z").status_code == 201


def test_it_refuses_a_clip_already_outside_the_cameras_window(porch, now, mp4):
    # porch is on free: 2 days of history
    assert_refused(upload(porch.token, mp4, recorded_at="2026-11-24T11:59:59Z"), 422, "invalid_recorded_at")
    assert upload(porch.token, mp4, recorded_at="2026-11-24T12:00:00Z").status_code == 201


@pytest.mark.parametrize("recorded_at", ["yesterday", "2026-11-26T11:00:00", "", "2026-13-01T00:00:00Z"])
def test_it_refuses_a_recorded_at_that_is_not_an_instant(porch, now, mp4, recorded_at):
    assert_refused(upload(porch.token, mp4, recorded_at=recorded_at), 422, "invalid_recorded_at")


@pytest.mark.parametrize("duration_s,code", [("0", "invalid_duration"), ("-3", "invalid_duration"),
                                             ("86401", "invalid_duration"), ("four", "invalid_request")])
def test_it_refuses_a_bad_duration(porch, now, mp4, duration_s, code):
    assert_refused(upload(porch.token, mp4, duration_s=duration_s), 422, code)


def test_it_refuses_a_file_that_is_not_a_video(porch, now):
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 200
    assert_refused(upload(porch.token, jpeg, name="clip.mp4"), 415, "unsupported_media_type")
    assert_refused(upload(porch.token, b"", name="clip.mp4"), 415, "unsupported_media_type")
    assert_refused(upload(porch.token, b"hello, world " * 20, name="clip.mp4"), 415, "unsupported_media_type")


def test_it_refuses_a_file_larger_than_the_limit(porch, now, mp4, settings):
    settings.CLIP_MAX_BYTES = len(mp4) - 1
    assert_refused(upload(porch.token, mp4), 413, "clip_too_large")
    settings.CLIP_MAX_BYTES = len(mp4)
    assert upload(porch.token, mp4).status_code == 201


def test_it_refuses_a_huge_declared_size_before_reading_the_body(porch, now, mp4, settings):
    settings.CLIP_MAX_BYTES = 1000
    assert len(WEBM) < 1000  # only the declared size is too large
    response = upload(porch.token, WEBM, CONTENT_LENGTH=str(10 * 1024 * 1024))
    assert_refused(response, 413, "clip_too_large")


def test_it_checks_the_real_size_of_a_body_parsed_before_the_view(porch, now, mp4, settings):
    # The Idempotency-Key middleware reads the body before the upload handlers are set.
    settings.CLIP_MAX_BYTES = len(mp4) - 1
    response = Client().post(
        URL, {"recorded_at": "2026-11-26T11:00:00Z", "duration_s": "4",
              "file": SimpleUploadedFile("clip.mp4", mp4)},
        headers={"Authorization": f"Device {porch.token}", "Idempotency-Key": "k-1"},
    )
    assert_refused(response, 413, "clip_too_large")


def test_it_refuses_an_upload_without_a_file(porch, now):
    response = Client().post(URL, {"recorded_at": "2026-11-26T11:00:00Z", "duration_s": "4"},
                             headers={"Authorization": f"Device {porch.token}"})
    assert_refused(response, 422, "invalid_request")


def test_it_deletes_the_stored_file_when_the_row_cannot_be_written(porch, now, mp4):
    assert upload(porch.token, mp4).status_code == 201
    files_before = media_files()
    # PositiveIntegerField is a CHECK constraint in the database: this INSERT fails for real.
    with pytest.raises(IntegrityError):
        store_clip(camera=porch.camera, content=ContentFile(mp4, name="x.mp4"), recorded_at=now,
                   duration_s=-1, size=len(mp4), content_type="video/mp4")
    assert media_files() == files_before
    assert Clip.objects.count() == 1


def test_it_replays_an_upload_with_the_same_idempotency_key(porch, now, mp4):
    def send():
        return Client().post(
            URL, {"recorded_at": "2026-11-26T11:00:00Z", "duration_s": "4", "file": SimpleUploadedFile("c.mp4", mp4)},
            headers={"Authorization": f"Device {porch.token}", "Idempotency-Key": "upload-1"},
        )

    first, second = send(), send()
    assert (first.status_code, second.status_code) == (201, 201)
    assert second["Idempotent-Replayed"] == "true"
    assert first.json() == second.json()
    assert Clip.objects.count() == 1
    assert len(media_files()) == 1


def test_an_upload_whose_camera_left_meanwhile_is_refused_as_an_unknown_token(porch, now, mp4):
    # The camera was replaced or removed after its token was checked: no clip row, no file,
    # and the 401 of a token that does not count (never a 500 from the foreign key).
    files_before = media_files()
    camera = porch.camera
    Camera.objects.filter(pk=camera.pk).delete()
    with pytest.raises(CameraRefusal) as refused:
        store_clip(camera=camera, content=ContentFile(mp4, name="x.mp4"), recorded_at=now,
                   duration_s=4, size=len(mp4), content_type="video/mp4")
    assert (refused.value.status, refused.value.code) == (401, "unauthorized")
    assert media_files() == files_before
    assert not Clip.objects.filter(camera_id=camera.pk).exists()
