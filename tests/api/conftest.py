"""API test fixtures: a client that checks every change result, two populated accounts
(the owner and the outsider, each with cameras, a clip, a card, a paid plan and orders),
and helpers that compare the whole database before and after a refused call."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from camcare.accounts.models import ApiToken
from camcare.audit.models import ErrorReport
from camcare.cameras.demo import demo_files
from tests.conftest import Api

# POLICY.md section 7: "ERR-" and 10 Crockford base32 characters (no I, L, O, U).
REFERENCE = re.compile(r"^ERR-[0-9A-HJKMNP-TV-Z]{10}$")
START = "2027-03-01T00:00:00Z"  # both accounts' test clocks stand here once `world` is built
CLIP_AT = "2027-02-28T23:00:00Z"  # an hour before START: inside every plan's window


def check_result(body) -> None:
    """API.md: every change result R has net = charge_now + credit_used - credit_added - refund."""
    if isinstance(body, dict) and "net" in body:
        assert body["net"] == body["charge_now"] + body["credit_used"] - body["credit_added"] - body["refund"], body
        assert all(line["amount"] >= 0 for line in body["lines"]), body


class CheckedApi(Api):
    """The shared JSON client, asserting the net identity on every answer it receives."""

    def _call(self, method, path, body=None, headers=None, **kwargs):
        response = super()._call(method, path, body, headers, **kwargs)
        if response.get("Content-Type", "").startswith("application/json"):
            check_result(response.json())
        return response


@pytest.fixture
def api(owner) -> CheckedApi:
    return CheckedApi(owner)


@pytest.fixture
def outsider_api(outsider) -> CheckedApi:
    return CheckedApi(outsider)


@pytest.fixture
def anon_api(db) -> CheckedApi:
    """No credentials, and CSRF enforced like a real browser or script would meet it."""
    anon = CheckedApi(None)
    anon.client = Client(enforce_csrf_checks=True)
    return anon


def assert_error(response, status: int, code: str | None = None, *, account=None) -> dict:
    """An error answer of API.md: JSON {code, message, reference}, the reference stored
    with the account it concerns (None for an unauthenticated caller)."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert {"code", "message", "reference"} <= set(body), body
    assert isinstance(body["message"], str) and body["message"].strip(), body
    assert "Traceback" not in response.content.decode(), body
    if code is not None:
        assert body["code"] == code, body
    assert REFERENCE.match(body["reference"]), body
    report = ErrorReport.objects.get(reference=body["reference"])
    assert (report.status, report.code) == (status, body["code"])
    assert report.account_id == (account.pk if account is not None else None)
    return body


# Rows that may change on a refused call: the error report itself, and a token's last use.
UNTRACKED_MODELS = {ErrorReport}
VOLATILE_FIELDS = {ApiToken: {"last_used_at"}}
TRACKED_APPS = {"accounts", "cameras", "billing", "api", "support", "portal"}


def db_state() -> dict:
    """Every row of camcare's own tables (and every stored file), to compare before/after."""
    state = {}
    for model in apps.get_models():
        if model._meta.app_label not in TRACKED_APPS or model in UNTRACKED_MODELS:
            continue
        columns = [f.attname for f in model._meta.concrete_fields if f.attname not in VOLATILE_FIELDS.get(model, ())]
        state[model._meta.label] = sorted(repr(row) for row in model.objects.values_list(*columns))
    media = Path(settings.MEDIA_ROOT)
    state["files"] = sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file()) if media.exists() else []
    return state


@dataclass
class Person:
    api: CheckedApi
    cameras: dict[str, str] = field(default_factory=dict)  # name -> camera id
    device_tokens: dict[str, str] = field(default_factory=dict)  # camera id -> device token
    clip_id: str = ""
    order_id: str = ""
    quote: str = ""

    @property
    def account(self):
        return self.api.account

    def camera(self, name: str) -> str:
        return self.cameras[name]


def mp4_bytes() -> bytes:
    return demo_files()[0].read_bytes()


def register(person_api: Api, name: str) -> tuple[str, str]:
    """Register a camera through the API; returns (camera id, device token)."""
    serial = f"SN-{person_api.account.pk}-{name}"
    response = person_api.post("cameras", {"name": name, "model": "KC200", "serial": serial})
    assert response.status_code == 201, response.content
    body = response.json()
    return body["id"], body["device_token"]


def upload(client: Client, device_token: str | None, *, recorded_at: str = CLIP_AT,
           content: bytes | None | bool = None, headers: dict | None = None, **fields):
    """A camera's multipart clip upload (POST /device/clips); `content=False` sends no file,
    `device_token=None` no device credentials."""
    data = {"recorded_at": recorded_at, "duration_s": "30", **fields}
    if content is not False:
        data["file"] = SimpleUploadedFile("clip.mp4", mp4_bytes() if content is None else content, "video/mp4")
    auth = {"Authorization": f"Device {device_token}"} if device_token is not None else {}
    return client.post("/api/v1/device/clips", data=data, headers={**auth, **(headers or {})})


def move(person_api: Api, when: str) -> None:
    response = person_api.post("test-clock", {"now": when})
    assert response.status_code == 200, response.content


def populate(person_api: CheckedApi, names: list[str]) -> Person:
    """Cameras (first one on plus, paid by card), a clip on the first camera, a quote."""
    person = Person(person_api)
    move(person_api, START)
    for name in names:
        camera, token = register(person_api, name)
        person.cameras[name] = camera
        person.device_tokens[camera] = token
    first = person.cameras[names[0]]
    clip = upload(Client(), person.device_tokens[first])
    assert clip.status_code == 201, clip.content
    person.clip_id = clip.json()["id"]
    assert person_api.put("payment-method", {"token": "tok_visa"}).status_code == 200
    paid = person_api.put("subscription", {"cameras": {first: "plus"}})
    assert paid.status_code == 200, paid.content
    person.order_id = paid.json()["orders"][0]["order_id"]
    preview = person_api.post("subscription/preview", {"cameras": {first: "premium"}})
    assert preview.status_code == 200, preview.content
    person.quote = preview.json()["quote"]
    return person


@dataclass
class World:
    owner: Person
    outsider: Person


@pytest.fixture
def world(api, outsider_api) -> World:
    """The owner (Porch on plus, Garden on free) and the outsider (Shed on plus), each
    with a card, a clip, a charge order and an unexecuted quote, clocks at START."""
    return World(owner=populate(api, ["Porch", "Garden"]), outsider=populate(outsider_api, ["Shed"]))
