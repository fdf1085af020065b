"""POST /cameras/{id}/replace (API.md "Additions"; POLICY.md section 14): the new camera takes
the old one's plan, paid line and clips; the old id answers 404 and its device token 401."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

from camcare.api.v1 import api as ninja_api
from camcare.audit.models import AuditEvent
from camcare.billing.models import LedgerEntry, Order
from camcare.cameras.models import Camera
from tests.api.conftest import assert_error, db_state, mp4_bytes, upload

PATH = "/api/v1/cameras/{camera_id}/replace"


def replace(person_api, camera: str, body: dict, **kwargs):
    return person_api.post(f"cameras/{camera}/replace", body, **kwargs)


def test_it_answers_the_new_camera_with_the_old_ones_plan_clips_and_a_new_token(world, api, owner):
    porch = world.owner.camera("Porch")
    orders, entries = Order.objects.count(), LedgerEntry.objects.count()
    subscription = api.get("subscription").json()

    response = replace(api, porch, {"model": "KC300", "serial": " sn-new-porch "})

    assert response.status_code == 201, response.content
    body = response.json()
    new = body["id"]
    assert body == {"id": new, "name": "Porch", "model": "KC300", "serial": "SN-NEW-PORCH", "plan": "plus",
                    "history_days": 14, "device_token": body["device_token"], "replaces": porch}
    assert new != porch
    assert [camera["id"] for camera in api.get("cameras").json()] == [new, world.owner.camera("Garden")]  # in its place
    after = api.get("subscription").json()
    assert after["cameras"] == {world.owner.camera("Garden"): "free", new: "plus"}
    assert {k: after[k] for k in ("price", "next_bill", "credit_balance", "current_period_end")} == {
        k: subscription[k] for k in ("price", "next_bill", "credit_balance", "current_period_end")}
    assert (Order.objects.count(), LedgerEntry.objects.count()) == (orders, entries)  # no order, no ledger entry
    assert [order["order_id"] for order in api.get("orders").json()] == [world.owner.order_id]
    clips = api.get(f"cameras/{new}/clips").json()
    assert [clip["id"] for clip in clips] == [world.owner.clip_id]
    video = api.get(clips[0]["url"])
    assert video.status_code == 200 and b"".join(video.streaming_content) == mp4_bytes()


def test_it_answers_404_for_the_old_id_on_every_camera_route_and_401_for_its_token(world, api, owner):
    porch = world.owner.camera("Porch")
    new = replace(api, porch, {"serial": "SN-NEW-PORCH"}).json()
    for response in (api.get(f"cameras/{porch}/clips"), api.delete(f"cameras/{porch}"),
                     replace(api, porch, {"serial": "SN-OTHER"})):
        assert_error(response, 404, "not_found", account=owner)
    assert porch not in api.get("subscription").json()["cameras"]
    assert_error(api.post("subscription/preview", {"cameras": {porch: "plus"}}), 422, "unknown_camera", account=owner)
    assert_error(upload(Client(), world.owner.device_tokens[porch]), 401, "unauthorized")
    uploaded = upload(Client(), new["device_token"], recorded_at="2027-02-28T23:30:00Z")  # after the old one's clip
    assert uploaded.status_code == 201, uploaded.content
    assert [clip["id"] for clip in api.get(f"cameras/{new['id']}/clips").json()] == [
        uploaded.json()["id"], world.owner.clip_id]


@pytest.mark.parametrize("camera", ["Shed", "Garden", "Porch"],
                         ids=["another account's", "another camera of the account", "the old camera's own"])
def test_it_refuses_a_serial_already_registered_and_changes_nothing(camera, world, api, owner):
    person = world.outsider if camera == "Shed" else world.owner
    serial = f" {Camera.objects.get(pk=person.camera(camera)).serial.lower()}"  # trimmed and upper-cased
    before = db_state()
    body = assert_error(replace(api, world.owner.camera("Porch"), {"serial": serial}), 409,
                        "camera_already_registered", account=owner)
    assert db_state() == before
    assert "serial" in body["message"]


def test_it_lets_the_old_serial_be_registered_again(world, api, outsider_api):
    porch = world.owner.camera("Porch")
    old_serial = Camera.objects.get(pk=porch).serial
    assert replace(api, porch, {"serial": "SN-NEW-PORCH"}).status_code == 201
    again = outsider_api.post("cameras", {"name": "Bought used", "serial": old_serial.lower()})
    assert again.status_code == 201, again.content
    assert (again.json()["plan"], again.json()["id"] != porch) == ("free", True)
    assert outsider_api.get(f"cameras/{again.json()['id']}/clips").json() == []


def test_it_answers_404_for_a_camera_of_another_account_or_none(world, api, owner):
    before = db_state()
    for camera in (world.outsider.camera("Shed"), "cam_nope"):
        assert_error(replace(api, camera, {"serial": "SN-MINE"}), 404, "not_found", account=owner)
    assert db_state() == before


@pytest.mark.parametrize(("body", "code"), [
    ({"serial": "  "}, "invalid_serial"),
    ({"serial": "S" * 101}, "invalid_serial"),
    ({"name": " ", "serial": "SN-NEW"}, "invalid_name"),
    ({"name": "x" * 101, "serial": "SN-NEW"}, "invalid_name"),
    ({"model": "m" * 101, "serial": "SN-NEW"}, "invalid_model"),
    ({"name": "Por\x07ch", "serial": "SN-NEW"}, "invalid_name"),
    ({"name": "Por\x00ch", "serial": "SN-NEW"}, "invalid_request"),
    ({"name": 3, "serial": "SN-NEW"}, "invalid_request"),
    ({"serial": "SN-NEW", "colour": "red"}, "invalid_request"),
    ({"name": "Porch"}, "invalid_request"),
    ([], "invalid_request"),
])
def test_it_refuses_a_bad_body_and_changes_nothing(body, code, world, api, owner):
    before = db_state()
    assert_error(replace(api, world.owner.camera("Porch"), body), 422, code, account=owner)
    assert db_state() == before


def test_it_makes_a_quote_priced_before_it_stale(world, api, owner):
    replace(api, world.owner.camera("Porch"), {"serial": "SN-NEW-PORCH"})
    before = db_state()
    assert_error(api.put("subscription", {"quote": world.owner.quote}), 409, "quote_stale", account=owner)
    assert db_state() == before


def test_it_replays_the_first_answer_for_the_same_idempotency_key(world, api):
    key = {"Idempotency-Key": "replace-porch-1"}
    first = replace(api, world.owner.camera("Porch"), {"serial": "SN-NEW-PORCH"}, headers=key)
    second = replace(api, world.owner.camera("Porch"), {"serial": "SN-NEW-PORCH"}, headers=key)
    assert (first.status_code, second.status_code, second["Idempotent-Replayed"]) == (201, 201, "true")
    assert second.json() == first.json()
    assert Camera.objects.filter(account=world.owner.account).count() == 2


def test_it_replaces_a_camera_of_an_app_store_subscription(api, owner):
    from tests.api.conftest import START, move, register

    move(api, START)
    porch, _ = register(api, "Porch")
    call_command("import_subscription", "--email", owner.email, "--channel", "app_store", "--store", "apple",
                 "--plan", "plus", "--camera", porch, "--period-end", "2027-04-01T00:00:00Z")
    assert_error(api.delete(f"cameras/{porch}"), 409, "managed_in_app_store", account=owner)
    response = replace(api, porch, {"serial": "SN-NEW-PORCH"})
    assert response.status_code == 201, response.content
    new = response.json()["id"]
    subscription = api.get("subscription").json()
    assert (subscription["channel"], subscription["cameras"]) == ("app_store", {new: "plus"})
    assert Order.objects.filter(account=owner).count() == 0


def test_it_audits_the_replacement(world, api, owner):
    porch = world.owner.camera("Porch")
    new = replace(api, porch, {"serial": "SN-NEW-PORCH"}).json()["id"]
    event = AuditEvent.objects.get(account=owner, action="camera.replaced")
    assert (event.detail["replaced"], event.detail["camera"], event.actor) == (porch, new, owner)


def test_it_documents_every_status_it_answers():
    responses = ninja_api.get_openapi_schema()["paths"][PATH]["post"]["responses"]
    assert {"201", "400", "401", "403", "404", "409", "413", "415", "422"} <= set(responses)
    assert "camera_already_registered" in responses["409"]["description"]
    assert "change_in_progress" in responses["409"]["description"]
