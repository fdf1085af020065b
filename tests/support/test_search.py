"""Search as staff type: an Order ID or an error reference with spaces, without its dash or
prefix, with a zero for the O, in any case, finds its account; an e-mail still does."""

from __future__ import annotations

import pytest

from camcare.audit.errors import record_error
from camcare.audit.models import AuditEvent
from camcare.billing.models import Order
from tests.conftest import make_account
from tests.support.pages import sent_from_page


def variants(code: str) -> dict[str, str]:
    """`code` (ORD-... or ERR-...) as people type it."""
    prefix, body = code.split("-")
    return {
        "as printed": code,
        "a space for the dash": f"{prefix} {body}",
        "spaces in the body": f"{prefix} {body[:4]} {body[4:]}",
        "no dash, lower case": f"{prefix.lower()}{body.lower()}",
        "a zero for an O": f"{prefix.replace('O', '0')}-{body}",
        "a zero for an O, lower case": f"{prefix.replace('O', '0').lower()}{body.lower()}",
        "the 10 characters alone": body,
        "the 10 characters, lower case": body.lower(),
        "O and L for 0 and 1": f"{prefix}-" + body.replace("0", "O").replace("1", "L"),
        "surrounded by spaces": f"  {code}  ",
    }


VARIANTS = list(variants("ORD-0000000000"))


@pytest.mark.parametrize("variant", VARIANTS)
def test_it_finds_an_account_by_an_order_id_typed_loosely(variant, agent_client, paid_owner, outsider):
    order = Order.objects.get(account=paid_owner)
    response = agent_client.get("/support/", {"q": variants(order.order_id)[variant]})
    body = response.content.decode()
    assert response.context["accounts"] == [paid_owner]
    assert response.context["order"] == order
    assert outsider.email not in body


@pytest.mark.parametrize("variant", VARIANTS)
def test_it_finds_an_account_by_an_error_reference_typed_loosely(variant, agent_client, owner):
    reference = record_error(account=owner, status=402, code="payment_failed", message="declined")
    response = agent_client.get("/support/", {"q": variants(reference)[variant]})
    assert response.context["accounts"] == [owner]
    assert response.context["report"].reference == reference


def test_it_still_finds_an_account_by_email_exactly_or_in_part(agent_client, owner, outsider):
    assert agent_client.get("/support/", {"q": "OWNER@example.com"}).context["accounts"] == [owner]
    assert agent_client.get("/support/", {"q": "example.com"}).context["accounts"] == [outsider, owner]


def test_it_falls_back_to_the_email_when_no_code_matches(agent_client, db):
    owner = make_account("ord0jsv12345a@example.com")
    assert agent_client.get("/support/", {"q": "ord0jsv12345a"}).context["accounts"] == [owner]


def test_it_says_when_an_order_id_matches_nothing(agent_client, paid_owner):
    response = agent_client.get("/support/", {"q": "ORD 0000000000"})
    assert response.context["accounts"] == []
    assert "No account matches" in response.content.decode()


def test_it_audits_a_search_on_the_account_it_found(agent_client, agent, paid_owner):
    order = Order.objects.get(account=paid_owner)
    agent_client.get("/support/", {"q": f"ord {order.order_id[4:].lower()}"})
    event = AuditEvent.objects.get(action="support.searched")
    assert (event.actor, event.account, event.detail["found"]) == (agent, paid_owner, 1)


def test_it_refunds_a_charge_named_loosely_in_the_refund_form(admin_client, paid_owner):
    charge = Order.objects.get(account=paid_owner, kind="charge")
    typed = f"0rd {charge.order_id[4:].lower()}"
    data = sent_from_page(admin_client, paid_owner, "refund", order_id=typed, amount="1", reason="Goodwill")
    assert admin_client.post(f"/support/accounts/{paid_owner.pk}/refund/", data).status_code == 302
    assert Order.objects.get(kind="refund").refers_to == charge
