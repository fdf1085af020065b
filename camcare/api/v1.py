"""The JSON API v1 (API.md): one NinjaAPI, one router per area, errors with references."""

import functools
import logging
import traceback

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.http.multipartparser import MultiPartParserError
from django.urls import URLPattern
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI, Router
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.renderers import JSONRenderer

from camcare.api import accounts, billing, cameras, clips, stores, test_clock
from camcare.api.base import (
    MAX_JSON_DEPTH,
    ApiError,
    JsonParser,
    account_auth,
    attribute_caller,
    not_found,
)
from camcare.api.clips import UPLOAD_PATH
from camcare.api.idempotency import EXEMPT_PATHS, KEY_FORMAT, MAX_KEY_LENGTH, MUTATING
from camcare.audit.errors import record_error
from camcare.billing.errors import BillingRefusal

log = logging.getLogger("camcare.api")


def _contract_errors(view):
    """The answers ninja gives outside the exception handlers, made contract errors:
    an id with a NUL in the path is no id (404; PostgreSQL could not even look it up), a
    404 of its own views (its root) is filed under the caller, and a wrong method gets
    {code, message, reference} instead of a bare text 405."""

    @functools.wraps(view)  # keeps csrf_exempt: ninja does its own CSRF check
    def wrapper(request: HttpRequest, *args, **kwargs):
        if any("\x00" in str(value) for value in kwargs.values()):
            attribute_caller(request)
            return error_response(request, 404, "not_found", "Not found.")
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            attribute_caller(request)
            return error_response(request, 404, "not_found", "No such API path.")
        if not isinstance(response, HttpResponseNotAllowed):
            return response
        attribute_caller(request)
        allowed = response["Allow"]
        answer = error_response(request, 405, "method_not_allowed",
                                f"{request.method} is not allowed on this path; use {allowed}.")
        answer["Allow"] = allowed
        return answer

    return wrapper


# The errors an operation can answer because of what it is, rather than what it does
# (API.md: "The OpenAPI document lists every status code each operation can answer").
# Statuses are strings, as JSON has them, so that the document dumps with sorted keys.
COMMON_ERRORS = {
    "json": {
        "400": f"`invalid_json`: the body is not UTF-8 JSON, or nests more than {MAX_JSON_DEPTH} levels",
        "415": "`unsupported_media_type`: a form (multipart) body instead of JSON",
        "422": "`invalid_request`: the body is not the JSON object this operation takes",
    },
    "body": {"413": "`request_too_large`: the body is larger than the server reads"},
    "upload": {
        "400": "`bad_request`: a malformed form, or too many fields or files",
    },
    "idempotent": {
        "409": "`idempotency_key_in_use`: the first request with this Idempotency-Key is still running",
        "422": "`idempotency_key_reused` (the key was used for another request) or `invalid_idempotency_key`",
    },
    "authenticated": {"401": "`unauthorized`: no valid credentials"},
    "session_write": {"403": "`csrf_failed`: the portal's session cookie without the X-CSRFToken header"},
    "path_ids": {"404": "`not_found`: no such id for the caller"},
}

IDEMPOTENCY_HEADER = {
    "in": "header", "name": "Idempotency-Key", "required": False,
    "description": "Replays the first answer for 24 h instead of acting twice (API.md, Idempotency)",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": f"^{KEY_FORMAT.pattern}$"},
}


def _kinds(method: str, path: str, operation: dict) -> list[str]:
    """What `operation` is, as the keys of COMMON_ERRORS."""
    mutating = method.upper() in MUTATING
    body = operation.get("requestBody", {}).get("content", {})
    security = {name for requirement in operation.get("security", ()) for name in requirement}
    kinds = {
        "json": "application/json" in body,
        "body": mutating and path != UPLOAD_PATH,
        "upload": path == UPLOAD_PATH,
        # The middleware keeps answers per caller: an unauthenticated call has no key.
        "idempotent": mutating and bool(security) and path not in EXEMPT_PATHS,
        "authenticated": bool(security),
        "session_write": mutating and "PortalSessionAuth" in security,
        "path_ids": any(parameter["in"] == "path" for parameter in operation.get("parameters", ())),
    }
    return [kind for kind, applies in kinds.items() if applies]


def _error_answer(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}


def add_common_errors(schema: dict) -> dict:
    """Every operation documents the errors of its kinds (an error it declares itself keeps
    its own description), and an idempotent one its Idempotency-Key header."""
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = {str(status): answer for status, answer in operation["responses"].items()}
            kinds = _kinds(method, path, operation)
            for kind in kinds:
                for status, description in COMMON_ERRORS[kind].items():
                    responses.setdefault(status, _error_answer(description))
            operation["responses"] = responses
            if "idempotent" in kinds:
                operation["parameters"] = [*operation.get("parameters", ()), IDEMPOTENCY_HEADER]
    return schema


class CamcareApi(NinjaAPI):
    """NinjaAPI whose every URL answers its errors as the contract says (_contract_errors)."""

    def _get_urls(self):
        urls = super()._get_urls()
        for pattern in urls:
            if isinstance(pattern, URLPattern):
                pattern.callback = _contract_errors(pattern.callback)
        return urls

    def get_openapi_schema(self, *args, **kwargs):
        """Each operation also documents the errors every operation of its kind can answer
        (add_common_errors)."""
        return add_common_errors(super().get_openapi_schema(*args, **kwargs))


