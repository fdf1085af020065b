"""The 14-day hold (POLICY.md section 6): when a camera's window shrinks without the
owner's choice (a lapse after the fourth failed attempt, a trial that ends unpaid), the
clips outside the new window are held instead of erased.

A held clip has `Clip.held_until` set (a per-clip field, so a camera replacement, which
re-points clip rows to the new camera, carries the hold with it). Until then it is
unreachable: `Clip.objects.visible()` leaves it out of every list, player, download and
erasure preview, and only `held_summary` shows it, as a count with the erasure date. The
retention sweep's age pass leaves it alone too. Then one of two things happens first:

- a paid period starts (a new subscription, charged): the held clips inside the camera's
  new window come back, the rest are erased at once (`release_holds`, or its two halves
  `settle_holds` in the change's transaction and `finish_released` after the commit);
- the hold ends: the sweep erases what is still held (`erase_expired_holds`).

What the erasure preview says about held clips: nothing. An owner's change erases only
visible clips (erasure.clips_before), so its preview counts and zips only those; a change
that shrinks a window cannot happen during a hold anyway (every camera is on Free), and a
removal erases the camera with everything. The one change that erases held clips is the
new paid period, for the clips outside its windows: `release_preview` counts them, for a
preview that wants to say so.

Instants are UTC datetimes; `at` is always the account's now (its test clock, if any).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q, QuerySet

from camcare import clock
from camcare.cameras import erasure
from camcare.cameras.models import Camera, Clip
from camcare.catalog import get_catalog
from camcare.domain.catalog import FREE
from camcare.domain.periods import window_start

log = logging.getLogger("camcare.erasure")

HOLD_DAYS = 14  # POLICY.md section 6: counted from the lapse, or from the trial's end


def _camera_id(camera: Camera | str) -> str:
    return camera if isinstance(camera, str) else camera.pk


def held_of(account) -> QuerySet:
    """The account's held clips (not being erased), every camera."""
    return Clip.objects.held().filter(camera__account=account)


# ---------------------------------------------------------------- holding


def hold_clips_before(camera: Camera | str, cutoff: datetime, *, until: datetime) -> int:
    """Hold the camera's visible clips recorded before `cutoff` until `until`; returns how
    many were newly held. Idempotent: a clip already held keeps the earlier of its own
    until and `until` (a second lapse never extends a hold)."""
    before = Clip.objects.filter(camera_id=_camera_id(camera), recorded_at__lt=cutoff)
    return _hold(before, until)


def _hold(clips: QuerySet, until: datetime) -> int:
    """Two UPDATEs, no file touched: safe inside the lapse's transaction."""
    newly = clips.visible().update(held_until=until)
    clips.held().filter(held_until__gt=until).update(held_until=until)
    return newly


def hold_after_lapse(account, *, old_plans: dict[str, str], at: datetime) -> datetime:
    """The lapse's hold (every camera moved to Free at `at`): on each camera whose window
    shrinks to Free's, the clips outside Free's window at `at` but inside the old plan's
    are held until `at + HOLD_DAYS`, which is returned (for the lapse notice). Clips that
    were already outside the old window are left to the sweep: they were due anyway.
    `old_plans` is {camera id: plan code before the lapse}; other accounts' cameras are
    ignored. Idempotent (hold_clips_before).

    Database only: call it in the lapse's own transaction, so that no sweep can run
    between the move to Free and the hold (its age pass would erase the clips)."""
    catalog = get_catalog()
    free_days = catalog[FREE].history_days
    until = at + timedelta(days=HOLD_DAYS)
    shrinking = Q(pk__in=[])
    for camera, plan in old_plans.items():
        if plan not in catalog:  # a plan the catalog no longer knows: hold, the reversible choice
            shrinking |= Q(camera_id=camera)
        elif catalog[plan].history_days > free_days:
            shrinking |= Q(camera_id=camera, recorded_at__gte=window_start(at, catalog[plan].history_days))
    clips = Clip.objects.filter(shrinking, camera__account=account, recorded_at__lt=window_start(at, free_days))
    _hold(clips, until)
    return until


# ---------------------------------------------------------------- a paid period starts


def _inside(windows: dict[str, datetime]) -> Q:
    """Clips inside their camera's new window: recorded at or after its cut-off."""
    inside = Q(pk__in=[])  # matches nothing (no query at all): a camera not in `windows` keeps nothing
    for camera_id, cutoff in windows.items():
        inside |= Q(camera_id=camera_id, recorded_at__gte=cutoff)
    return inside


