"""Erasure of clips (POLICY.md section 6): after a change, at removal, and daily.

Three steps, each safe to repeat, so a crash anywhere is finished by the next sweep:
  1. tombstone: one UPDATE sets `erasing_since` on the doomed rows; from then on no list
     or fetch shows them;
  2. delete their files through the storage API (a missing file is fine);
  3. delete the rows.
A file is never deleted before its row is tombstoned, and a row is never deleted before
its file, so a crash leaves at worst tombstoned rows (finished by the next sweep), never
a visible clip without a file nor a file that nobody will look for. Files written by an
upload that crashed before its row (no row at all) are found by the `--orphans` pass.

Every statement runs on its own (autocommit) over at most `batch_size` rows, so no lock
is held for long, on SQLite or PostgreSQL.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import connection, transaction
from django.db.models import QuerySet

from camcare import clock
from camcare.audit.events import Event, audit
from camcare.cameras.clipstore import storage
from camcare.cameras.models import Camera, Clip
from camcare.catalog import get_catalog
from camcare.domain.periods import window_start

log = logging.getLogger("camcare.erasure")

BATCH_SIZE = 500
_qn = connection.ops.quote_name
_TABLE = _qn(Clip._meta.db_table)
_ID = _qn(Clip._meta.pk.column)
_ERASING = _qn(Clip._meta.get_field("erasing_since").column)
ORPHAN_MIN_AGE = timedelta(hours=1)  # an upload in flight has its file but not yet its row


def clips_before(camera_id: str, cutoff: datetime) -> QuerySet:
    """The camera's visible clips recorded before `cutoff`, oldest first: what an erasure
    at that cut-off removes (and what the ZIP before erasure contains). Held clips are not
    among them: an owner's change never erases them (a new paid period settles them,
    camcare.cameras.holds), and they may not be downloaded."""
    return Clip.objects.visible().filter(camera_id=camera_id, recorded_at__lt=cutoff).order_by("recorded_at", "id")


def count_clips_before(camera_id: str, cutoff: datetime) -> int:
    return clips_before(camera_id, cutoff).count()


def erase_clips_before(camera_id: str, cutoff: datetime, *, batch_size: int = BATCH_SIZE) -> int:
    """Erase the camera's clips recorded before `cutoff` (files and rows); returns how many
    rows this call deleted. Idempotent: a second call finds nothing and returns 0, or
    finishes what a crashed earlier call left tombstoned. Held clips are left alone: their
    hold decides (camcare.cameras.holds)."""
    clips_before(camera_id, cutoff).update(erasing_since=clock.real_now())
    return _finish(Clip.objects.filter(camera_id=camera_id, erasing_since__isnull=False), batch_size)


def erase_camera(camera_id: str, *, removed_by=None, batch_size: int = BATCH_SIZE) -> None:
    """Erase every clip of the camera, then the camera row (its device token dies with it),
    audited in the transaction that deletes the row.

    Run after the change that removed the camera's paid line has committed. A crash half
    way leaves the camera in place with fewer clips; calling again completes it."""
    Clip.objects.filter(camera_id=camera_id, erasing_since__isnull=True).update(erasing_since=clock.real_now())
    # Every clip, tombstoned or not: an upload that slipped in after the UPDATE would
    # otherwise lose its row to the cascade below and leave its file behind.
    _finish(Clip.objects.filter(camera_id=camera_id), batch_size)
    folder = _camera_folder(camera_id)
    camera = Camera.objects.select_related("account").filter(pk=camera_id).first()
    if camera is not None:
        with transaction.atomic():
            if Camera.objects.filter(pk=camera_id).delete()[0]:
                audit(actor=removed_by, account=camera.account, action=Event.CAMERA_REMOVED, camera=camera.id,
                      serial=camera.serial, old={"name": camera.name, "plan": camera.plan}, new=None)
    if folder:
        _remove_empty_folder(folder)


def _camera_folder(camera_id: str) -> str | None:
    account_id = Camera.objects.filter(pk=camera_id).values_list("account_id", flat=True).first()
    return f"clips/{account_id}/{camera_id}" if account_id else None


def _remove_empty_folder(folder: str) -> None:
    """Local storage keeps empty folders; object storage has none (nothing to do there)."""
    try:
        directories, files = storage().listdir(folder)
        if not directories and not files:
            storage().delete(folder)
    except (OSError, NotImplementedError):
        pass


def erase_tombstoned(clips: QuerySet, batch_size: int = BATCH_SIZE) -> int:
    """Steps 2 and 3 for the tombstoned rows among `clips` (step 1 done by the caller,
    possibly inside a transaction that has committed since); returns rows deleted."""
    return _finish(clips.filter(erasing_since__isnull=False), batch_size)


def _finish(rows: QuerySet, batch_size: int) -> int:
    """Steps 2 and 3 for every row of `rows`, `batch_size` at a time; returns rows deleted."""
    deleted = 0
    while True:
        batch = list(rows.order_by().values_list("pk", "file")[:batch_size])
        if not batch:
            return deleted
        deleted += _erase_batch(batch)


def _erase_batch(batch: list[tuple[str, str]]) -> int:
    """Files, then rows, of already tombstoned clips `batch` [(pk, file name)]."""
    delete_files([name for _, name in batch])
    return delete_rows([pk for pk, _ in batch])


# Names the uploads write (clip_upload_path): no "..", no absolute path, so on local
# storage they can be joined to the root without Django's per-call path checks.
_LOCAL_NAME = re.compile(r"clips/[A-Za-z0-9_-]+/[A-Za-z0-9_-]+/[A-Za-z0-9_-]+\.[a-z0-9]+")


def delete_files(names: list[str]) -> None:
    """Step 2. A missing file is fine (FileSystemStorage and S3Storage ignore it too)."""
    store = storage()
    local = type(store).delete is FileSystemStorage.delete  # not a subclass that deletes otherwise
    for name in names:
        if not name:
            continue
        if local and _LOCAL_NAME.fullmatch(name):
            # What FileSystemStorage.delete does, at a third of its cost (bench/retention.py).
            try:
                os.unlink(os.path.join(store.location, name))
            except FileNotFoundError:
                pass
        else:
            store.delete(name)


def _ids_sql(pks: list[str]) -> str:
    return ", ".join(["%s"] * len(pks))


def mark_rows(pks: list[str]) -> int:
    """Step 1 for rows known by id; returns how many were not tombstoned yet.

    Raw SQL, like delete_rows: the ORM spends longer preparing a 500-value IN list than
    the database spends running it, and this is the sweep's hot loop."""
    stamp = connection.ops.adapt_datetimefield_value(clock.real_now())
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_TABLE} SET {_ERASING} = %s WHERE {_ID} IN ({_ids_sql(pks)}) AND {_ERASING} IS NULL",
            [stamp, *pks],
        )
        return cursor.rowcount


