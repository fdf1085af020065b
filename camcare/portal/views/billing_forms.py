"""Running a billing form's action once (its idempotency key) and showing refusals."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpResponse
from django.shortcuts import redirect

from camcare.audit.errors import record_error
from camcare.billing.errors import REFUSALS, BillingRefusal
from camcare.portal import idempotency
from camcare.portal.refusals import Shown, describe

WAIT_STEPS, WAIT_STEP_S = 40, 0.25  # up to 10 s for the first submission of a form to finish
IN_PROGRESS = "This form is already being processed. Wait a moment, then reload the page."


def run_once(request, key: str, fingerprint: str, action: Callable[[], str]) -> HttpResponse | Shown:
    """Run `action` (it returns the URL of its result) once for this form: a resubmission
    is sent to the first result. A refusal is returned as what to show, and frees the
    key so the same form may be sent again (e.g. after saving another card)."""
    claimed = idempotency.claim(request.user, key, fingerprint)
    for _ in range(WAIT_STEPS):  # a double click: its twin is running, wait for its result
        if not claimed.in_progress:
            break
        time.sleep(WAIT_STEP_S)
        claimed = idempotency.claim(request.user, key, fingerprint)
    if claimed.replay_url:
        return redirect(claimed.replay_url)
    if claimed.in_progress:
        reference = record_error(request=request, status=409, code="form_in_progress", message=IN_PROGRESS)
        return Shown(code="form_in_progress", message=IN_PROGRESS, reference=reference)
    try:
        url = action()
    except BillingRefusal as refusal:
        idempotency.release(claimed)
        return describe(refusal, request=request)
    except BaseException:
        idempotency.release(claimed)
        raise
    idempotency.finish(claimed, url)
    return redirect(url)


def page_status(request, form=None, shown: Shown | None = None) -> int:
    """A page showing a refusal answers with its 4xx; a form sent with errors with 422."""
    if shown is not None:
        return REFUSALS[shown.code].status if shown.code in REFUSALS else 409
    if request.method == "POST" and form is not None and form.is_bound and form.errors:
        return 422
    return 200
