"""Time on pages (POLICY.md section 16): the portal shows instants in the account's zone,
naming it, so a renewal at 00:00 UTC reads as the evening before in Los Angeles, and
says so. The zone comes from the browser at sign-up and is chosen on the account page;
the support console stays in UTC."""

from __future__ import annotations

import re
import zlib

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from camcare.accounts import time_zones
from camcare.accounts.models import Account
from camcare.audit.models import AuditEvent
from camcare.billing import actions
from camcare.billing.models import Order
from camcare.portal.templatetags.money import format_date, format_datetime, when
from tests.billing.conftest import add_clip
from tests.conftest import PASSWORD, utc
from tests.portal.conftest import change, preview, text
from tests.support.otp import verified_client

RENEWAL = utc(2027, 4, 1)  # the monthly renewal of a subscription made at 00:00 UTC on 1 Mar
LOS_ANGELES = "America/Los_Angeles"
LOCAL_RENEWAL = "31 Mar 2027, 17:00 PDT"  # the same instant on a Los Angeles clock


def in_zone(account, zone: str) -> None:
    account.time_zone = zone
    account.save(update_fields=["time_zone"])


# ------------------------------------------------------------------ the format


def test_it_formats_an_instant_in_the_zone_it_is_given_and_names_the_zone():
    assert format_datetime(RENEWAL, LOS_ANGELES) == LOCAL_RENEWAL
    assert format_date(RENEWAL, LOS_ANGELES) == "31 Mar 2027"
    assert format_datetime(utc(2027, 1, 15, 12), LOS_ANGELES) == "15 Jan 2027, 04:00 PST"  # winter
    assert format_datetime(RENEWAL, "UTC") == "1 Apr 2027, 00:00 UTC"
    assert format_datetime(RENEWAL, "Europe/Paris") == "1 Apr 2027, 02:00 CEST"
    # Zones whose abbreviation is only a number read as an offset from UTC.
    assert format_datetime(RENEWAL, "Asia/Kathmandu") == "1 Apr 2027, 05:45 UTC+5:45"
    assert format_datetime(RENEWAL, "America/Sao_Paulo") == "31 Mar 2027, 21:00 UTC-3"


def test_a_boundary_is_a_bare_date_only_at_the_zones_midnight():
    assert when(RENEWAL, "UTC") == "1 Apr 2027"
    assert when(RENEWAL, LOS_ANGELES) == LOCAL_RENEWAL  # never "1 Apr", never a bare "31 Mar"
    assert when(utc(2027, 4, 1, 7), LOS_ANGELES) == "1 Apr 2027"  # midnight PDT


def test_the_active_zone_is_the_default_and_an_unknown_name_is_utc():
    with timezone.override(time_zones.zone_info(LOS_ANGELES)):
        assert format_datetime("2027-04-01T00:00:00Z") == LOCAL_RENEWAL
    assert format_datetime(RENEWAL) == "1 Apr 2027, 00:00 UTC"
    assert format_datetime(RENEWAL, "Mars/Olympus_Mons") == "1 Apr 2027, 00:00 UTC"


def test_one_check_decides_every_entry_point():
    assert time_zones.clean_time_zone(" Europe/Paris ") == "Europe/Paris"
    assert time_zones.clean_time_zone("Etc/UTC") == "UTC"
    for wrong in ("europe/paris", "Factory", "", None, 3, "x" * 5000):
        with pytest.raises(time_zones.UnknownTimeZone):
            time_zones.clean_time_zone(wrong)
    assert time_zones.zone_or_utc("nonsense") == "UTC"


def test_the_model_validates_its_zone_too(owner):
    owner.time_zone = "Mars/Olympus_Mons"
    with pytest.raises(ValidationError) as refused:
        owner.full_clean()
    assert "time_zone" in refused.value.message_dict


# ------------------------------------------------------------------ sign-up


