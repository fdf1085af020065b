"""Accounts, tokens and the public catalog (API.md)."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from ninja import Router, Status

from camcare.accounts import services, time_zones
from camcare.api.base import ApiError, caller
from camcare.api.schemas import (
    AccountDetailOut,
    AccountOut,
    Credentials,
    ErrorOut,
    PlanOut,
    TimeZoneIn,
    TokenOut,
)
from camcare.catalog import get_catalog
from camcare.domain.periods import Cycle

router = Router(tags=["accounts"])


@router.post("/accounts", auth=None, response={201: AccountOut, 409: ErrorOut, 422: ErrorOut})
def create_account(request, payload: Credentials):
    try:
        validate_email(payload.email.strip())
    except DjangoValidationError as exc:
        raise ApiError(422, "invalid_email", "Enter a valid e-mail address.") from exc
    try:
        account = services.create_account(email=payload.email, password=payload.password)
    except services.EmailTaken as exc:
        raise ApiError(409, "email_taken", "An account with this e-mail already exists.") from exc
    except DjangoValidationError as exc:
        raise ApiError(422, "weak_password", " ".join(exc.messages)) from exc
    return Status(201, {"id": account.pk, "email": account.email})


@router.post("/tokens", auth=None, response={201: TokenOut, 401: ErrorOut, 429: ErrorOut})
def create_token(request, payload: Credentials):
    try:
        account = services.sign_in(email=payload.email, password=payload.password, ip=services.client_ip(request))
    except services.Throttled as exc:
        raise ApiError(429, "too_many_attempts", f"Too many failed sign-ins; try again in {exc.retry_after} seconds.",
                       headers={"Retry-After": str(exc.retry_after)}) from exc
    if account is None:
        raise ApiError(401, "invalid_credentials", "Wrong e-mail or password.")
    return Status(201, {"token": services.issue_token(account)})


@router.delete("/tokens/current", response={204: None, 400: ErrorOut, 401: ErrorOut})
def revoke_token(request):
    token_hash = getattr(request, "auth_token_hash", None)
    if token_hash is None:
        raise ApiError(400, "not_a_token", "This call revokes the bearer token it is made with; sign out of the portal instead.")
    caller(request)
    services.revoke_token(token_hash)
    return Status(204, None)


def account_body(account) -> dict:
    return {"id": account.pk, "email": account.email, "time_zone": time_zones.zone_of(account)}


@router.get("/account", response=AccountDetailOut)
def get_account(request):
    """The caller's account: the token (or session) decides whose; no id names another."""
    return account_body(caller(request))


@router.patch("/account", response={200: AccountDetailOut, 422: ErrorOut})
def update_account(request, payload: TimeZoneIn):
    """Choose the zone pages and e-mails show instants in (POLICY.md section 16); the
    API's own instants stay UTC. 422 `unknown_time_zone` for a name that is not an IANA
    zone this server knows (nothing changes)."""
    account = caller(request)
    try:
        services.set_time_zone(account, payload.time_zone, actor=account)
    except time_zones.UnknownTimeZone as exc:
        raise ApiError(422, "unknown_time_zone", f"{exc} Nothing was changed.") from exc
    return account_body(account)


@router.get("/plans", auth=None, response=list[PlanOut])
def list_plans(request):
    return [
        {
            "code": plan.code,
            "name": plan.name,
            "scope": plan.scope,
            "max_cameras": plan.max_cameras,
            "history_days": plan.history_days,
            "currency": plan.currency,
            "prices": {"monthly": plan.price(Cycle.MONTHLY), "annual": plan.price(Cycle.ANNUAL)},
        }
        for plan in get_catalog()
    ]
