"""Hostile input to the support console: its search box, its money forms, and anyone
but staff knocking on any of its pages."""

from __future__ import annotations

import re
from urllib.parse import quote
from uuid import uuid4

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse

from camcare.audit.models import AuditEvent
from camcare.billing.models import Order
from tests.hostile.conftest import assert_page

# ?q= as sent, percent-encoded
SEARCHES = {
    "a NUL": quote("\x00"),
    "an e-mail with a NUL": quote("owner@example.com\x00"),
    "5,000 characters": "x" * 5000,
    "an Order ID of 5,000 digits": "ORD-" + "9" * 5000,
    "a reference with a NUL": quote("ERR-\x00"),
    "a LIKE wildcard": quote("%"),
    "a LIKE single": "_",
    "SQL": quote("' OR 1=1 --"),
    "a right-to-left override": quote("\u202e@example.com"),
    "not UTF-8": "%ff%fe",
}


@pytest.mark.parametrize("query", SEARCHES.values(), ids=SEARCHES.keys())
def test_it_finds_no_one_for_a_hostile_search(query, staff_client, owner, outsider):
    response = staff_client.get(f"/support/?q={query}")
    assert_page(response, 200)
    assert response.context["accounts"] == []
    assert "No account matches" in response.content.decode()
    assert AuditEvent.objects.filter(action="support.searched").count() == 1


def _routes(patterns, prefix: str = ""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, route)
        else:
            yield route


def console_urls(account_id: str) -> list[str]:
    """Every page under /support/ (the stores' one included), its ids a real account's."""
    return ["/" + re.sub(r"<(?:\w+:)?\w+>", account_id, route)
            for route in _routes(get_resolver().url_patterns) if route.startswith("support/")]


def test_it_knows_the_pages_of_the_console(owner):
    assert {"/support/", f"/support/accounts/{owner.pk}/refund/"} <= set(console_urls(owner.pk))


@pytest.mark.parametrize("who", ["anonymous", "an owner"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_it_answers_404_on_every_console_page_to_anyone_but_staff(who, method, owner):
    client = Client()
    if who == "an owner":
        client.force_login(owner)
    for url in console_urls(owner.pk) + ["/support/no-such-page/"]:
        response = getattr(client, method)(url, {"amount": "1.00", "reason": "x"} if method == "post" else None)
        assert_page(response, 404)
    assert not Order.objects.exists()


def key() -> str:
    return uuid4().hex


FORMS = {  # amounts in dollars, as the console reads them
    "an amount of 5,000 digits": ("credit", {"amount": "9" * 5000, "reason": "r", "request_key": key()}),
    "a negative amount": ("credit", {"amount": "-1.00", "reason": "r", "request_key": key()}),
    "an amount with a NUL": ("credit", {"amount": "1\x00", "reason": "r", "request_key": key()}),
    "a reason with a NUL": ("credit", {"amount": "1.00", "reason": "r\x00", "request_key": key()}),
    "a reason of 100,000 characters": ("credit", {"amount": "1.00", "reason": "r" * 100_000, "request_key": key()}),
    "no one-time key": ("credit", {"amount": "1.00", "reason": "r"}),
    "a one-time key not made by the page": ("credit", {"amount": "1.00", "reason": "r", "request_key": "../" * 20}),
    "an Order ID of 5,000 characters": ("refund", {"order_id": "x" * 5000, "amount": "1.00", "reason": "r",
                                                   "request_key": key()}),
    "an Order ID with a NUL": ("refund", {"order_id": "ORD-\x00", "amount": "1.00", "reason": "r",
                                          "request_key": key()}),
}


@pytest.mark.parametrize(("form", "data"), FORMS.values(), ids=FORMS.keys())
def test_it_refuses_a_hostile_money_form_and_moves_no_money(form, data, billing_admin_client, owner):
    """As a billing admin, who may send both forms: what refuses them is the input itself."""
    response = billing_admin_client.post(reverse(f"support:{form}", args=[owner.pk]), data)
    assert_page(response, 200)  # the account page again, with the form's errors
    assert "errorlist" in response.content.decode()
    assert not Order.objects.exists()
