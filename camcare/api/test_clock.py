"""Test clocks (API.md): only when CAMCARE_TEST_CLOCKS=1."""

from datetime import timedelta

from django.conf import settings
from ninja import Router

from camcare import clock
from camcare.api.base import ApiError, caller
from camcare.api.schemas import ClockIn, ClockOut, ErrorOut
from camcare.billing import actions
from camcare.domain.periods import iso_z, parse_instant

router = Router(tags=["test clocks"])

# How far past real time a test clock may go: far enough for any demo, near enough that
# every renewal on the way can run and no period end leaves the calendar (year 9999).
MAX_AHEAD = timedelta(days=100 * 366)


def _require_test_clocks() -> None:
    if not settings.TEST_CLOCKS:
        raise ApiError(404, "not_found", "Test clocks are off on this server.")


@router.get("/test-clock", response={200: ClockOut, 404: ErrorOut})
def get_clock(request):
    _require_test_clocks()
    return {"now": iso_z(clock.now(caller(request)))}


@router.post("/test-clock", response={200: ClockOut, 404: ErrorOut, 422: ErrorOut})
def move_clock(request, payload: ClockIn):
    _require_test_clocks()
    account = caller(request)
    try:
        to = parse_instant(payload.now)
    except ValueError as exc:
        raise ApiError(422, "invalid_time", "`now` must be an ISO 8601 instant with a time zone, e.g. 2027-03-01T00:00:00Z.") from exc
    if to > clock.real_now() + MAX_AHEAD:
        raise ApiError(422, "invalid_time", "A test clock may go at most 100 years past real time.")
    actions.advance_test_clock(account=account, to=to, actor=account)
    return {"now": iso_z(to)}