api = CamcareApi(
    title="camcare API",
    version="1",
    description="Cloud video-history plans for home cameras. Amounts are integers in minor units.",
    urls_namespace="api-v1",
    auth=account_auth,
    renderer=JSONRenderer(),
    parser=JsonParser(),
)


def error_response(request: HttpRequest, status: int, code: str, message: str, *, headers=None, extra=None) -> HttpResponse:
    reference = record_error(request=request, status=status, code=code, message=message)
    body = {"code": code, "message": message, "reference": reference, **(extra or {})}
    response = api.create_response(request, body, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


@api.exception_handler(ApiError)
def on_api_error(request, exc: ApiError):
    return error_response(request, exc.status, exc.code, exc.message, headers=exc.headers, extra=exc.extra)


# pydantic error types meaning "the body as a whole is not a JSON object"
NOT_AN_OBJECT = {"model_type", "model_attributes_type", "dict_type"}


def _describe(error: dict) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "payload"))
    if where:
        return f"{where}: {error.get('msg', 'invalid')}"
    if error.get("type") == "missing":
        return "The request needs a JSON object body."
    if error.get("type") in NOT_AN_OBJECT:
        return "The request body must be a JSON object."
    return str(error.get("msg", "invalid"))


@api.exception_handler(BillingRefusal)
def on_billing_refusal(request, exc: BillingRefusal):
    """Every refusal of a billing action, with its documented status (billing/errors.py)."""
    return error_response(request, exc.status, exc.code, exc.message, extra=exc.extra)


@api.exception_handler(ValidationError)
def on_validation_error(request, exc: ValidationError):
    message = "; ".join(_describe(error) for error in exc.errors[:5]) or "The request is not valid."
    return error_response(request, 422, "invalid_request", message)


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request, exc):
    return error_response(request, 401, "unauthorized", "Sign in: send 'Authorization: Bearer <token>'.")


# ninja's own HttpErrors, by their status and text, told in the contract's words.
NINJA_ERRORS = {
    (400, "Cannot parse request body"): ("invalid_json", "The request body is not valid JSON."),
    (403, "CSRF check Failed"): (
        "csrf_failed",
        "CSRF check failed: a call with the portal's session cookie must send the X-CSRFToken "
        "header (or use 'Authorization: Bearer <token>'). Nothing was changed.",
    ),
}


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    if isinstance(exc.__cause__, ApiError):  # ninja wraps whatever its parser raises as a 400
        return on_api_error(request, exc.__cause__)
    text = str(exc)
    known = next((v for (status, prefix), v in NINJA_ERRORS.items()
                  if status == exc.status_code and text.startswith(prefix)), None)
    if known is not None:
        return error_response(request, exc.status_code, *known)
    code = {400: "bad_request", 403: "forbidden", 405: "method_not_allowed", 429: "rate_limited"}.get(exc.status_code, "error")
    return error_response(request, exc.status_code, code, text)


@api.exception_handler(RequestDataTooBig)
def on_too_big(request, exc):
    return error_response(request, 413, "request_too_large", "The request body is too large.")


def on_malformed_form(request, exc):
    return error_response(request, 400, "bad_request", "The request has a malformed form or too many form fields or files.")


for malformed in (TooManyFieldsSent, TooManyFilesSent, MultiPartParserError):
    api.add_exception_handler(malformed, on_malformed_form)


@api.exception_handler(Http404)
def on_not_found(request, exc):
    return error_response(request, 404, "not_found", "Not found.")


@api.exception_handler(Exception)
def on_unexpected(request, exc):
    log.exception("unexpected API error")
    reference = record_error(
        request=request, status=500, code="internal_error",
        message="Something went wrong on our side.", detail=traceback.format_exc(),
    )
    body = {"code": "internal_error", "message": "Something went wrong on our side; nothing was charged twice. Quote the reference to support.", "reference": reference}
    return api.create_response(request, body, status=500)


api.add_router("", accounts.router)
api.add_router("", cameras.router)
api.add_router("", billing.router)
api.add_router("", clips.router)
api.add_router("", test_clock.router)
api.add_router("", stores.router)

# Last of all: any other path under /api/v1/ is a JSON 404 filed under its caller (rather
# than the portal's 404, which knows only the session).
unknown_paths = Router(auth=None)


@unknown_paths.api_operation(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"], "/{path:rest}",
                             include_in_schema=False)
def unknown_path(request, rest: str):
    attribute_caller(request)
    raise not_found("API path")


api.add_router("", unknown_paths)


@csrf_exempt  # it changes nothing, and a POST with a session cookie is answered 404 too
def not_an_api_path(request: HttpRequest) -> HttpResponse:
    """The paths under /api that no router serves (/api, /api/v1 without its slash,
    /api/v2/...): the same JSON 404 as an unknown path under /api/v1/, never HTML."""
    attribute_caller(request)
    return error_response(request, 404, "not_found", "No such API path.")
