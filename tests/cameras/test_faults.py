"""Erasure killed half way (between the record and the file): the sweep finishes it."""

from datetime import timedelta

import pytest

from camcare.billing import actions
from camcare.cameras import erasure
from camcare.cameras.models import Camera, Clip
from tests.cameras.conftest import NOW, add_clip, clip_ids, media_files
from tests.cameras.faulty import PowerCut, crashing_twin

DAY = timedelta(days=1)


@pytest.fixture
def crashing_storage(settings, clip_storage):
    """The clip storage of this run (local or S3), made to crash on demand."""
    crashing, config = crashing_twin(settings.STORAGES["default"])
    settings.STORAGES = {**settings.STORAGES, "default": config}
    crashing.deletes_before_crash, crashing.deleted = None, 0
    yield crashing
    crashing.deletes_before_crash = None


def test_it_finishes_an_erasure_killed_between_the_records_and_the_files(api, porch, garden, now, crashing_storage):
    doomed = [add_clip(porch.camera, NOW - (3 + i) * DAY) for i in range(4)]
    kept = [add_clip(porch.camera, NOW - DAY), add_clip(garden.camera, NOW - 5 * DAY)]
    crashing_storage.deletes_before_crash = 1
    with pytest.raises(PowerCut):
        erasure.erase_clips_before(porch.camera.id, NOW - 2 * DAY)

    # Killed: every doomed record is tombstoned (gone for the owner), one file is deleted.
    assert Clip.objects.filter(erasing_since__isnull=False).count() == 4
    assert [c["id"] for c in api.get(f"cameras/{porch.camera.id}/clips").json()] == [kept[0].id]
    assert api.get(f"clips/{doomed[1].id}/video").status_code == 404
    assert len(media_files() & {clip.file.name for clip in doomed}) == 3

    crashing_storage.deletes_before_crash = None
    report = erasure.sweep(NOW)
    assert report.finished == 4
    assert clip_ids() == {clip.id for clip in kept}
    assert media_files() == {clip.file.name for clip in kept}
    assert erasure.sweep(NOW).erased == 0


def test_it_finishes_an_erasure_killed_between_the_files_and_the_records(porch, now, monkeypatch):
    doomed = [add_clip(porch.camera, NOW - 3 * DAY), add_clip(porch.camera, NOW - 4 * DAY)]
    kept = add_clip(porch.camera, NOW - DAY)

    def killed(pks):
        raise PowerCut("killed before deleting the rows")

    monkeypatch.setattr(erasure, "delete_rows", killed)
    with pytest.raises(PowerCut):
        erasure.erase_clips_before(porch.camera.id, NOW - 2 * DAY)
    monkeypatch.undo()
    assert media_files() == {kept.file.name}
    assert clip_ids() == {kept.id, *(clip.id for clip in doomed)}  # dangling, but tombstoned

    erasure.sweep(NOW)
    assert clip_ids() == {kept.id}
    assert media_files() == {kept.file.name}


def test_it_finishes_a_downgrade_whose_erasure_was_killed(owner, porch, garden, now, premium, crashing_storage,
                                                         django_capture_on_commit_callbacks):
    doomed = [add_clip(porch.camera, NOW - (3 + i) * DAY) for i in range(3)]
    kept = add_clip(porch.camera, NOW - DAY)
    crashing_storage.deletes_before_crash = 0
    with django_capture_on_commit_callbacks(execute=True):
        result = actions.change_plan(account=owner, cameras={porch.camera.id: "free"}, actor=owner)
    assert result.erasures[0]["clips"] == 3  # the change itself went through
    assert Clip.objects.filter(erasing_since__isnull=False).count() == 3
    assert media_files() >= {clip.file.name for clip in doomed}

    crashing_storage.deletes_before_crash = None
    erasure.sweep(NOW)
    assert clip_ids(camera=porch.camera) == {kept.id}
    assert media_files() & {clip.file.name for clip in doomed} == set()


def test_it_completes_a_camera_removal_killed_half_way(porch, now, crashing_storage):
    clips = [add_clip(porch.camera, NOW - DAY), add_clip(porch.camera, NOW - 2 * DAY)]
    crashing_storage.deletes_before_crash = 1
    with pytest.raises(PowerCut):
        erasure.erase_camera(porch.camera.id)
    assert Camera.objects.filter(id=porch.camera.id).exists()  # still listed: remove it again
    assert media_files() == {clips[1].file.name} or media_files() == {clips[0].file.name}

    crashing_storage.deletes_before_crash = None
    erasure.sweep(NOW)
    assert clip_ids() == set()
    assert media_files() == set()
    erasure.erase_camera(porch.camera.id)
    assert not Camera.objects.filter(id=porch.camera.id).exists()
