"""The console's second factor: the TOTP step after sign-in, and the enrolment of a staff
member's first authenticator app. Every try is audited on the staff member's own account."""

from __future__ import annotations

import django_otp
from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from camcare.accounts import services
from camcare.audit.events import Event, audit
from camcare.support import second_factor
from camcare.support.access import is_verified, safe_next, staff_only
from camcare.support.forms import PasswordForm, TokenForm


def _context(request, **extra) -> dict:
    # The demo's staff login has a fixed authenticator key, printed by seed_demo; test
    # clocks are on only in development and demos (production refuses them).
    return {"next": safe_next(request), "demo": settings.TEST_CLOCKS, **extra}


def _signed_in(request, device, *, enrolled: bool = False) -> None:
    """The session passed the second factor: a new session key (the old one, which may have
    leaked before, is worth nothing more), the device in it, audited (an enrolment is also
    the session's verification)."""
    request.session.cycle_key()
    django_otp.login(request, device)
    if enrolled:
        audit(actor=request.user, account=request.user, action=Event.SUPPORT_DEVICE_ENROLLED)
    audit(actor=request.user, account=request.user, action=Event.SUPPORT_VERIFIED)


def _seconds(count: int) -> str:
    return f"{count} second{'s' if count != 1 else ''}"


def _try_code(request, device, form: TokenForm) -> int:
    """Check the form's code on `device`: 0 when accepted, else the status of the refusal
    (422 a wrong or missing code, 429 throttled), which becomes the form's error, audited."""
    if not form.is_valid():
        audit(actor=request.user, account=request.user, action=Event.SUPPORT_VERIFY_FAILED, reason="no valid code typed")
        return 422
    check = second_factor.check_code(device, form.cleaned_data["token"])
    if check.accepted:
        return 0
    if not check.tried:
        form.add_error("token", f"Too many wrong codes in a row ({check.failures}): wait "
                                f"{_seconds(check.wait_seconds)}, then type the code your app shows.")
        reason = f"throttled after {check.failures} wrong codes"
    else:
        form.add_error("token", "That code is not right: type the 6 digits your app shows now "
                                f"(the next try is possible in {_seconds(check.wait_seconds)}).")
        reason = f"wrong code ({check.failures} in a row)"
    audit(actor=request.user, account=request.user, action=Event.SUPPORT_VERIFY_FAILED, reason=reason)
    return 422 if check.tried else 429


@never_cache
@staff_only
def verify(request):
    """The TOTP step: on every console page until passed in this session."""
    if is_verified(request.user):
        return redirect(safe_next(request))
    device = second_factor.confirmed_device(request.user)
    if device is None:
        return render(request, "support/verify.html", _context(request, enrol=True))
    form = TokenForm(request.POST or None)
    if request.method == "POST":
        status = _try_code(request, device, form)
        if not status:
            _signed_in(request, device)
            return redirect(safe_next(request))
        return render(request, "support/verify.html", _context(request, form=form), status=status)
    return render(request, "support/verify.html", _context(request, form=form))


@never_cache
@staff_only
def enrol(request):
    """Set up a first authenticator app: the password again, then the new key, shown once
    in this answer only (never stored in the session, never shown again)."""
    if second_factor.confirmed_device(request.user) is not None:
        messages.info(request, "You already have an authenticator app: type its code. A lost one is removed in the admin.")
        return redirect("support:verify")
    form = PasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            account = services.sign_in(email=request.user.email, password=form.cleaned_data["password"],
                                       ip=services.client_ip(request), request=request)
        except services.Throttled as throttled:
            form.add_error(None, f"Too many attempts: try again in {max(1, round(throttled.retry_after / 60))} minute(s).")
            return render(request, "support/enrol.html", _context(request, form=form), status=429)
        if account is None or account.pk != request.user.pk:
            form.add_error("password", "That is not your password.")
        else:
            device = second_factor.start_enrolment(request.user)
            audit(actor=request.user, account=request.user, action=Event.SUPPORT_DEVICE_ENROL_STARTED)
            return render(request, "support/enrol.html", _context(
                request, secret=second_factor.secret_of(device), uri=second_factor.otpauth_uri(device),
                token_form=TokenForm(),
            ))
    status = 422 if request.method == "POST" else 200
    return render(request, "support/enrol.html", _context(request, form=form), status=status)


@never_cache
@staff_only
@require_POST
def enrol_confirm(request):
    """The first valid code of the new app confirms its device and passes the step."""
    device = second_factor.pending_device(request.user)
    if device is None or second_factor.confirmed_device(request.user) is not None:
        return redirect("support:enrol")
    form = TokenForm(request.POST)
    status = _try_code(request, device, form)
    if not status:
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        _signed_in(request, device, enrolled=True)
        messages.success(request, "Your authenticator app is set up: the console asks for its code at each sign-in.")
        return redirect(safe_next(request))
    return render(request, "support/enrol.html", _context(request, token_form=form, confirming=True), status=status)
