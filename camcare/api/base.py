"""What every API module shares: the error type and body, and authentication."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest
from ninja.security import APIKeyCookie, HttpBearer

from camcare import clock
from camcare.accounts.models import Account, ApiToken
from camcare.tokens import hash_token


class ApiError(Exception):
    """An error answered as {code, message, reference} with `status` (API.md)."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict | None = None, extra: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.extra = extra or {}


def not_found(what: str = "resource") -> ApiError:
    return ApiError(404, "not_found", f"No such {what}.")


LAST_USED_PRECISION = timedelta(minutes=5)


def account_for_bearer(token: str | None) -> Account | None:
    if not token:
        return None
    found = ApiToken.objects.select_related("account").filter(token_hash=hash_token(token)).first()
    if found is None or not found.account.is_active:
        return None
    now = clock.real_now()
    if found.last_used_at is None or now - found.last_used_at > LAST_USED_PRECISION:
        # At most one write per token per interval: a read-only call must not take the
        # database's write lock on every request.
        ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
    return found.account


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Account | None:
        account = account_for_bearer(token)
        if account is not None:
            request.auth_account = account
            request.auth_token_hash = hash_token(token)
        return account


class PortalSessionAuth(APIKeyCookie):
    """The portal's session cookie, with Django's CSRF check on unsafe methods."""

    param_name = "sessionid"

    def _get_key(self, request: HttpRequest) -> str | None:
        # The CSRF check only concerns a signed-in session: a caller without one (no
        # credentials, or a wrong bearer token) is unauthenticated (401), not forbidden.
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Account | None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            request.auth_account = user
            return user
        return None


account_auth = [TokenAuth(), PortalSessionAuth()]


def attribute_caller(request: HttpRequest) -> None:
    """Note who sent a call answered before (or without) authentication, so that its error
    report is filed under the account (POLICY.md section 7). Grants nothing."""
    if getattr(request, "auth_account", None) is not None:
        return
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        request.auth_account = account_for_bearer(credential.strip())


def caller(request: HttpRequest) -> Account:
    """The authenticated account of the request."""
    return request.auth
