"""Requests no page can answer, refused before any view runs; the zone a page's instants
are shown in."""

from django.http import Http404
from django.utils import timezone

from camcare.accounts import time_zones


def refuse_nul_in_path(get_response):
    """A NUL in the path (`%00`) names nothing: no id holds one, and PostgreSQL cannot even
    compare a text with one, so a view looking it up would fail with a 500. The API answers
    its own paths (with its JSON error body); every other page answers the portal's 404."""

    def middleware(request):
        if "\x00" in request.path and not request.path.startswith("/api/"):
            raise Http404("No such page.")
        return get_response(request)

    return middleware


class AccountTimeZone:
    """Pages show instants in the signed-in account's zone (POLICY.md section 16): the
    date filters (templatetags/money.py) format in the zone active here. The support
    console, the admin and the API keep UTC (staff work across zones; the API sends UTC
    ISO 8601), so they are left in the default zone. `request.account_time_zone` is the
    zone's IANA name when one is active, None when the page is in UTC for everyone."""

    UTC_NAMESPACES = frozenset({"support", "stores", "admin", "api-v1"})

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.account_time_zone = None
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()  # the next request on this thread starts from UTC again

    def process_view(self, request, view_func, view_args, view_kwargs):
        # Here rather than in __call__: the resolved view tells the console's pages apart.
        user = getattr(request, "user", None)
        match = request.resolver_match
        if user is None or not user.is_authenticated or (match and self.UTC_NAMESPACES & set(match.namespaces)):
            return None
        name = time_zones.zone_of(user)
        timezone.activate(time_zones.zone_info(name))
        request.account_time_zone = name
        return None
