"""Who may have the free trial (POLICY.md section 12), and what uses it up.

A trial is once per account and per camera serial: an account that has had a web paid
line or a trial has none, and neither has a state that puts on a paid plan a camera whose
serial had one on any account. That is history, not the subscription's state, so it is
kept in TrialUse rows, written in the transaction of the change that starts a paid line
or a trial (`mark_used`), and read when a trial is asked for (`refuse_unavailable_trial`).
A quote for a trial is checked again at execution: the version guards the account's
own history, and a serial cannot reach another account without a removal (a new version).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from django.db.models import Q

from camcare.billing.errors import BillingRefusal
from camcare.billing.models import TrialUse
from camcare.cameras.models import Camera
from camcare.catalog import get_catalog
from camcare.domain.periods import Cycle
from camcare.domain.pricing import trial_not_available


def _paid_camera_ids(cameras: Mapping[str, str]) -> list[str]:
    paid = get_catalog().paid_lines(Cycle.MONTHLY)  # the paid plans: the same on every cycle
    return [camera for camera, plan in cameras.items() if plan in paid]


def trial_available(account, cameras: Mapping[str, str]) -> bool:
    """Whether `account` may start a trial of the state `cameras` ({camera id: plan}): one
    query for the account and the serials the state puts on a paid plan."""
    serials = list(Camera.objects.filter(account=account, id__in=_paid_camera_ids(cameras))
                   .values_list("serial", flat=True))
    used = Q(kind=TrialUse.Kind.ACCOUNT, key=str(account.pk)) | Q(kind=TrialUse.Kind.SERIAL, key__in=serials)
    return not TrialUse.objects.filter(used).exists()


def may_offer_trial(account) -> bool:
    """Whether the portal offers the trial first: the account has not used it (a camera
    that has is found when the owner picks it: the preview says so)."""
    return not TrialUse.objects.filter(kind=TrialUse.Kind.ACCOUNT, key=str(account.pk)).exists()


def refuse_unavailable_trial(account, cameras: Mapping[str, str]) -> None:
    if not trial_available(account, cameras):
        refused = trial_not_available()
        raise BillingRefusal(refused.code, refused.message)


def mark_used(account, *, camera_ids: Iterable[str], at: datetime, trial: bool) -> None:
    """The account and the serials of `camera_ids` have had a paid line (or, `trial`, the
    trial); what had it before keeps its first use (one INSERT, conflicts ignored)."""
    serials = Camera.objects.filter(account=account, id__in=list(camera_ids)).values_list("serial", flat=True)
    rows = [TrialUse(kind=TrialUse.Kind.ACCOUNT, key=str(account.pk), at=at, trial=trial)]
    rows += [TrialUse(kind=TrialUse.Kind.SERIAL, key=serial, at=at, trial=trial) for serial in serials]
    TrialUse.objects.bulk_create(rows, ignore_conflicts=True)


def mark_state_used(account, cameras: Mapping[str, str], *, at: datetime, trial: bool) -> None:
    """mark_used for the cameras of a state ({camera id: plan}) that are on a paid plan."""
    paid = _paid_camera_ids(cameras)
    if paid or trial:
        mark_used(account, camera_ids=paid, at=at, trial=trial)
