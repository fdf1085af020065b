"""Held clips through the API (POLICY.md section 6, API.md end table): `GET /cameras`
gives each camera's `held: {clips, until}` or null; a held clip is absent from
`GET /cameras/{id}/clips` and answers 404 on `GET /clips/{id}/video`; a new paid
subscription brings back the held clips inside its windows.

On both clip storages, like every clip test (tests/cameras/conftest.py), and with the
same lapse (tests/cameras/test_holds.py)."""

from __future__ import annotations

from tests.api.conftest import assert_error
from tests.cameras.conftest import (  # noqa: F401 (fixtures)
    clip_storage,
    garden,
    now,
    porch,
    premium,
    s3_server,
    theirs,
)
from tests.cameras.test_holds import lapsed  # noqa: F401 (fixture)


def test_it_lists_each_cameras_held_clips_as_a_count_and_a_date(api, outsider_api, porch, garden, theirs, lapsed):  # noqa: F811
    cameras = {camera["id"]: camera for camera in api.get("cameras").json()}
    assert cameras[porch.camera.id]["held"] == {"clips": 2, "until": "2027-01-16T12:00:00Z"}
    assert cameras[garden.camera.id]["held"] == {"clips": 1, "until": "2027-01-16T12:00:00Z"}
    assert cameras[porch.camera.id]["plan"] == "free"
    [their_camera] = outsider_api.get("cameras").json()
    assert their_camera["held"] is None


def test_a_held_clip_is_not_listed_nor_playable(api, outsider_api, porch, lapsed):  # noqa: F811
    listed = api.get(f"cameras/{porch.camera.id}/clips").json()
    assert [clip["id"] for clip in listed] == [lapsed["p1"].id]
    assert api.get(f"clips/{lapsed['p1'].id}/video").status_code == 200
    for key in ("p5", "p20", "g10"):
        assert_error(api.get(f"clips/{lapsed[key].id}/video"), 404, "not_found", account=api.account)
        assert_error(api.get(f"clips/{lapsed[key].id}/video", headers={"Range": "bytes=0-1"}), 404, "not_found",
                     account=api.account)
    assert_error(outsider_api.get(f"clips/{lapsed['p5'].id}/video"), 404, "not_found", account=outsider_api.account)


def test_a_new_subscription_brings_back_the_held_clips_its_window_covers(api, owner, porch, garden, lapsed,  # noqa: F811
                                                                          django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post("test-clock", {"now": "2027-01-05T12:00:00Z"}).status_code == 200
        assert api.put("payment-method", {"token": "tok_visa"}).status_code == 200
        answer = api.put("subscription", {"cameras": {porch.camera.id: "plus"}, "cycle": "monthly"})
    assert answer.status_code == 200, answer.json()
    assert [camera["held"] for camera in api.get("cameras").json()] == [None, None]
    listed = api.get(f"cameras/{porch.camera.id}/clips").json()
    assert [clip["id"] for clip in listed] == [lapsed["p5"].id]  # 8 days old, inside plus's 14
    assert api.get(f"clips/{lapsed['p5'].id}/video").status_code == 200
    assert_error(api.get(f"clips/{lapsed['p20'].id}/video"), 404, "not_found", account=api.account)  # erased


def test_a_held_clip_is_gone_for_good_once_the_hold_ends(api, porch, lapsed, django_capture_on_commit_callbacks):  # noqa: F811
    with django_capture_on_commit_callbacks(execute=True):
        api.post("test-clock", {"now": "2027-01-16T12:00:00Z"})
    assert [camera["held"] for camera in api.get("cameras").json()] == [None, None]
    assert_error(api.get(f"clips/{lapsed['p5'].id}/video"), 404, "not_found", account=api.account)
    assert api.get(f"cameras/{porch.camera.id}/clips").json() == []
