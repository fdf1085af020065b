"""Erasure after a change that shortens a window, and at camera removal (POLICY.md 6)."""

from datetime import timedelta

from camcare.billing import actions
from camcare.cameras import erasure
from camcare.cameras.models import Camera, Clip
from tests.cameras.conftest import add_clip, clip_ids, media_files
from tests.cameras.test_upload import upload

DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


def clips_aged(camera, now, ages) -> dict:
    """{age: clip} for clips recorded `age` before `now`."""
    return {age: add_clip(camera, now - age) for age in ages}


def files_of(clips) -> set[str]:
    return {clip.file.name for clip in clips}


AGES = [DAY, 14 * DAY - SECOND, 14 * DAY, 14 * DAY + SECOND, 20 * DAY, 29 * DAY]


def test_it_erases_exactly_the_clips_older_than_14_days_on_a_premium_to_plus_downgrade(
        owner, porch, garden, theirs, now, premium, django_capture_on_commit_callbacks):
    on_porch = clips_aged(porch.camera, now, AGES)
    on_garden = clips_aged(garden.camera, now, AGES)
    elsewhere = clips_aged(theirs.camera, now, [20 * DAY])  # the outsider's camera, on free
    doomed = [on_porch[14 * DAY + SECOND], on_porch[20 * DAY], on_porch[29 * DAY]]
    kept = [clip for clip in [*on_porch.values(), *on_garden.values(), *elsewhere.values()] if clip not in doomed]
    files_kept = files_of(kept)
    assert media_files() == files_kept | files_of(doomed)

    with django_capture_on_commit_callbacks(execute=True):
        result = actions.change_plan(account=owner, cameras={porch.camera.id: "plus"}, actor=owner)

    assert result.erasures == [{"camera": porch.camera.id, "clips": 3, "recorded_before": "2026-11-12T12:00:00Z", "held": False}]
    assert clip_ids() == {clip.id for clip in kept}
    assert media_files() == files_kept


def test_it_keeps_two_days_after_a_cancel(owner, porch, garden, now, premium, django_capture_on_commit_callbacks):
    on_porch = clips_aged(porch.camera, now, [DAY, 2 * DAY, 2 * DAY + SECOND, 10 * DAY])
    on_garden = clips_aged(garden.camera, now, [2 * DAY - SECOND, 3 * DAY])
    kept = [on_porch[DAY], on_porch[2 * DAY], on_garden[2 * DAY - SECOND]]

    preview = actions.preview_cancel(account=owner, actor=owner)
    assert sorted(preview.erasures, key=lambda e: e["camera"]) == sorted([
        {"camera": porch.camera.id, "clips": 2, "recorded_before": "2026-11-24T12:00:00Z", "held": False},
        {"camera": garden.camera.id, "clips": 1, "recorded_before": "2026-11-24T12:00:00Z", "held": False},
    ], key=lambda e: e["camera"])
    with django_capture_on_commit_callbacks(execute=True):
        actions.cancel_subscription(account=owner, quote_id=preview.quote_id, actor=owner)

    assert clip_ids() == {clip.id for clip in kept}
    assert media_files() == files_of(kept)


def test_it_erases_only_the_given_cameras_clips_before_the_cutoff(porch, garden, now):
    on_porch = clips_aged(porch.camera, now, [DAY, 3 * DAY])
    on_garden = clips_aged(garden.camera, now, [3 * DAY])
    cutoff = now - 2 * DAY
    assert erasure.count_clips_before(porch.camera.id, cutoff) == 1
    assert list(erasure.clips_before(porch.camera.id, cutoff)) == [on_porch[3 * DAY]]

    assert erasure.erase_clips_before(porch.camera.id, cutoff) == 1

    assert clip_ids() == {on_porch[DAY].id, on_garden[3 * DAY].id}
    assert media_files() == files_of([on_porch[DAY], on_garden[3 * DAY]])


def test_it_is_idempotent(porch, now):
    clips_aged(porch.camera, now, [DAY, 3 * DAY, 4 * DAY])
    cutoff = now - 2 * DAY
    assert erasure.erase_clips_before(porch.camera.id, cutoff) == 2
    assert erasure.erase_clips_before(porch.camera.id, cutoff) == 0
    assert erasure.count_clips_before(porch.camera.id, cutoff) == 0
    assert Clip.objects.count() == 1
    assert len(media_files()) == 1


def test_it_erases_a_camera_with_all_its_clips(porch, garden, now):
    clips_aged(porch.camera, now, [DAY, 3 * DAY])
    kept = clips_aged(garden.camera, now, [DAY])
    erasure.erase_camera(porch.camera.id)
    assert not Camera.objects.filter(id=porch.camera.id).exists()
    assert clip_ids() == {clip.id for clip in kept.values()}
    assert media_files() == files_of(kept.values())
    erasure.erase_camera(porch.camera.id)  # again: nothing left to do, no error


def test_it_removes_a_camera_through_the_api(api, owner, porch, garden, now, premium, mp4,
                                            django_capture_on_commit_callbacks):
    clips_aged(porch.camera, now, [DAY, 20 * DAY])
    kept = clips_aged(garden.camera, now, [DAY])
    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(f"cameras/{porch.camera.id}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["currency"] == "USD"
    assert "orders" in body and "subscription" in body
    assert [c["id"] for c in api.get("cameras").json()] == [garden.camera.id]
    assert clip_ids() == {clip.id for clip in kept.values()}
    assert media_files() == files_of(kept.values())
    assert not Camera.objects.filter(id=porch.camera.id).exists()
    assert upload(porch.token, mp4).status_code == 401  # its device token died with it


def test_it_removes_a_free_camera_through_the_api(api, porch, now):
    clips_aged(porch.camera, now, [DAY])
    response = api.delete(f"cameras/{porch.camera.id}")
    assert response.status_code == 200, response.content
    assert response.json()["net"] == 0
    assert Clip.objects.count() == 0
    assert media_files() == set()
    assert api.get("cameras").json() == []


def test_it_answers_404_to_an_outsider_removing_a_camera(outsider_api, porch, now):
    clip = add_clip(porch.camera, now - DAY)
    response = outsider_api.delete(f"cameras/{porch.camera.id}")
    assert response.status_code == 404
    assert Camera.objects.filter(id=porch.camera.id).exists()
    assert clip_ids() == {clip.id}
    assert outsider_api.delete("cameras/cam_nope").status_code == 404


def test_it_asks_an_anonymous_caller_to_sign_in_before_removing(anon_api, porch):
    assert anon_api.delete(f"cameras/{porch.camera.id}").status_code == 401
    assert Camera.objects.filter(id=porch.camera.id).exists()
