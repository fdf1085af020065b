"""Who gets an answer from the console: staff only (anyone else gets the 404 of a page that
does not exist), and of staff only those who passed the second factor in this session
(django-otp's OTPMiddleware sets `request.user.is_verified()`); the others are sent to
the TOTP step, which comes back to the page they asked for."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode

from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from camcare.support.roles import role_of


def is_verified(user) -> bool:
    """True once the user's TOTP device verified a code in this session."""
    check = getattr(user, "is_verified", None)
    return bool(check and check())


def staff_only(view):
    """Staff see the console; anyone else, signed in or not, gets the same 404 as for a page
    that does not exist (a redirect to sign in would tell that the console is here)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_staff:  # an anonymous visitor is no staff either
            raise Http404
        request.console_role = role_of(request.user)
        return view(request, *args, **kwargs)

    return wrapper


def console_page(view):
    """Staff who passed the second factor; other staff go to the TOTP step first."""

    @staff_only
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_verified(request.user):
            return redirect(verify_url(request))
        return view(request, *args, **kwargs)

    return wrapper


def verify_url(request) -> str:
    """The TOTP step, coming back to this page. A form sent before the step is not
    replayed after it: the step comes back to the console's search page instead."""
    back = request.get_full_path() if request.method in ("GET", "HEAD") else reverse("support:search")
    return reverse("support:verify") + "?" + urlencode({"next": back})


def safe_next(request) -> str:
    """The console page to go back to after the step (?next=), never another site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                              require_https=request.is_secure())
    return target if target and allowed and target.startswith("/support/") else reverse("support:search")
