"""The clip list and the video bytes, with HTTP Range for seeking; only for the owner."""

from datetime import timedelta

import pytest

from camcare.cameras.models import Camera, Clip
from camcare.cameras.services import visible_clips
from tests.cameras.conftest import add_clip
from tests.conftest import PASSWORD, set_clock, utc


@pytest.fixture
def clip(porch, now, mp4):
    return add_clip(porch.camera, now - timedelta(hours=1), content=mp4)


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_it_lists_a_cameras_clips_newest_first(api, porch, garden, now):
    old = add_clip(porch.camera, now - timedelta(hours=30), duration_s=7)
    new = add_clip(porch.camera, now - timedelta(minutes=5))
    add_clip(garden.camera, now - timedelta(minutes=1))
    response = api.get(f"cameras/{porch.camera.id}/clips")
    assert response.status_code == 200
    assert response.json() == [
        {"id": new.id, "recorded_at": "2026-11-26T11:55:00Z", "duration_s": 4, "size": new.size,
         "url": f"/api/v1/clips/{new.id}/video"},
        {"id": old.id, "recorded_at": "2026-11-25T06:00:00Z", "duration_s": 7, "size": old.size,
         "url": f"/api/v1/clips/{old.id}/video"},
    ]


def test_it_hides_a_clip_whose_erasure_has_started(api, porch, clip, now):
    Clip.objects.filter(id=clip.id).update(erasing_since=now)
    assert api.get(f"cameras/{porch.camera.id}/clips").json() == []
    assert api.get(f"clips/{clip.id}/video").status_code == 404


def test_it_answers_404_to_an_outsider_for_the_list_and_the_video(outsider_api, porch, clip):
    for path in (f"cameras/{porch.camera.id}/clips", f"clips/{clip.id}/video"):
        response = outsider_api.get(path)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"


def test_it_answers_404_for_ids_that_do_not_exist(api, now):
    assert api.get("cameras/cam_nope/clips").status_code == 404
    assert api.get("clips/clp_nope/video").status_code == 404


def test_it_asks_an_anonymous_caller_to_sign_in(anon_api, porch, clip):
    assert anon_api.get(f"cameras/{porch.camera.id}/clips").status_code == 401
    assert anon_api.get(f"clips/{clip.id}/video").status_code == 401


def test_it_refuses_a_device_token_for_playback(porch, clip):
    from django.test import Client

    response = Client().get(f"/api/v1/clips/{clip.id}/video", headers={"Authorization": f"Device {porch.token}"})
    assert response.status_code == 401


def test_it_sends_the_whole_video_without_a_range(api, clip, mp4):
    response = api.get(f"clips/{clip.id}/video")
    assert response.status_code == 200
    assert body(response) == mp4
    assert response["Content-Length"] == str(len(mp4))
    assert response["Content-Type"] == "video/mp4"
    assert response["Accept-Ranges"] == "bytes"
    assert "Content-Range" not in response


@pytest.mark.parametrize("header,start,end", [
    ("bytes=0-99", 0, 99),
    ("bytes=100-", 100, None),
    ("bytes=-500", -500, None),
    ("bytes=1000-1000", 1000, 1000),
    ("bytes=8000-999999", 8000, None),
])
def test_it_answers_one_range_with_206_and_exactly_those_bytes(api, clip, mp4, header, start, end):
    response = api.get(f"clips/{clip.id}/video", headers={"Range": header})
    assert response.status_code == 206, header
    expected = mp4[start:] if end is None else mp4[start:end + 1]
    first = start if start >= 0 else len(mp4) + start
    assert body(response) == expected
    assert response["Content-Length"] == str(len(expected))
    assert response["Content-Range"] == f"bytes {first}-{first + len(expected) - 1}/{len(mp4)}"


def test_it_answers_416_to_a_range_past_the_end(api, clip, mp4):
    for header in (f"bytes={len(mp4)}-", f"bytes={len(mp4) + 10}-{len(mp4) + 20}", "bytes=-0"):
        response = api.get(f"clips/{clip.id}/video", headers={"Range": header})
        assert response.status_code == 416, header
        assert response["Content-Range"] == f"bytes */{len(mp4)}"
        assert response.json()["code"] == "range_not_satisfiable"


def test_it_answers_several_ranges_with_the_whole_video(api, clip, mp4):
    response = api.get(f"clips/{clip.id}/video", headers={"Range": "bytes=0-9,20-29"})
    assert response.status_code == 200
    assert body(response) == mp4


def test_it_ignores_a_malformed_range(api, clip, mp4):
    for header in ("bytes=9-1", "bytes=abc", "items=0-1", "bytes=-"):
        response = api.get(f"clips/{clip.id}/video", headers={"Range": header})
        assert (response.status_code, body(response)) == (200, mp4), header


def test_it_honours_if_range_only_for_the_clips_own_etag(api, clip, mp4):
    etag = api.get(f"clips/{clip.id}/video")["ETag"]
    same = api.get(f"clips/{clip.id}/video", headers={"Range": "bytes=0-9", "If-Range": etag})
    assert (same.status_code, body(same)) == (206, mp4[:10])
    other = api.get(f"clips/{clip.id}/video", headers={"Range": "bytes=0-9", "If-Range": '"other"'})
    assert (other.status_code, body(other)) == (200, mp4)


def test_it_plays_the_video_for_the_portal_session(client, owner, clip, mp4):
    client.login(email=owner.email, password=PASSWORD)
    response = client.get(f"/api/v1/clips/{clip.id}/video", headers={"Range": "bytes=4-11"})
    assert (response.status_code, body(response)) == (206, b"ftypisom")


def test_it_answers_404_when_the_file_vanished_under_the_row(api, clip):
    clip.file.storage.delete(clip.file.name)
    assert api.get(f"clips/{clip.id}/video").status_code == 404


def test_it_hides_a_clip_that_aged_out_before_the_sweep_runs(owner, api):
    set_clock(owner, utc(2027, 3, 10))
    camera = Camera.objects.create(account=owner, name="Attic", serial="AGED-1", device_token_hash="a" * 64)
    fresh = Clip.objects.create(camera=camera, recorded_at=utc(2027, 3, 9), duration_s=4, size=1, file="x/fresh.mp4")
    aged = Clip.objects.create(camera=camera, recorded_at=utc(2027, 3, 10) - timedelta(days=2, seconds=1),
                               duration_s=4, size=1, file="x/aged.mp4")
    assert list(visible_clips(camera)) == [fresh]
    assert api.get(f"cameras/{camera.pk}/clips").json()[0]["id"] == fresh.pk
    assert api.get(f"clips/{aged.pk}/video").status_code == 404
