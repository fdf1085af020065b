"""The JSON API v1 (API.md): one NinjaAPI, one router per area, errors with references."""

import logging
import traceback

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.renderers import JSONRenderer

from camcare.api import accounts, billing, cameras, clips, test_clock
from camcare.api.base import ApiError, account_auth
from camcare.support.errors import record_error

log = logging.getLogger("camcare.api")

api = NinjaAPI(
    title="camcare API",
    version="1",
    description="Cloud video-history plans for home cameras. Amounts are integers in minor units.",
    urls_namespace="api-v1",
    auth=account_auth,
    renderer=JSONRenderer(),
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


def _describe(error: dict) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "payload"))
    return f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid"))


@api.exception_handler(ValidationError)
def on_validation_error(request, exc: ValidationError):
    message = "; ".join(_describe(error) for error in exc.errors[:5]) or "The request is not valid."
    return error_response(request, 422, "invalid_request", message)


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request, exc):
    return error_response(request, 401, "unauthorized", "Sign in: send 'Authorization: Bearer <token>'.")


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    code = {400: "bad_request", 403: "forbidden", 405: "method_not_allowed", 429: "rate_limited"}.get(exc.status_code, "error")
    return error_response(request, exc.status_code, code, str(exc))


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
