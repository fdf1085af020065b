"""The account page: the sign-in e-mail, and the time zone pages and e-mails show dates
in (POLICY.md section 16), chosen from a list of IANA names."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from camcare import clock
from camcare.accounts import services, time_zones
from camcare.portal.templatetags.money import format_datetime


class TimeZoneForm(forms.Form):
    """A select of zones; what it accepts is clean_time_zone's to say (the one check of
    every entry point), not the list's: the API may have stored an alias it leaves out."""

    time_zone = forms.CharField(
        label="Time zone", max_length=time_zones.MAX_LENGTH,
        help_text="Dates and times on your pages and in our e-mails are shown in this zone.",
    )

    def __init__(self, *args, current: str, **kwargs):
        kwargs.setdefault("initial", {"time_zone": current})
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].widget = forms.Select(choices=time_zones.grouped_choices(current))

    def clean_time_zone(self) -> str:
        try:
            return time_zones.clean_time_zone(self.cleaned_data["time_zone"])
        except time_zones.UnknownTimeZone as exc:
            raise forms.ValidationError("Choose a time zone from the list.", code="unknown_time_zone") from exc


@login_required
def account(request):
    current = time_zones.zone_of(request.user)
    form = TimeZoneForm(request.POST or None, current=current)
    if request.method == "POST" and form.is_valid():
        zone = form.cleaned_data["time_zone"]
        changed = services.set_time_zone(request.user, zone, actor=request.user)
        messages.success(request, saved_message(zone, changed))
        return redirect("portal:account")  # the next page renders in the new zone
    status = 422 if request.method == "POST" else 200
    return render(request, "portal/auth/account.html", {"form": form, "current_zone": current}, status=status)


def saved_message(zone: str, changed: bool) -> str:
    """The confirmation, with the time now in the zone so the owner sees it is right."""
    now = format_datetime(clock.real_now(), zone)
    if not changed:
        return f"Your time zone stays {zone}: it is {now} there now."
    return f"Time zone saved: {zone}. Dates and times are now shown in it; it is {now} there now."
