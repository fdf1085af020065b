"""Accounts: sign up, sign in (throttled), sign out, re-authentication, change password.
Password reset by e-mail uses Django's own views (urls.py) with these templates; the
account page itself is views/account.py."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.views import PasswordResetView
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from camcare.accounts import services, time_zones
from camcare.portal.forms import ReauthForm, SignInForm, SignUpForm
from camcare.portal.reauth import mark_password_entered


def safe_next(request) -> str:
    """The local page to go back to (?next=), never another site; "" when none."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


def _next_url(request, default: str = "portal:home") -> str:
    return safe_next(request) or reverse(default)


def _landing(request, account) -> str:
    """Where a sign-in goes: the page asked for, else staff to the support console (they
    serve owners; they have no plan of their own to manage), owners to their home."""
    return _next_url(request, "support:search" if account.is_staff else "portal:home")


def signup(request):
    if request.user.is_authenticated:
        return redirect("portal:home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # The browser's zone, set by static/portal/time_zone.js (POLICY.md section 16);
        # without the script, or with a name this server does not know, UTC.
        zone = time_zones.zone_or_utc(request.POST.get("time_zone"))
        try:
            account = services.create_account(email=form.cleaned_data["email"], password=form.cleaned_data["password"],
                                              time_zone=zone)
        except services.EmailTaken:
            form.add_error("email", "An account with this e-mail already exists. Sign in, or reset its password.")
        else:
            auth_login(request, account, backend="django.contrib.auth.backends.ModelBackend")
            mark_password_entered(request)
            messages.success(request, f"Welcome to camcare. Your account is {account.email}.")
            return redirect("portal:home")
    return render(request, "portal/auth/signup.html", {"form": form}, status=form_status(request, form))


def _too_many(throttled: services.Throttled) -> str:
    minutes = max(1, round(throttled.retry_after / 60))
    return f"Too many attempts, try again in {minutes} minute{'s' if minutes != 1 else ''}."


def form_status(request, form) -> int:
    """A form sent with errors answers 422 (bad input, nothing changed)."""
    return 422 if request.method == "POST" and form.errors else 200


def login(request):
    if request.user.is_authenticated:
        return redirect(_landing(request, request.user))
    form = SignInForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            account = services.sign_in(
                email=form.cleaned_data["email"], password=form.cleaned_data["password"],
                ip=services.client_ip(request), request=request,
            )
        except services.Throttled as throttled:
            form.add_error(None, _too_many(throttled))
            status = 429
        else:
            if account is None:
                form.add_error(None, "That e-mail and password do not match an account.")
            else:
                auth_login(request, account)
                mark_password_entered(request)
                return redirect(_landing(request, account))
    context = {"form": form, "next": request.POST.get("next") or request.GET.get("next", ""),
               "sent_back": bool(safe_next(request)) and request.method == "GET"}
    return render(request, "portal/auth/login.html", context, status=status if status != 200 else form_status(request, form))


@require_POST
def logout(request):
    auth_logout(request)
    messages.info(request, "You are signed out.")
    return redirect("portal:login")


@login_required
def reauth(request):
    """"Confirm your password" before a billing action; throttled like sign-in."""
    form = ReauthForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            account = services.sign_in(
                email=request.user.email, password=form.cleaned_data["password"],
                ip=services.client_ip(request), request=request,
            )
        except services.Throttled as throttled:
            form.add_error(None, _too_many(throttled))
            status = 429
        else:
            if account is None or account.pk != request.user.pk:
                form.add_error("password", "That is not your password.")
            else:
                mark_password_entered(request)
                return redirect(_next_url(request))
    context = {"form": form, "next": _next_url(request)}
    return render(request, "portal/auth/reauth.html", context, status=status if status != 200 else form_status(request, form))


@login_required
def password_change(request):
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        update_session_auth_hash(request, user)
        mark_password_entered(request)
        messages.success(request, "Your password was changed.")
        return redirect("portal:account")
    return render(request, "portal/auth/password_change.html", {"form": form}, status=form_status(request, form))


password_reset = PasswordResetView.as_view(
    template_name="portal/auth/password_reset.html",
    email_template_name="portal/auth/password_reset_email.txt",
    subject_template_name="portal/auth/password_reset_subject.txt",
    success_url=reverse_lazy("portal:password_reset_done"),
)
