"""The body of every mutating API call, bounded before anything reads it, and the
Idempotency-Key of every one (POLICY.md section 10, API.md).

A middleware rather than a decorator: it sees the raw body before any view parses it,
and it wraps every router the same way. The bounds come first (guard_body), because
everything after them reads the body: the CSRF check, the fingerprint, ninja. Then
authentication: a call that does not authenticate is passed through (it answers 401,
which is never kept).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from ninja.utils import check_csrf

from camcare import clock
from camcare.api.base import ApiError, account_for_bearer, attribute_caller, load_json
from camcare.api.clips import UPLOAD_PATH, guard_upload_size
from camcare.api.models import IdempotencyRecord
from camcare.audit.errors import record_error
from camcare.tokens import hash_token

API_PREFIX = "/api/v1/"
EXEMPT_PATHS = {"/api/v1/accounts", "/api/v1/tokens"}
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
KEEP_FOR = timedelta(hours=24)
MAX_KEY_LENGTH = 255
# Printable ASCII with no space at either end: a key is stored and compared as text, and
# a control character (NUL above all, which PostgreSQL cannot store) is no one's key.
KEY_FORMAT = re.compile(r"[!-~](?:[ -~]*[!-~])?")


def identify_caller(request: HttpRequest) -> str | None:
    """"account:<id>" or "device:<camera id>", or None when the call is not authenticated
    (a session call that fails the CSRF check is not authenticated either: the view
    refuses it, and that refusal must not be kept under the key).
    Sets request.auth_account so that an error answered here is filed under the account."""
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    credential = credential.strip()
    if scheme.lower() == "bearer":
        account = account_for_bearer(credential)
        request.auth_account = account
        return f"account:{account.pk}" if account else None
    if scheme.lower() == "device":
        from camcare.cameras.models import Camera

        camera = Camera.objects.select_related("account").filter(device_token_hash=hash_token(credential)).first()
        if camera is None:
            return None
        request.auth_account = camera.account
        return f"device:{camera.pk}"
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_active and check_csrf(request) is None:
        request.auth_account = user
        return f"account:{user.pk}"
    return None


def body_fingerprint(request: HttpRequest) -> str:
    """SHA-256 of the body as the server understands it: JSON compared as parsed, an
    upload field by field (files by their bytes), anything else byte for byte."""
    if request.path == UPLOAD_PATH:
        return _upload_fingerprint(request)
    digest = hashlib.sha256()
    raw = request.body
    try:
        parsed = load_json(raw) if raw.strip() else None
    except (ValueError, ApiError):
        digest.update(b"raw:" + raw)
    else:
        digest.update(b"json:" + json.dumps(parsed, sort_keys=True, separators=(",", ":")).encode())
    return digest.hexdigest()


def _upload_fingerprint(request: HttpRequest) -> str:
    """Field by field: a client's retry draws a new multipart boundary."""
    digest = hashlib.sha256()
    for name in sorted(request.POST):
        digest.update(json.dumps([name, request.POST.getlist(name)]).encode())
    for name in sorted(request.FILES):
        for upload in request.FILES.getlist(name):
            digest.update(json.dumps(["file", name, upload.name, upload.size]).encode())
            for chunk in upload.chunks():
                digest.update(chunk)
            upload.seek(0)
    return digest.hexdigest()


def guard_body(request: HttpRequest) -> None:
    """Raise ApiError for a body that must not be read, before anything reads it: one
    declared too large (413), an upload without a length (411). A JSON route's body is
    then read once, within DATA_UPLOAD_MAX_MEMORY_SIZE, so that every later reader (the
    CSRF check of a form, the fingerprint, ninja's parser) gets the same bytes."""
    if request.path == UPLOAD_PATH:
        guard_upload_size(request)
        return
    try:
        request.body  # noqa: B018 (read for its bound and its cache)
    except RequestDataTooBig as exc:
        raise ApiError(413, "request_too_large", "The request body is too large.") from exc


def _error(request: HttpRequest, status: int, code: str, message: str, headers: dict | None = None) -> JsonResponse:
    reference = record_error(request=request, status=status, code=code, message=message)
    response = JsonResponse({"code": code, "message": message, "reference": reference}, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _refusal(request: HttpRequest, exc: ApiError) -> JsonResponse:
    return _error(request, exc.status, exc.code, exc.message, exc.headers)


def _kept(status: int) -> bool:
    return status not in (401, 429) and status < 500


class IdempotencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in MUTATING or not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        try:
            guard_body(request)
        except ApiError as exc:
            attribute_caller(request)
            return _refusal(request, exc)
        key = request.headers.get("Idempotency-Key")
        if key is None or request.path.rstrip("/") in EXEMPT_PATHS:
            return self.get_response(request)
        try:
            return self._idempotent(request, key)
        except ApiError as exc:  # the upload guard, stopping a body while it is parsed
            return _refusal(request, exc)
        except RequestDataTooBig:
            return _error(request, 413, "request_too_large", "The request body is too large.")
        except (TooManyFieldsSent, TooManyFilesSent, MultiPartParserError):
            return _error(request, 400, "bad_request", "The request has a malformed form or too many form fields or files.")

    def _idempotent(self, request: HttpRequest, key: str) -> HttpResponse:
        caller = identify_caller(request)
        if caller is None:
            return self.get_response(request)
        if len(key) > MAX_KEY_LENGTH or not KEY_FORMAT.fullmatch(key):
            return _error(request, 422, "invalid_idempotency_key",
                          f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.")
        fingerprint = body_fingerprint(request)
        record, earlier = self._claim(caller, key, request, fingerprint)
        if earlier is not None:
            return self._answer_repeat(request, earlier, fingerprint)
        try:
            response = self.get_response(request)
        except BaseException:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            raise
        self._remember(record, response)
        return response

    def _claim(self, caller: str, key: str, request: HttpRequest, fingerprint: str):
        """(our new record, None) when this is the first use, else (None, the earlier one)."""
        now = clock.real_now()
        IdempotencyRecord.objects.filter(caller=caller, key=key, created_at__lt=now - KEEP_FOR).delete()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    caller=caller, key=key, method=request.method, path=request.path,
                    body_hash=fingerprint, created_at=now,
                )
            return record, None
        except IntegrityError:
            return None, IdempotencyRecord.objects.get(caller=caller, key=key)

    def _answer_repeat(self, request: HttpRequest, earlier: IdempotencyRecord, fingerprint: str) -> HttpResponse:
        if (earlier.method, earlier.path, earlier.body_hash) != (request.method, request.path, fingerprint):
            return _error(request, 422, "idempotency_key_reused", "This Idempotency-Key was used for another request; use a new key.")
        if not earlier.completed:
            return _error(request, 409, "idempotency_key_in_use", "The first request with this Idempotency-Key is still running; retry shortly.")
        response = HttpResponse(bytes(earlier.body), status=earlier.status_code, content_type=earlier.content_type or None)
        response["Idempotent-Replayed"] = "true"
        return response

    def _remember(self, record: IdempotencyRecord, response: HttpResponse) -> None:
        if not _kept(response.status_code) or response.streaming:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            return
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            completed=True,
            status_code=response.status_code,
            content_type=response.get("Content-Type", ""),
            body=response.content,
        )


def purge_expired(now=None) -> int:
    """Delete records older than 24 h of real time; returns how many."""
    cutoff = (now or clock.real_now()) - KEEP_FOR
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
