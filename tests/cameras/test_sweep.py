"""The daily retention sweep: `sweep_clips --at --dry-run --batch-size --orphans`."""

import io
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from camcare.cameras import erasure
from camcare.cameras.models import Clip
from tests.cameras.conftest import NOW, add_clip, age_file, clip_ids, media_files

DAY = timedelta(days=1)


@pytest.fixture
def real_time(settings):
    """Production: no test clocks, every account on the same time."""
    settings.TEST_CLOCKS = False


@pytest.fixture
def aged(owner, porch, garden, theirs, now, premium):
    """Porch and Garden on premium (30 days), the outsider's camera on free (2 days)."""
    return {
        "porch_fresh": add_clip(porch.camera, NOW - DAY),
        "porch_old": add_clip(porch.camera, NOW - 31 * DAY),
        "garden_edge": add_clip(garden.camera, NOW - 30 * DAY),
        "garden_old": add_clip(garden.camera, NOW - 30 * DAY - timedelta(seconds=1)),
        "theirs_fresh": add_clip(theirs.camera, NOW - DAY),
        "theirs_old": add_clip(theirs.camera, NOW - 3 * DAY),
    }


def names(aged, *keys) -> set[str]:
    return {aged[key].id for key in keys}


def test_it_erases_the_clips_that_aged_out_of_their_window(aged, real_time):
    report = erasure.sweep(NOW)
    assert report.expired == {"free": 1, "plus": 0, "premium": 2}
    assert (report.finished, report.erased) == (0, 3)
    assert clip_ids() == names(aged, "porch_fresh", "garden_edge", "theirs_fresh")
    assert media_files() == {aged[key].file.name for key in ("porch_fresh", "garden_edge", "theirs_fresh")}


def test_it_is_idempotent(aged, real_time):
    erasure.sweep(NOW)
    again = erasure.sweep(NOW)
    assert again.erased == 0
    assert clip_ids() == names(aged, "porch_fresh", "garden_edge", "theirs_fresh")


def test_it_erases_in_batches(porch, now, real_time):
    clips = [add_clip(porch.camera, NOW - 3 * DAY - timedelta(minutes=i)) for i in range(7)]
    fresh = add_clip(porch.camera, NOW - DAY)
    report = erasure.sweep(NOW, batch_size=2)
    assert report.expired["free"] == len(clips)
    assert clip_ids() == {fresh.id}
    assert media_files() == {fresh.file.name}


def test_it_changes_nothing_in_a_dry_run(aged, real_time):
    before = (clip_ids(), media_files())
    report = erasure.sweep(NOW, dry_run=True)
    assert (report.erased, report.expired) == (3, {"free": 1, "plus": 0, "premium": 2})
    assert (clip_ids(), media_files()) == before


def test_it_sweeps_at_the_given_instant(aged, real_time):
    erasure.sweep(NOW + DAY)
    assert clip_ids() == names(aged, "porch_fresh", "theirs_fresh")


def test_it_leaves_accounts_on_a_frozen_test_clock_to_their_clock_moves(aged, owner, outsider):
    """With test clocks on, the real-time run does not judge an account by another now."""
    outsider.test_clock_at = None
    outsider.save()
    erasure.sweep(NOW)
    assert clip_ids() == names(aged, "porch_fresh", "porch_old", "garden_edge", "garden_old", "theirs_fresh")
    erasure.sweep(NOW, account=owner)
    assert clip_ids() == names(aged, "porch_fresh", "garden_edge", "theirs_fresh")


def test_it_runs_as_a_command(aged, real_time):
    out = io.StringIO()
    call_command("sweep_clips", "--at", "2026-11-26T12:00:00Z", "--dry-run", stdout=out)
    assert "would erase 3 clips" in out.getvalue()
    assert len(clip_ids()) == 6
    call_command("sweep_clips", "--at", "2026-11-26T12:00:00Z", "--batch-size", "1", stdout=out)
    assert "erased 3 clips" in out.getvalue()
    assert clip_ids() == names(aged, "porch_fresh", "garden_edge", "theirs_fresh")


def test_it_refuses_bad_command_options(db):
    with pytest.raises(CommandError):
        call_command("sweep_clips", "--at", "tomorrow")
    with pytest.raises(CommandError):
        call_command("sweep_clips", "--at", "2026-11-26T12:00:00")
    for size in ("0", "10001"):
        with pytest.raises(CommandError):
            call_command("sweep_clips", "--batch-size", size)


def test_it_removes_old_files_without_a_row_in_the_orphans_pass(porch, now, real_time):
    clip = add_clip(porch.camera, NOW - DAY)
    folder = f"clips/{porch.camera.account_id}/{porch.camera.id}"
    old_orphan = default_storage.save(f"{folder}/clp_crashedupload1.mp4", ContentFile(b"x" * 10))
    young_orphan = default_storage.save(f"{folder}/clp_uploadinflight.mp4", ContentFile(b"x" * 10))
    stray = default_storage.save("clips/acc_gone/cam_gone/clp_whatever.mp4", ContentFile(b"x"))
    age_file(old_orphan, 2)
    age_file(stray, 48)
    age_file(clip.file.name, 48)

    assert erasure.sweep(NOW, orphans=True, dry_run=True).orphans == 2
    assert len(media_files()) == 4
    report = erasure.sweep(NOW, orphans=True)
    assert report.orphans == 2
    assert media_files() == {clip.file.name, young_orphan}
    assert clip_ids() == {clip.id}
    assert erasure.sweep(NOW).orphans is None  # the daily run does not list the storage


def test_it_counts_nothing_when_the_storage_is_empty(db, real_time):
    assert erasure.sweep(NOW, orphans=True).orphans == 0
    assert Clip.objects.count() == 0
