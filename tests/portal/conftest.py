"""Portal fixtures: a signed-in browser session (Django's test client) with two cameras,
the account's clock at the worked examples' March 2027 (POLICY.md section 11)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import reverse

from camcare import clock
from camcare.billing import actions
from camcare.cameras.models import Camera
from camcare.cameras.services import register_camera
from camcare.portal.reauth import SESSION_KEY
from tests.conftest import set_clock, utc

MARCH_1 = utc(2027, 3, 1)


def mark_recent_password(client: Client, at: int | None = None) -> None:
    session = client.session
    session[SESSION_KEY] = int(clock.real_now().timestamp()) if at is None else at
    session.save()


def signed_in(account) -> Client:
    client = Client()
    client.force_login(account)
    mark_recent_password(client)
    return client


@pytest.fixture
def portal(owner) -> Client:
    """The owner's browser, signed in with a recent password."""
    return signed_in(owner)


@pytest.fixture
def outsider_portal(outsider) -> Client:
    return signed_in(outsider)


@dataclass
class Cams:
    porch: Camera
    garden: Camera

    def plans(self, first: str, second: str) -> dict[str, str]:
        return {f"camera_{self.porch.id}": first, f"camera_{self.garden.id}": second}


@pytest.fixture
def cams(owner) -> Cams:
    set_clock(owner, MARCH_1)
    porch, _ = register_camera(owner, "Porch", "KC200", "sn-portal-porch")
    garden, _ = register_camera(owner, "Garden", "KC200", "sn-portal-garden")
    return Cams(porch, garden)


@pytest.fixture
def visa(owner):
    return actions.save_payment_method(account=owner, token="tok_visa", actor=owner)


def key() -> str:
    return str(uuid.uuid4())


def preview(client: Client, cams: Cams, first: str, second: str, cycle: str = "monthly") -> str:
    """POST the change form; returns the quote id of the preview it redirects to."""
    response = client.post(reverse("portal:change"), {**cams.plans(first, second), "cycle": cycle})
    assert response.status_code == 302, response.content.decode()[:2000]
    quote_id = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    assert response["Location"] == reverse("portal:preview", args=[quote_id])
    return quote_id


def confirm(client: Client, quote_id: str, idem: str | None = None):
    return client.post(
        reverse("portal:preview", args=[quote_id]), {"quote_id": quote_id, "idempotency_key": idem or key()}
    )


def change(client: Client, cams: Cams, first: str, second: str, cycle: str = "monthly"):
    quote_id = preview(client, cams, first, second, cycle)
    response = confirm(client, quote_id)
    assert response.status_code == 302 and response["Location"] == reverse("portal:change_done", args=[quote_id]), (
        response.status_code, response.content.decode()[:3000])
    return quote_id


def text(response) -> str:
    """The page's visible text, tags removed and spaces collapsed (none before punctuation)."""
    flat = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))
    return re.sub(r" ([,.;:)])", r"\1", flat).strip()
