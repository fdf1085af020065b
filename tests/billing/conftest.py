"""Billing fixtures: cameras for the owner, a saved card, and the account's test clock."""

import hashlib

import pytest

from camcare.billing import actions
from camcare.cameras.models import Camera
from tests.conftest import set_clock, utc


def add_camera(account, name: str) -> Camera:
    return Camera.objects.create(
        account=account, name=name, model="KC200", serial=f"SN-{account.pk}-{name}".upper(),
        device_token_hash=hashlib.sha256(f"{account.pk}-{name}".encode()).hexdigest(),
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


def add_clip(camera, recorded_at):
    """A clip row; erasure tolerates its missing file (storage deletes are idempotent)."""
    from camcare.cameras.models import Clip

    return Clip.objects.create(camera=camera, recorded_at=recorded_at, duration_s=10, size=1,
                               file=f"clips/test/{camera.pk}-{recorded_at:%Y%m%d%H%M%S}.mp4")


@pytest.fixture
def subscribed(owner, cameras, card, at):
    """Both cameras on plus from the monthly anchor 2027-03-01 (798 paid by tok_visa)."""
    at(2027, 3, 1)
    porch, garden = cameras
    actions.change_plan(account=owner, cameras={porch.id: "plus", garden.id: "plus"}, actor=owner)
    return cameras