def sign_up(time_zone: str | None) -> tuple[Client, Account]:
    client = Client()
    data = {"email": "new@example.com", "password": PASSWORD}
    if time_zone is not None:
        data["time_zone"] = time_zone
    response = client.post(reverse("portal:signup"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return client, Account.objects.get(email="new@example.com")


def test_the_sign_up_form_carries_the_browsers_zone_through_a_static_script(db):
    page = Client().get(reverse("portal:signup")).content.decode()
    assert re.search(r'<input type="hidden" name="time_zone" value="" data-browser-time-zone', page)
    assert re.search(r'<script src="/static/portal/time_zone\.js[^"]*" defer></script>', page)
    assert "<script>" not in page  # CSP: script-src 'self', no inline script


def test_sign_up_stores_the_browsers_zone(db):
    client, account = sign_up(LOS_ANGELES)
    assert account.time_zone == LOS_ANGELES
    assert f"Dates and times are in your time zone, {LOS_ANGELES}" in text(client.get(reverse("portal:home")))


@pytest.mark.parametrize("sent", [None, "", "Mars/Olympus_Mons", "<script>", "x" * 5000])
def test_sign_up_without_a_known_zone_reads_utc(sent, db):
    _, account = sign_up(sent)
    assert account.time_zone == "UTC"


# ------------------------------------------------------------------ the account page


def test_the_account_page_shows_the_email_and_preselects_the_zone(portal, owner):
    in_zone(owner, "Europe/Paris")
    response = portal.get(reverse("portal:account"))
    page = response.content.decode()
    assert 'data-testid="account-email">owner@example.com<' in page
    assert re.search(r'<option value="Europe/Paris" selected>Paris \(UTC\+\d\)</option>', page)
    assert '<optgroup label="America">' in page and '<option value="UTC">UTC' in page
    assert page.count(" selected>") == 1
    assert '<label for="id_time_zone">Time zone</label>' in page


def test_the_header_links_to_the_account_page(portal):
    page = portal.get(reverse("portal:home")).content.decode()
    assert f'<a href="{reverse("portal:account")}"' in page


def test_choosing_a_zone_saves_it_confirms_it_and_audits_it(portal, owner):
    response = portal.post(reverse("portal:account"), {"time_zone": LOS_ANGELES}, follow=True)
    assert response.redirect_chain == [(reverse("portal:account"), 302)]
    page = text(response)
    assert f"Time zone saved: {LOS_ANGELES}. Dates and times are now shown in it" in page
    assert re.search(r"it is \d{1,2} \w{3} \d{4}, \d\d:\d\d P[DS]T there now", page)
    assert f"Your pages and e-mails show dates and times in {LOS_ANGELES}" in page
    owner.refresh_from_db()
    assert owner.time_zone == LOS_ANGELES
    [event] = AuditEvent.objects.filter(account=owner, action="account.time_zone_changed")
    assert (event.actor_id, event.detail) == (owner.pk, {"old": "UTC", "new": LOS_ANGELES})


def test_an_unknown_zone_is_refused_and_nothing_changes(portal, owner):
    response = portal.post(reverse("portal:account"), {"time_zone": "Mars/Olympus_Mons"})
    assert response.status_code == 422
    assert "Choose a time zone from the list." in text(response)
    owner.refresh_from_db()
    assert owner.time_zone == "UTC"
    assert not AuditEvent.objects.filter(account=owner, action="account.time_zone_changed").exists()


def test_an_alias_the_list_leaves_out_stays_selectable(portal, owner):
    in_zone(owner, "US/Pacific")  # stored through the API, say
    page = portal.get(reverse("portal:account")).content.decode()
    assert re.search(r'<optgroup label="Other">\s*<option value="US/Pacific" selected>', page)


def test_the_zone_is_the_requests_only_and_does_not_leak(portal, owner):
    in_zone(owner, LOS_ANGELES)
    assert LOS_ANGELES in text(portal.get(reverse("portal:home")))
    assert timezone.get_current_timezone_name() == "UTC"
    assert "All dates and times are UTC." in text(Client().get(reverse("portal:plans")))


# ------------------------------------------------------------------ a renewal at 00:00 UTC, west of UTC


@pytest.fixture
def renewed(portal, owner, cams, visa):
    """Both cameras on plus from 00:00 UTC on 1 Mar; renewed at 00:00 UTC on 1 Apr; the
    owner in Los Angeles, where that instant is 17:00 on 31 Mar."""
    change(portal, cams, "plus", "plus")
    in_zone(owner, LOS_ANGELES)
    home = text(portal.get(reverse("portal:home")))
    actions.advance_test_clock(account=owner, to=RENEWAL, actor=owner)
    renewal = Order.objects.get(account=owner, kind="charge", purpose="renewal")
    assert renewal.created_at == RENEWAL and renewal.status == "succeeded"
    return home, renewal


def test_home_shows_the_next_bill_on_the_local_date_with_its_zone(renewed):
    home, _ = renewed
    assert f"Next bill $7.98 on {LOCAL_RENEWAL}" in home
    assert "1 Apr" not in home
    assert f"Dates and times are in your time zone, {LOS_ANGELES}" in home


def test_the_payments_list_shows_the_renewal_on_the_local_date(portal, renewed):
    _, renewal = renewed
    page = text(portal.get(reverse("portal:history")))
    assert f"{renewal.order_id} {LOCAL_RENEWAL} Payment" in page
    assert "1 Apr 2027" not in page


def test_the_receipt_page_and_its_pdf_show_the_local_date_and_name_the_zone(portal, renewed):
    _, renewal = renewed
    page = text(portal.get(reverse("portal:receipt", args=[renewal.order_id])))
    assert f"Order ID {renewal.order_id} Date {LOCAL_RENEWAL} Account owner@example.com" in page
    assert f"Times are in {LOS_ANGELES} time." in page
    pdf = pdf_text(portal.get(reverse("portal:receipt_pdf", args=[renewal.order_id])).content)
    assert f"({LOCAL_RENEWAL})" in pdf
    assert f"Times are in {LOS_ANGELES} time." in pdf
    assert "1 Apr 2027" not in pdf and "All times are UTC" not in pdf


def pdf_text(content: bytes) -> str:
    """The text-showing operators of a PDF's content streams (fpdf2 deflates them)."""
    assert content.startswith(b"%PDF-")
    shown = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", content, re.DOTALL):
        try:
            shown.append(zlib.decompress(stream).decode("latin-1"))
        except zlib.error:
            shown.append(stream.decode("latin-1"))
    return "\n".join(shown)


def test_the_support_console_shows_the_same_renewal_in_utc_and_says_so(renewed, owner):
    staff = Account.objects.create_user(email="agent@camcare.example", password=PASSWORD, is_staff=True,
                                        time_zone="Asia/Tokyo")  # the agent's own zone changes nothing there
    page = text(verified_client(staff).get(f"/support/accounts/{owner.pk}/"))
    assert "1 Apr 2027, 00:00 UTC" in page
    assert "All dates and times are UTC." in page
    assert "PDT" not in page and "JST" not in page


def test_a_utc_account_keeps_the_utc_dates(portal, owner, cams, visa):
    change(portal, cams, "plus", "plus")
    home = text(portal.get(reverse("portal:home")))
    assert "Next bill $7.98 on 1 Apr 2027" in home
    assert "Dates and times are in your time zone, UTC" in home


def test_every_owner_page_shows_its_instants_on_the_accounts_clock(portal, owner, cams, visa):
    add_clip(cams.porch, utc(2027, 3, 1, 0, 0, 7))
    change(portal, cams, "plus", "plus")
    in_zone(owner, LOS_ANGELES)
    order = Order.objects.get(account=owner)
    quote_id = preview(portal, cams, "premium", "plus")
    pages = [reverse("portal:home"), reverse("portal:history"), reverse("portal:receipt", args=[order.order_id]),
             reverse("cameras:clips", args=[cams.porch.id]), reverse("portal:preview", args=[quote_id]),
             reverse("portal:cancel")]
    for url in pages:
        page = text(portal.get(url))
        assert "UTC" not in page, url  # every instant on the Los Angeles clock, and named so
        assert LOS_ANGELES in page, url  # the footer names the zone once
    assert "28 Feb 2027, 16:00 PST" in text(portal.get(reverse("cameras:clips", args=[cams.porch.id])))
    assert "Current period 28 Feb 2027, 16:00 PST – 31 Mar 2027, 17:00 PDT" in text(portal.get(reverse("portal:home")))

