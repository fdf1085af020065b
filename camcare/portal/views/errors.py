"""Friendly error pages, each with the reference code to quote to support."""

import sys
import traceback

from django.shortcuts import render

from camcare.support.errors import record_error


def _page(request, status: int, code: str, message: str, detail: str = ""):
    reference = record_error(request=request, status=status, code=code, message=message, detail=detail)
    if request.path.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse({"code": code, "message": message, "reference": reference}, status=status)
    return render(request, "portal/error.html", {"status": status, "message": message, "reference": reference}, status=status)


def not_found(request, exception=None):
    return _page(request, 404, "not_found", "We could not find that page.")


def forbidden(request, exception=None):
    return _page(request, 403, "forbidden", "You cannot open this page. If you were signing in, reload the page and try again.")


def bad_request(request, exception=None):
    return _page(request, 400, "bad_request", "The request could not be understood.")


def server_error(request):
    detail = "".join(traceback.format_exception(*sys.exc_info())) if sys.exc_info()[0] else ""
    return _page(request, 500, "internal_error", "Something went wrong on our side. Nothing was charged twice.", detail)
