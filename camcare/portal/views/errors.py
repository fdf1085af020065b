"""Friendly error pages, each with the reference code to quote to support."""

import logging
import sys
import traceback

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.html import escape

from camcare.audit.errors import record_error
from camcare.domain.order_ids import new_error_reference

log = logging.getLogger("camcare.errors")


def _reference(request, status: int, code: str, message: str, detail: str) -> str:
    try:
        return record_error(request=request, status=status, code=code, message=message, detail=detail)
    except Exception:  # the database itself may be what failed: still give a reference
        reference = new_error_reference()
        log.exception("could not store error %s (%s %s)", reference, status, code)
        return reference


def _page(request, status: int, code: str, message: str, detail: str = ""):
    reference = _reference(request, status, code, message, detail)
    if request.path.startswith("/api/"):
        return JsonResponse({"code": code, "message": message, "reference": reference}, status=status)
    context = {"status": status, "message": message, "reference": reference}
    try:
        return render(request, "portal/error.html", context, status=status)
    except Exception:  # never a bare 500: a plain page that still carries the reference
        log.exception("error page %s failed to render", reference)
        body = (
            f"<!doctype html><title>Error {status}</title><h1>{escape(message)}</h1>"
            f"<p>Reference: <strong>{reference}</strong>. Write to support with your account e-mail and this reference.</p>"
        )
        return HttpResponse(body, status=status)


def not_found(request, exception=None):
    return _page(request, 404, "not_found", "We could not find that page.")


def forbidden(request, exception=None):
    return _page(request, 403, "forbidden", "You cannot open this page. If you were signing in, reload the page and try again.")


def bad_request(request, exception=None):
    return _page(request, 400, "bad_request", "The request could not be understood.")


def server_error(request):
    detail = "".join(traceback.format_exception(*sys.exc_info())) if sys.exc_info()[0] else ""
    return _page(request, 500, "internal_error", "Something went wrong on our side. Nothing was charged twice.", detail)


def csrf_failure(request, reason=""):
    """settings.CSRF_FAILURE_VIEW: an expired or missing form token, said plainly."""
    return _page(
        request, 403, "csrf_failed",
        "This form expired or was sent from another page. Go back, reload the page and send it again; nothing was changed.",
        detail=reason,
    )