def delete_rows(pks: list[str]) -> int:
    """Step 3: the rows, only if tombstoned (a row is never deleted before its file)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {_TABLE} WHERE {_ID} IN ({_ids_sql(pks)}) AND {_ERASING} IS NOT NULL", pks)
        return cursor.rowcount


# --- the daily sweep -------------------------------------------------------------------


@dataclass
class SweepReport:
    at: datetime
    dry_run: bool
    finished: int = 0  # tombstoned clips left by an interrupted erasure, now removed
    # Held clips whose hold ended (set by the caller after holds.erase_expired_holds; this
    # module sits below holds and does not call it).
    holds_ended: int = 0
    expired: dict[str, int] = field(default_factory=dict)  # plan code -> clips aged out
    unknown_plans: list[str] = field(default_factory=list)  # cameras' plans not in the catalog
    orphans: int | None = None  # files without a row (only when the orphan pass ran)

    @property
    def erased(self) -> int:
        return self.finished + self.holds_ended + sum(self.expired.values())

    def lines(self) -> list[str]:
        verb = "would erase" if self.dry_run else "erased"
        out = [f"sweep at {self.at:%Y-%m-%dT%H:%M:%SZ}: {verb} {self.erased} clips"]
        out.append(f"  interrupted erasures finished: {self.finished}")
        out += [f"  aged out of {plan}: {count}" for plan, count in sorted(self.expired.items())]
        out.append(f"  held clips whose hold ended: {self.holds_ended}")
        if self.unknown_plans:
            out.append(f"  skipped cameras on plans not in the catalog: {', '.join(self.unknown_plans)}")
        if self.orphans is not None:
            out.append(f"  orphaned files {'found' if self.dry_run else 'removed'}: {self.orphans}")
        return out


def swept_clips(account=None) -> QuerySet:
    """The clips the sweep looks after. With test clocks on, an account whose clock is
    frozen has its own "now": it is swept by its clock moves (`sweep(at, account=...)`),
    not by the real-time daily run."""
    clips = Clip.objects.all()
    if account is not None:
        return clips.filter(camera__account=account)
    if settings.TEST_CLOCKS:
        clips = clips.filter(camera__account__test_clock_at__isnull=True)
    return clips


def sweep(at: datetime, batch_size: int = BATCH_SIZE, dry_run: bool = False, *,
          account=None, orphans: bool = False) -> SweepReport:
    """Erase every clip outside its camera's window at instant `at` and finish interrupted
    erasures. Idempotent: a second run at the same `at` erases nothing."""
    report = SweepReport(at=at, dry_run=dry_run)
    clips = swept_clips(account)
    # Finishing a started erasure does not depend on anyone's clock: every account's.
    tombstoned = Clip.objects.filter(erasing_since__isnull=False)
    if account is not None:
        tombstoned = tombstoned.filter(camera__account=account)
    report.finished = tombstoned.count() if dry_run else _finish(tombstoned, batch_size)
    catalog = get_catalog()
    for plan in catalog:
        # Held clips are outside every window by construction: their hold's end erases
        # them (holds.erase_expired_holds), never their age.
        aged = clips.visible().filter(camera__plan=plan.code, recorded_at__lt=window_start(at, plan.history_days))
        report.expired[plan.code] = aged.count() if dry_run else erase_in_batches(aged, batch_size)
    report.unknown_plans = sorted(
        set(clips.exclude(camera__plan__in=[plan.code for plan in catalog]).values_list("camera__plan", flat=True))
    )
    if orphans:
        report.orphans = sweep_orphans(dry_run=dry_run)
    if not dry_run:
        log.info("retention sweep at %s erased %d clips", report.at.isoformat(), report.erased)
    return report


def erase_in_batches(doomed: QuerySet, batch_size: int = BATCH_SIZE) -> int:
    """All three steps, one batch at a time, so tombstones never pile up."""
    erased = 0
    while True:
        batch = list(doomed.order_by().values_list("pk", "file")[:batch_size])
        if not batch:
            return erased
        mark_rows([pk for pk, _ in batch])
        erased += _erase_batch(batch)


# --- orphaned files --------------------------------------------------------------------


def sweep_orphans(*, dry_run: bool = False, min_age: timedelta = ORPHAN_MIN_AGE) -> int:
    """Remove clip files that have no row and are older than `min_age` of real time (an
    upload that crashed between its file and its row). Lists the storage, so it is a
    separate, occasional pass. Returns how many files were (or would be) removed."""
    store = storage()
    older_than = clock.real_now() - min_age
    removed = 0
    for folder in _clip_folders():
        try:
            _, names = store.listdir(folder)
        except FileNotFoundError:
            continue
        for batch_start in range(0, len(names), BATCH_SIZE):
            paths = [f"{folder}/{name}" for name in names[batch_start:batch_start + BATCH_SIZE]]
            known = set(Clip.objects.filter(file__in=paths).values_list("file", flat=True))
            for path in paths:
                if path in known or store.get_modified_time(path) >= older_than:
                    continue
                removed += 1
                if not dry_run:
                    store.delete(path)
    return removed


def _clip_folders():
    """clips/<account>/<camera> folders present in the storage."""
    store = storage()
    try:
        accounts, _ = store.listdir("clips")
    except FileNotFoundError:
        return
    for account_folder in accounts:
        cameras, _ = store.listdir(f"clips/{account_folder}")
        for camera_folder in cameras:
            yield f"clips/{account_folder}/{camera_folder}"
