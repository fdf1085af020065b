"""E-mails show instants in the account's zone and name it (POLICY.md section 16): a
renewal at 00:00 UTC on 1 April is, for an owner in Los Angeles, 17:00 on 31 March, and
the e-mail says which clock that is. Sent through a real SMTP server on loopback."""

from __future__ import annotations

import pytest

from camcare.billing import actions
from camcare.billing.models import Order
from tests.notices.mail import parts

LOCAL_RENEWAL = "Wednesday 31 March 2027 at 17:00 America/Los_Angeles"


@pytest.fixture
def in_los_angeles(owner, cameras, card, at, smtp, django_capture_on_commit_callbacks):
    """Both cameras on plus from 00:00 UTC on 1 Mar (its receipt sent, then cleared); the
    owner reads dates in Los Angeles. Returns a clock move that sends what it records."""
    owner.time_zone = "America/Los_Angeles"
    owner.save(update_fields=["time_zone"])
    at(2027, 3, 1)
    porch, garden = cameras
    with django_capture_on_commit_callbacks(execute=True):
        actions.change_plan(account=owner, cameras={porch.id: "plus", garden.id: "plus"}, actor=owner)
    smtp.messages.clear()

    def move(*when):
        with django_capture_on_commit_callbacks(execute=True):
            at(*when)

    return move


def test_the_renewals_receipt_is_dated_on_the_owners_clock(owner, in_los_angeles, smtp):
    in_los_angeles(2027, 4, 1)
    renewal = Order.objects.get(account=owner, purpose="renewal")
    [receipt] = smtp.of_kind(renewal.order_id)
    html = parts(receipt)["text/html"]
    assert LOCAL_RENEWAL in html
    assert "1 April" not in html and "UTC" not in html


def test_a_failed_renewal_tells_both_attempts_on_the_owners_clock(owner, in_los_angeles, smtp):
    actions.save_payment_method(account=owner, token="tok_chargeDeclined", actor=owner)
    in_los_angeles(2027, 4, 1)
    [message] = smtp.of_kind("payment failed")
    for part in parts(message).values():
        assert LOCAL_RENEWAL in part  # tried on
        assert "Thursday 1 April 2027 at 17:00 America/Los_Angeles" in part  # the next attempt, a day later
        assert "00:00 UTC" not in part


def test_a_zone_this_server_does_not_know_reads_utc_and_never_stops_a_notice(owner, in_los_angeles, smtp):
    """Stored before a tz database update dropped it, say: the renewal and its e-mail go on."""
    type(owner).objects.filter(pk=owner.pk).update(time_zone="Mars/Olympus_Mons")
    owner.refresh_from_db()
    in_los_angeles(2027, 4, 1)
    renewal = Order.objects.get(account=owner, purpose="renewal")
    [receipt] = smtp.of_kind(renewal.order_id)
    assert "Thursday 1 April 2027 at 00:00 UTC" in parts(receipt)["text/html"]
