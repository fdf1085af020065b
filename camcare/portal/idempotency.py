"""Billing forms act once per rendered form (POLICY.md section 10, "a double-clicked
REMOVE never refunds twice"): the first POST claims its key, later ones replay its result.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction

from camcare import clock
from camcare.portal.models import FormSubmission

KEEP_FOR = timedelta(hours=24)


def new_key() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Claim:
    """`replay_url` set: the form was already done, go there. `in_progress`: the first use
    is still running. Neither: this request owns the key and must `finish` or `release`."""

    row_id: int | None
    replay_url: str = ""
    in_progress: bool = False

    @property
    def owned(self) -> bool:
        return self.row_id is not None


def claim(account, key: str, fingerprint: str = "") -> Claim:
    stored_key = f"{key}:{hashlib.sha256(fingerprint.encode()).hexdigest()[:32]}"
    now = clock.real_now()
    FormSubmission.objects.filter(created_at__lt=now - KEEP_FOR).delete()
    try:
        with transaction.atomic():
            row = FormSubmission.objects.create(account=account, key=stored_key, created_at=now)
        return Claim(row_id=row.pk)
    except IntegrityError:
        first = FormSubmission.objects.filter(account=account, key=stored_key).first()
        if first is None:  # released between our insert and this read: one more try is safe
            return claim(account, key, fingerprint)
        if first.result_url:
            return Claim(row_id=None, replay_url=first.result_url)
        return Claim(row_id=None, in_progress=True)


def finish(claimed: Claim, result_url: str) -> None:
    FormSubmission.objects.filter(pk=claimed.row_id).update(result_url=result_url)


def release(claimed: Claim) -> None:
    """The action was refused or failed: the same form may be sent again (e.g. after a new card)."""
    FormSubmission.objects.filter(pk=claimed.row_id).delete()
