"""Billing fixtures: cameras for the owner, a saved card, and the account's test clock."""

import pytest

from camcare.billing import actions
from camcare.cameras.models import Camera
from tests.conftest import set_clock, utc


def add_camera(account, name: str) -> Camera:
    return Camera.objects.create(
        account=account, name=name, model="KC200", serial=f"SN-{account.pk}-{name}".upper(),
        device_token_hash=f"{account.pk}-{name}".ljust(64, "0")[:64],
    )


@pytest.fixture
def cameras(owner):
    return [add_camera(owner, "Porch"), add_camera(owner, "Garden")]


@pytest.fixture
def card(owner):
    return actions.save_payment_method(account=owner, token="tok_visa", actor=owner)


@pytest.fixture
def at(owner):
    """at(y, m, d, ...) moves the owner's test clock (running what falls due) and returns it."""

    def move(*args):
        when = utc(*args)
        if owner.test_clock_at is None:
            set_clock(owner, when)
        actions.advance_test_clock(account=owner, to=when, actor=owner)
        return when

    return move