def settle_holds(account, *, windows: dict[str, datetime], at: datetime) -> tuple[int, int]:
    """The database half of `release_holds`, for the paid period's own transaction:
    held clips inside their camera's new window whose hold has not ended at `at` come back
    (held_until = null); every other held clip of the account is tombstoned. Returns
    (restored, tombstoned). The files go with `finish_released`, after the commit; should
    that never run, the sweep's "interrupted erasures" pass finishes them."""
    held = held_of(account)
    if not held.exists():  # the common case: one cheap query per new subscription
        return 0, 0
    restored = held.filter(_inside(windows), held_until__gt=at).update(held_until=None)
    tombstoned = held.update(erasing_since=clock.real_now())
    return restored, tombstoned


def finish_released(account) -> int:
    """The files and rows that `settle_holds` tombstoned (any of the account's tombstones,
    in fact: finishing an erasure is always right). Returns rows deleted."""
    return erasure.erase_tombstoned(Clip.objects.filter(camera__account=account))


def release_holds(account, *, windows: dict[str, datetime], at: datetime) -> tuple[int, int]:
    """A paid period starts at `at` with `windows` = {camera id: its new window's cut-off}:
    held clips inside come back, the rest are erased at once (files and rows), a camera
    missing from `windows` keeping none. Call it outside any transaction that could still
    roll back (files are deleted). Returns (restored, erased)."""
    restored, _ = settle_holds(account, windows=windows, at=at)
    return restored, finish_released(account)


def new_windows(plans: dict[str, str], at: datetime) -> dict[str, datetime]:
    """{camera id: cut-off of its plan's window at `at`} for {camera id: plan code}; a plan
    the catalog does not know gets no window (its held clips are erased)."""
    catalog = get_catalog()
    return {camera: window_start(at, catalog[plan].history_days)
            for camera, plan in plans.items() if plan in catalog}


def release_preview(account, *, windows: dict[str, datetime], at: datetime,
                    camera_ids: list[str] | None = None) -> dict[str, tuple[int, int]]:
    """{camera id: (clips that would come back, clips that would be erased)} if a paid
    period with `windows` started at `at`; one grouped query. Cameras without held clips
    are absent. `camera_ids`: the account's cameras, when the caller knows them (the
    query then reads clips by camera, without a join)."""
    held = Clip.objects.held().filter(camera_id__in=camera_ids) if camera_ids is not None else held_of(account)
    rows = (held.values("camera_id")
            .annotate(back=Count("pk", filter=_inside(windows) & Q(held_until__gt=at)), held=Count("pk"))
            .values_list("camera_id", "back", "held"))
    return {camera: (back, held - back) for camera, back, held in rows}


# ---------------------------------------------------------------- the hold's end and the count


def erase_expired_holds(*, at: datetime, account=None, batch_size: int = erasure.BATCH_SIZE,
                        dry_run: bool = False) -> int:
    """The sweep's pass: erase (files and rows) every held clip whose hold ended by `at`,
    of one account or, with None, of every account the real-time sweep looks after
    (erasure.swept_clips). Returns how many (would be) erased. Idempotent."""
    expired = erasure.swept_clips(account).held().filter(held_until__lte=at)
    if dry_run:
        return expired.count()
    erased = 0
    while True:
        batch = list(expired.order_by().values_list("pk", flat=True)[:batch_size])
        if not batch:
            if erased:
                log.info("holds ended by %s: erased %d held clips", at.isoformat(), erased)
            return erased
        # Tombstone only what is still held and ended: a paid period that restored a clip
        # since the batch was read wins (its UPDATE ran first, on the same row).
        rows = Clip.objects.filter(pk__in=batch)
        rows.held().filter(held_until__lte=at).update(erasing_since=clock.real_now())
        erased += erasure.erase_tombstoned(rows, batch_size)


def held_summary(account, *, at: datetime | None = None) -> dict[str, tuple[int, datetime]]:
    """{camera id: (held clips, when they are erased)} of the account's cameras with held
    clips whose hold has not ended at `at` (default: the account's now; an ended hold is
    gone for the owner even before the sweep runs). One grouped query."""
    at = clock.now(account) if at is None else at
    rows = (held_of(account).filter(held_until__gt=at).values("camera_id")
            .annotate(clips=Count("pk"), until=Min("held_until")).values_list("camera_id", "clips", "until"))
    return {camera: (clips, until) for camera, clips, until in rows}
