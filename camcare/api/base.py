"""What every API module shares: the error type and body, authentication, and the bounds
a request must keep before anything parses it."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from itertools import accumulate

from django.http import HttpRequest
from ninja.parser import Parser
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
    report is filed under the account (POLICY.md section 7). Grants nothing, and reads
    only headers: it may run before the body is known to be safe to read."""
    if getattr(request, "auth_account", None) is not None:
        return
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        request.auth_account = account_for_bearer(credential.strip())
    elif scheme.lower() == "device":
        from camcare.cameras.services import camera_for_device_token

        camera = camera_for_device_token(credential.strip())
        request.auth_account = camera.account if camera is not None else None


def caller(request: HttpRequest) -> Account:
    """The authenticated account of the request."""
    return request.auth


# The deepest nesting of arrays and objects a JSON body may have. API.md's deepest body
# nests 2 ({"cameras": {id: plan}}); parsing, fingerprinting and validating a value all
# recurse, and this keeps each of them far from Python's recursion limit.
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_A_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKET_STEP = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1, +1, -1, -1 as signed bytes


def json_depth(raw: bytes) -> int:
    """How deep arrays and objects nest in the UTF-8 JSON text `raw`, told without parsing
    it (parsing is what recurses). In UTF-8 a quote, backslash or bracket byte is always that
    character, so brackets inside strings are told apart exactly; in text that is not JSON
    the figure is rough, which is enough: such a body is refused either way."""
    steps = _JSON_STRING.sub(b"", raw).translate(_BRACKET_STEP, _NOT_A_BRACKET)
    return max(accumulate(memoryview(steps).cast("b")), default=0)


def load_json(raw: bytes):
    """The JSON value of a body. Raises ApiError (400 invalid_json) for one nested too
    deep, ValueError for one that is not UTF-8 JSON (RFC 8259: JSON between systems is
    UTF-8; decoding first is also what makes json_depth exact)."""
    text = raw.decode("utf-8-sig")
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise ApiError(400, "invalid_json", f"The request body nests arrays or objects more than {MAX_JSON_DEPTH} levels deep.")
    return json.loads(text)


class JsonParser(Parser):
    """ninja's JSON parser with load_json's bounds, refusing a form outright (a JSON route
    that parsed one would only say its bytes are not JSON)."""

    def parse_body(self, request: HttpRequest):
        if (request.content_type or "").startswith("multipart/"):
            raise ApiError(415, "unsupported_media_type", "This call takes a JSON body: send Content-Type: application/json.")
        return load_json(request.body)


# More digits than any length or byte position of ours has (10**18 bytes is an exabyte):
# a longer number is only "too large", and converting it would cost time (or fail past
# Python's 4300-digit limit).
MAX_DIGITS = 18
_DIGITS = re.compile(r"[0-9]+")


def bounded_int(digits: str, ceiling: int = 10**MAX_DIGITS) -> int:
    """The ASCII digits as a number, or `ceiling` when they say more than it."""
    significant = digits.lstrip("0")
    return int(significant or "0") if len(significant) <= MAX_DIGITS else ceiling


def declared_length(request: HttpRequest) -> int | None:
    """The body's Content-Length, or None when there is none or it is not a number."""
    text = (request.META.get("CONTENT_LENGTH") or "").strip()
    return bounded_int(text) if _DIGITS.fullmatch(text) else None
