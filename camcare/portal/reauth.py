"""Re-authentication before billing actions: the password must have been entered within
REAUTH_WINDOW (at sign-in or on the "confirm your password" page). Real time, not the
account's test clock: this is security, not billing."""

from __future__ import annotations

from datetime import timedelta
from functools import wraps
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.urls import reverse

from camcare import clock

REAUTH_WINDOW = timedelta(minutes=15)
SESSION_KEY = "portal_password_at"  # epoch seconds of the last password entry


def mark_password_entered(request) -> None:
    request.session[SESSION_KEY] = int(clock.real_now().timestamp())


def password_is_recent(request) -> bool:
    entered = request.session.get(SESSION_KEY)
    if not isinstance(entered, int):
        return False
    age = clock.real_now().timestamp() - entered
    return 0 <= age <= REAUTH_WINDOW.total_seconds()


def recent_password_required(view):
    """Signed in, and the password entered recently; else to the confirm page, which
    comes back to this page (a GET of it: a POST's form is shown again, not replayed)."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not password_is_recent(request):
            return redirect(reverse("portal:reauth") + "?" + urlencode({"next": request.get_full_path()}))
        return view(request, *args, **kwargs)

    return wrapper
