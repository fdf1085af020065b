"""The change form (issue 8): every choice with its price, the running total and the next
bill as rendered for the choices shown (static/portal/change.js updates them as the owner
picks: tests/e2e/test_change_form.py), and choices that survive an ended session."""

import re
from urllib.parse import parse_qs, unquote

from django.test import Client
from django.urls import reverse

from camcare.billing.models import TrialUse
from tests.conftest import PASSWORD, utc
from tests.portal.conftest import change, preview, signed_in, text


def form_url(cams, porch: str, garden: str, cycle: str = "monthly") -> str:
    return f"{reverse('portal:change')}?camera_{cams.porch.id}={porch}&camera_{cams.garden.id}={garden}&cycle={cycle}"


def checked(body: str, name: str) -> str:
    return re.search(rf'<input type="radio" name="{name}" value="(\w+)"[^>]*checked', body)[1]


def test_it_prices_each_choice_of_each_camera(portal, owner, cams):
    page = text(portal.get(reverse("portal:change")))
    assert page.count("Plus · 14 days of video history $3.99 a month for this camera") == 2
    assert "Premium · 30 days of video history $12.99 a month for all your Premium cameras together (up to 10)" in page
    assert "Your plan now Free (no paid plan) With the plans picked $0.00 a month Next bill none: every camera on Free" in page


def test_it_totals_the_plans_picked_and_dates_the_next_bill(portal, owner, cams):
    # Offered first and ticked (POLICY.md section 12): the first bill is at the trial's end.
    page = text(portal.get(form_url(cams, "plus", "premium")))
    assert "With the plans picked $16.98 a month Next bill $16.98 on 31 Mar 2027" in page
    TrialUse.objects.create(kind="account", key=str(owner.pk), at=utc(2027, 1, 1), trial=True)
    page = text(portal.get(form_url(cams, "plus", "premium")))
    assert "With the plans picked $16.98 a month Next bill $16.98 on 1 Apr 2027" in page
    yearly = text(portal.get(form_url(cams, "premium", "premium", cycle="annual")))
    assert "$129.99 a year for all your Premium cameras together" in yearly
    assert "With the plans picked $129.99 a year Next bill $129.99 on 1 Mar 2028" in yearly


def test_it_dates_a_switch_to_monthly_at_the_end_of_the_paid_year(portal, owner, cams, visa):
    change(portal, cams, "plus", "plus", cycle="annual")
    page = text(portal.get(form_url(cams, "plus", "plus", cycle="monthly")))
    assert "Your plan now $79.98 a year With the plans picked $7.98 a month Next bill $7.98 on 1 Mar 2028" in page


def test_it_serves_the_totals_script_from_self(portal, owner, cams):
    body = portal.get(reverse("portal:change")).content.decode()
    assert '<script src="/static/portal/change.js" defer></script>' in body
    plans = re.search(r'data-plans="([^"]+)"', body)[1]
    assert "&quot;premium&quot;: {&quot;scope&quot;: &quot;account&quot;, &quot;max&quot;: 10" in plans


def test_it_prefills_the_choices_a_link_carries(portal, owner, cams):
    body = portal.get(form_url(cams, "premium", "plus", cycle="annual")).content.decode()
    assert checked(body, f"camera_{cams.porch.id}") == "premium"
    assert checked(body, f"camera_{cams.garden.id}") == "plus"
    assert checked(body, "cycle") == "annual"


def test_it_keeps_the_choices_of_a_form_sent_after_the_session_ended(owner, cams):
    ended = Client()  # the session cookie expired: the form is sent signed out
    sent = ended.post(reverse("portal:change"), {**cams.plans("premium", "plus"), "cycle": "annual"})
    assert sent.status_code == 302 and sent["Location"].startswith(reverse("portal:login") + "?next=")
    login_page = ended.get(sent["Location"])
    assert "your session had ended" in text(login_page) and "with the choices you had made" in text(login_page)
    back = unquote(sent["Location"].split("next=", 1)[1])
    signed = ended.post(sent["Location"], {"email": owner.email, "password": PASSWORD, "next": back})
    assert signed["Location"] == back
    body = ended.get(back).content.decode()
    assert checked(body, f"camera_{cams.porch.id}") == "premium" and checked(body, "cycle") == "annual"


def test_it_says_nothing_on_a_plain_visit_to_sign_in(client, db):
    assert "your session had ended" not in text(client.get(reverse("portal:login")))


def test_it_brings_a_preview_of_an_earlier_session_back_to_its_choices(portal, owner, cams, visa):
    quote_id = preview(portal, cams, "premium", "plus")
    again = signed_in(owner)  # signed in anew: the previews of the old session are gone
    response = again.get(reverse("portal:preview", args=[quote_id]))
    path, query = response["Location"].split("?", 1)
    assert path == reverse("portal:change")
    assert parse_qs(query) == {f"camera_{cams.porch.id}": ["premium"], f"camera_{cams.garden.id}": ["plus"], "cycle": ["monthly"]}
    assert "Your choices are kept" in text(again.get(response["Location"]))
