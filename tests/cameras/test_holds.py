"""The 14-day hold (POLICY.md section 6): after a lapse the clips outside Free's window
are held, invisible everywhere, shown only as a count with their erasure date; the sweep
leaves them until the hold's end, then erases files and rows; a new paid subscription
before then brings back those inside its windows and erases the rest at once.

The lapse is the real one (four declined attempts on the test clock). Until the billing
lapse calls holds.hold_after_lapse itself, the tests add the clips after the lapse and
call it as the lapse will, at the lapse's instant. Real database, real clip files (local
folder and S3: tests/cameras/conftest.py), nothing of ours mocked."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
from django.core.management import call_command

from camcare.billing import actions
from camcare.billing.errors import BillingRefusal
from camcare.cameras import erasure, holds, services
from camcare.cameras.models import Clip
from camcare.cameras.views import download_url
from camcare.domain.periods import iso_z
from tests.cameras.conftest import NOW, add_clip, clip_ids, media_files
from tests.conftest import PASSWORD, set_clock, utc

DAY = timedelta(days=1)
LAPSE = utc(2027, 1, 2, 12)  # premium from NOW (Nov 26); renewal Dec 26 and retries Dec 27, 29, Jan 2
UNTIL = LAPSE + 14 * DAY  # 2027-01-16T12:00Z


@pytest.fixture
def signed_in(client, owner):
    client.login(email=owner.email, password=PASSWORD)
    return client


@pytest.fixture
def lapsed(owner, porch, garden, premium, django_capture_on_commit_callbacks):
    """Both cameras lapsed from premium to free at LAPSE, and their clips held as the lapse
    holds them. Porch: 1, 5, 20 and 40 days old; Garden: 10 days old."""
    actions.save_payment_method(account=owner, token="tok_chargeDeclined", actor=owner)
    with django_capture_on_commit_callbacks(execute=True):
        actions.advance_test_clock(account=owner, to=LAPSE, actor=owner)
    assert set(services.cameras_of(owner).values_list("plan", flat=True)) == {"free"}
    clips = {
        "p1": add_clip(porch.camera, LAPSE - DAY),  # inside Free's window: stays visible
        "p5": add_clip(porch.camera, LAPSE - 5 * DAY),
        "p20": add_clip(porch.camera, LAPSE - 20 * DAY),
        "p40": add_clip(porch.camera, LAPSE - 40 * DAY),  # outside premium's window already
        "g10": add_clip(garden.camera, LAPSE - 10 * DAY),
    }
    until = holds.hold_after_lapse(owner, old_plans={porch.camera.id: "premium", garden.camera.id: "premium"},
                                   at=LAPSE)
    assert until == UNTIL
    return clips


def ids(clips, *keys) -> set[str]:
    return {clips[key].id for key in keys}


def files(clips, *keys) -> set[str]:
    return {clips[key].file.name for key in keys}


def move_clock(owner, to, capture):
    with capture(execute=True):
        actions.advance_test_clock(account=owner, to=to, actor=owner)


def subscribe(owner, cameras: dict, capture, *, token="tok_visa"):
    actions.save_payment_method(account=owner, token=token, actor=owner)
    with capture(execute=True):
        return actions.change_plan(account=owner, cameras=cameras, actor=owner)


# ---------------------------------------------------------------- holding


def test_it_holds_the_clips_outside_frees_window_inside_the_old_one(owner, porch, garden, lapsed):
    assert clip_ids(held_until=UNTIL) == ids(lapsed, "p5", "p20", "g10")
    assert clip_ids(held_until__isnull=True) == ids(lapsed, "p1", "p40")
    assert holds.held_summary(owner) == {porch.camera.id: (2, UNTIL), garden.camera.id: (1, UNTIL)}


def test_holding_again_changes_nothing_and_keeps_the_earliest_until(owner, porch, garden, lapsed):
    plans = {porch.camera.id: "premium", garden.camera.id: "premium"}
    holds.hold_after_lapse(owner, old_plans=plans, at=LAPSE)
    holds.hold_after_lapse(owner, old_plans=plans, at=LAPSE + DAY)  # a later hold never extends one
    assert clip_ids(held_until=UNTIL) == ids(lapsed, "p5", "p20", "g10")
    assert clip_ids(held_until__isnull=True) == ids(lapsed, "p1", "p40")
    assert holds.hold_clips_before(porch.camera, LAPSE - 15 * DAY, until=UNTIL + DAY) == 1  # p40 newly
    assert clip_ids(held_until=UNTIL) == ids(lapsed, "p5", "p20", "g10")  # p20 keeps its earlier until
    assert holds.hold_clips_before(porch.camera.id, LAPSE - 15 * DAY, until=UNTIL - DAY) == 0
    assert clip_ids(held_until=UNTIL - DAY) == ids(lapsed, "p20", "p40")


def test_it_holds_nothing_of_a_camera_that_was_on_free_or_of_another_account(owner, outsider, porch, garden,
                                                                                 theirs, now):
    mine, other = add_clip(porch.camera, NOW - 5 * DAY), add_clip(theirs.camera, NOW - 5 * DAY)
    holds.hold_after_lapse(owner, old_plans={porch.camera.id: "free", theirs.camera.id: "premium"}, at=NOW)
    assert clip_ids(held_until__isnull=False) == set()
    holds.hold_after_lapse(owner, old_plans={porch.camera.id: "plus"}, at=NOW)
    assert clip_ids(held_until__isnull=False) == {mine.id}
    assert other.id in clip_ids(held_until__isnull=True)


# ---------------------------------------------------------------- invisible everywhere


def test_held_clips_are_not_listed_played_counted_or_erased_by_a_change(owner, porch, lapsed):
    assert list(services.visible_clips(porch.camera)) == [lapsed["p1"]]
    assert services.clip_of(owner, lapsed["p5"].id) is None
    assert services.clip_of(owner, lapsed["p1"].id) == lapsed["p1"]
    assert set(erasure.clips_before(porch.camera.id, LAPSE + DAY)) == {lapsed["p1"], lapsed["p40"]}
    assert erasure.count_clips_before(porch.camera.id, LAPSE + DAY) == 2
    assert erasure.erase_clips_before(porch.camera.id, LAPSE + DAY) == 2  # an owner's erasure: visible only
    assert clip_ids() == ids(lapsed, "p5", "p20", "g10")


def test_the_camera_page_shows_only_the_count_and_the_date(signed_in, porch, lapsed):
    page = signed_in.get(f"/cameras/{porch.camera.id}/clips/").content.decode()
    assert lapsed["p1"].id in page
    assert lapsed["p5"].id not in page and lapsed["p20"].id not in page
    assert "2 older clips are held until" in page
    assert "16 Jan 2027, 12:00 UTC" in page
    assert 'href="/change/"' in page and "Subscribe" in page
    played = signed_in.get(f"/cameras/{porch.camera.id}/clips/?play={lapsed['p5'].id}").content.decode()
    assert "<video" not in played


def test_the_camera_page_of_a_camera_without_held_clips_says_nothing_of_holds(signed_in, porch, garden, now):
    add_clip(porch.camera, NOW - DAY)
    page = signed_in.get(f"/cameras/{porch.camera.id}/clips/").content.decode()
    assert 'data-testid="held"' not in page


def unzip(response) -> set[str]:
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as archive:
        return set(archive.namelist())


def test_a_held_clip_is_in_no_download(signed_in, porch, lapsed):
    names = unzip(signed_in.get(download_url(porch.camera.id, LAPSE + DAY)))
    assert names == {f"Porch/{lapsed[key].recorded_at:%Y-%m-%dT%H-%M-%SZ}.mp4" for key in ("p1", "p40")}


def test_a_quoted_change_neither_counts_zips_nor_erases_held_clips(signed_in, owner, porch, garden, premium,
                                                                   django_capture_on_commit_callbacks):
    """Held clips beside a paid window cannot come from a lapse; held by hand here, to see
    that the preview, its ZIP and the erasure all leave them alone."""
    visible, held = add_clip(porch.camera, NOW - 5 * DAY), add_clip(porch.camera, NOW - 6 * DAY)
    holds.hold_clips_before(porch.camera, NOW - 5 * DAY - timedelta(seconds=1), until=NOW + 14 * DAY)
    preview = actions.preview_cancel(account=owner, actor=owner)
    assert {e["camera"]: e["clips"] for e in preview.erasures} == {porch.camera.id: 1, garden.camera.id: 0}
    assert unzip(signed_in.get(f"/cameras/download/?quote={preview.quote_id}")) == {
        f"Porch/{visible.recorded_at:%Y-%m-%dT%H-%M-%SZ}.mp4"}
    with django_capture_on_commit_callbacks(execute=True):
        actions.cancel_subscription(account=owner, quote_id=preview.quote_id, actor=owner)
    assert clip_ids() == {held.id}


# ---------------------------------------------------------------- the sweep


def test_the_test_clock_sweep_leaves_held_clips_until_the_holds_end(owner, lapsed, django_capture_on_commit_callbacks):
    move_clock(owner, UNTIL - timedelta(seconds=1), django_capture_on_commit_callbacks)
    assert clip_ids() == ids(lapsed, "p5", "p20", "g10")  # p1 and p40 aged out of Free's window
    assert media_files() == files(lapsed, "p5", "p20", "g10")
    assert holds.held_summary(owner) != {}
    move_clock(owner, UNTIL, django_capture_on_commit_callbacks)
    assert clip_ids() == set()
    assert media_files() == set()
    assert holds.held_summary(owner) == {}


def test_the_daily_sweep_command_erases_held_clips_at_the_holds_end(owner, lapsed, settings):
    settings.TEST_CLOCKS = False  # production: the real-time run judges every account
    out = io.StringIO()
    call_command("sweep_clips", "--at", "2027-01-16T11:59:59Z", stdout=out)
    assert "held clips whose hold ended: 0" in out.getvalue()
    assert clip_ids() == ids(lapsed, "p5", "p20", "g10")
    call_command("sweep_clips", "--at", "2027-01-16T12:00:00Z", "--dry-run", stdout=out)
    assert "held clips whose hold ended: 3" in out.getvalue()
    assert clip_ids() == ids(lapsed, "p5", "p20", "g10")
    out = io.StringIO()
    call_command("sweep_clips", "--at", "2027-01-16T12:00:00Z", "--batch-size", "2", stdout=out)
    assert "erased 3 clips" in out.getvalue() and "held clips whose hold ended: 3" in out.getvalue()
    assert clip_ids() == set() and media_files() == set()
    assert holds.erase_expired_holds(at=UNTIL) == 0  # idempotent


def test_a_frozen_test_clock_keeps_its_held_clips_from_the_real_time_sweep(owner, lapsed):
    assert holds.erase_expired_holds(at=UNTIL + 100 * DAY) == 0  # the owner's clock stands at LAPSE
    assert holds.erase_expired_holds(at=UNTIL, account=owner) == 3


def test_an_ended_hold_is_no_longer_shown_even_before_the_sweep(owner, lapsed):
    set_clock(owner, UNTIL)
    assert holds.held_summary(owner) == {}


# ---------------------------------------------------------------- a paid period starts


def test_a_new_subscription_brings_back_the_held_clips_inside_its_windows_and_erases_the_rest(
        owner, porch, garden, lapsed, django_capture_on_commit_callbacks):
    move_clock(owner, LAPSE + 3 * DAY, django_capture_on_commit_callbacks)
    windows = holds.new_windows({porch.camera.id: "plus", garden.camera.id: "free"}, LAPSE + 3 * DAY)
    assert holds.release_preview(owner, windows=windows, at=LAPSE + 3 * DAY) == {
        porch.camera.id: (1, 1), garden.camera.id: (0, 1)}
    subscribe(owner, {porch.camera.id: "plus"}, django_capture_on_commit_callbacks)
    # Plus keeps 14 days from Jan 5: p5 (Dec 28) comes back, p20 (Dec 13) is erased; Garden is on free.
    assert clip_ids() == ids(lapsed, "p5")
    assert media_files() == files(lapsed, "p5")
    assert list(services.visible_clips(porch.camera)) == [lapsed["p5"]]
    assert holds.held_summary(owner) == {}


def test_a_declined_subscription_changes_no_hold(owner, lapsed, porch, django_capture_on_commit_callbacks):
    with pytest.raises(BillingRefusal) as refused:
        subscribe(owner, {porch.camera.id: "premium"}, django_capture_on_commit_callbacks, token="tok_chargeDeclined")
    assert refused.value.code == "payment_failed"
    assert clip_ids(held_until=UNTIL) == ids(lapsed, "p5", "p20", "g10")


def test_nothing_comes_back_after_the_holds_end_even_before_the_sweep(owner, porch, garden, lapsed,
                                                                       django_capture_on_commit_callbacks):
    set_clock(owner, UNTIL + DAY)  # frozen there without the sweep of a clock move
    assert clip_ids(held_until=UNTIL) == ids(lapsed, "p5", "p20", "g10")
    subscribe(owner, {porch.camera.id: "premium", garden.camera.id: "premium"}, django_capture_on_commit_callbacks)
    assert clip_ids(held_until__isnull=False) == set()
    assert not clip_ids() & ids(lapsed, "p5", "p20", "g10")
    assert not media_files() & files(lapsed, "p5", "p20", "g10")


def test_release_holds_outside_a_change_erases_what_no_window_covers(owner, porch, garden, lapsed):
    at = LAPSE + DAY
    assert holds.release_preview(owner, windows={}, at=at) == {porch.camera.id: (0, 2), garden.camera.id: (0, 1)}
    restored, erased = holds.release_holds(owner, windows={porch.camera.id: LAPSE - 10 * DAY}, at=at)
    assert (restored, erased) == (1, 2)  # p5 back; p20 outside, g10's camera has no window
    assert clip_ids(held_until__isnull=True) == ids(lapsed, "p1", "p5", "p40")
    assert holds.release_holds(owner, windows={}, at=at) == (0, 0)  # idempotent
    assert holds.release_preview(owner, windows={}, at=at) == {}


# ---------------------------------------------------------------- replacement and removal


def test_a_replacement_carries_the_held_clips_and_their_restoration(owner, porch, lapsed,
                                                                    django_capture_on_commit_callbacks):
    replaced = actions.replace_camera(account=owner, old_camera=porch.camera, name="Porch", model="KC300",
                                      serial="sn-new-porch", actor=owner)
    new = replaced.camera
    assert holds.held_summary(owner)[new.id] == (2, UNTIL)
    assert porch.camera.id not in holds.held_summary(owner)
    assert list(services.visible_clips(new)) == [lapsed["p1"]]
    move_clock(owner, LAPSE + 3 * DAY, django_capture_on_commit_callbacks)
    subscribe(owner, {new.id: "premium"}, django_capture_on_commit_callbacks)
    new = services.camera_of(owner, new.id)  # on premium now, at the owner's clock
    assert set(services.visible_clips(new)) == {lapsed["p5"], lapsed["p20"]}  # premium's 30 days cover both


def test_removing_a_camera_erases_its_held_clips_too(owner, garden, lapsed):
    erasure.erase_camera(garden.camera.id)
    assert not Clip.objects.filter(pk=lapsed["g10"].pk).exists()
    assert lapsed["g10"].file.name not in media_files()



def test_the_subscribe_preview_lists_the_held_clips_it_would_erase(owner, porch, garden, lapsed,
                                                                   django_capture_on_commit_callbacks):
    """POLICY.md section 6: told exactly what before confirming. Plus on Porch 3 days after
    the lapse brings back p5 and erases p20 (and Garden's, which stays on Free); the
    preview lists those, marked held (nothing to download), and the change erases them."""
    at = LAPSE + 3 * DAY
    move_clock(owner, at, django_capture_on_commit_callbacks)
    actions.save_payment_method(account=owner, token="tok_visa", actor=owner)
    preview = actions.preview_change(account=owner, cameras={porch.camera.id: "plus"}, actor=owner).to_api()
    assert sorted(preview["erasures"], key=lambda e: e["recorded_before"]) == [
        {"camera": porch.camera.id, "clips": 1, "recorded_before": iso_z(at - 14 * DAY), "held": True},
        {"camera": garden.camera.id, "clips": 1, "recorded_before": iso_z(at - 2 * DAY), "held": True},
    ]
    with django_capture_on_commit_callbacks(execute=True):
        result = actions.change_plan(account=owner, quote_id=preview["quote"], actor=owner).to_api()
    assert result["erasures"] == preview["erasures"]
    assert clip_ids() == ids(lapsed, "p5")  # p1 left Free's window on the way


def test_the_removal_page_says_the_held_clips_go_too(owner, porch, lapsed):
    from django.urls import reverse

    from tests.portal.conftest import signed_in as recently_signed_in

    page = recently_signed_in(owner).get(reverse("portal:camera_remove", args=[porch.camera.id]))
    body = page.content.decode()
    assert "Its 2 held clips are erased too" in body  # p5 and p20 (p40 was outside premium's window)
