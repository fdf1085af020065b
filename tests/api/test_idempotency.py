"""Idempotency-Key on every mutating call (POLICY.md section 10, API.md "Idempotency")."""

from __future__ import annotations

import json
from datetime import timedelta

from django.core.management import call_command
from django.test import Client, RequestFactory

from camcare import clock
from camcare.api.idempotency import body_fingerprint, purge_expired
from camcare.api.models import IdempotencyRecord
from camcare.billing.models import Order, PaymentMethod
from camcare.cameras.models import Camera, Clip
from tests.api.conftest import assert_error, db_state, upload
from tests.conftest import PASSWORD

CAMERA = {"name": "Attic", "model": "KC200", "serial": "SN-ATTIC-1"}


def key(value: str) -> dict:
    return {"Idempotency-Key": value}


def test_it_replays_the_first_answer_and_changes_nothing_the_second_time(api, owner):
    first = api.post("cameras", CAMERA, headers=key("k-1"))
    assert first.status_code == 201
    after_first = db_state()
    second = api.post("cameras", CAMERA, headers=key("k-1"))
    assert second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert second.content == first.content
    assert "Idempotent-Replayed" not in first
    assert db_state() == after_first
    assert Camera.objects.filter(account=owner).count() == 1


def test_it_charges_a_replayed_change_once(world, api, owner):
    garden = world.owner.camera("Garden")
    first = api.put("subscription", {"cameras": {garden: "plus"}}, headers=key("change-1"))
    second = api.put("subscription", {"cameras": {garden: "plus"}}, headers=key("change-1"))
    assert first.status_code == second.status_code == 200
    assert second["Idempotent-Replayed"] == "true"
    assert first.json()["orders"] == second.json()["orders"]
    assert Order.objects.filter(account=owner, quote__isnull=False, kind="charge").count() == 2  # world's + this one


def test_it_compares_json_bodies_as_parsed(api):
    compact = json.dumps({"name": "Attic", "model": "KC200", "serial": "SN-ATTIC-1"}, separators=(",", ":"))
    spaced = '{\n  "serial" : "SN-ATTIC-1",\n  "model": "KC200",   "name": "Attic"\n}'
    first = api.post("cameras", data=compact, content_type="application/json", headers=key("k-json"))
    second = api.post("cameras", data=spaced, content_type="application/json", headers=key("k-json"))
    assert second["Idempotent-Replayed"] == "true"
    assert second.content == first.content


def test_it_refuses_the_same_key_for_another_body(api, owner):
    api.post("cameras", CAMERA, headers=key("k-2"))
    before = db_state()
    response = api.post("cameras", {**CAMERA, "serial": "SN-OTHER"}, headers=key("k-2"))
    assert_error(response, 422, "idempotency_key_reused", account=owner)
    assert db_state() == before


def test_it_refuses_the_same_key_for_another_path(api, owner):
    api.post("cameras", CAMERA, headers=key("k-3"))
    before = db_state()
    response = api.put("payment-method", {"token": "tok_visa"}, headers=key("k-3"))
    assert_error(response, 422, "idempotency_key_reused", account=owner)
    assert db_state() == before
    assert not PaymentMethod.objects.exists()


def test_it_refuses_the_same_key_for_another_method(api, owner, world):
    garden = world.owner.camera("Garden")
    api.put("subscription", {"cameras": {garden: "plus"}}, headers=key("k-4"))
    before = db_state()
    response = api.delete("subscription", {"cameras": {garden: "plus"}}, headers=key("k-4"))
    assert_error(response, 422, "idempotency_key_reused", account=owner)
    assert db_state() == before


def _running(caller: str, key_value: str, method: str, path: str, body: dict) -> IdempotencyRecord:
    """A first use of the key still running: what another worker holds mid-request."""
    request = RequestFactory().generic(method, path, json.dumps(body), content_type="application/json")
    return IdempotencyRecord.objects.create(
        caller=caller, key=key_value, method=method, path=path, body_hash=body_fingerprint(request),
        created_at=clock.real_now(), completed=False,
    )


def test_it_refuses_a_key_whose_first_use_is_still_running(api, owner):
    _running(f"account:{owner.pk}", "k-5", "POST", "/api/v1/cameras", CAMERA)
    before = db_state()
    response = api.post("cameras", CAMERA, headers=key("k-5"))
    assert_error(response, 409, "idempotency_key_in_use", account=owner)
    assert db_state() == before
    assert not Camera.objects.exists()


def test_it_keeps_the_keys_of_different_callers_apart(api, outsider_api, owner, outsider):
    mine = api.post("cameras", CAMERA, headers=key("shared"))
    theirs = outsider_api.post("cameras", {**CAMERA, "serial": "SN-THEIRS"}, headers=key("shared"))
    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs
    assert Camera.objects.filter(account=owner).count() == Camera.objects.filter(account=outsider).count() == 1


def test_it_keeps_a_cameras_keys_apart_from_its_owners(world, api, owner):
    token = world.owner.device_tokens[world.owner.camera("Porch")]
    uploaded = upload(Client(), token, headers=key("same"))
    registered = api.post("cameras", CAMERA, headers=key("same"))
    assert uploaded.status_code == registered.status_code == 201
    assert "Idempotent-Replayed" not in registered


def test_it_replays_a_clip_upload_once_stored(world):
    token = world.owner.device_tokens[world.owner.camera("Porch")]
    first = upload(Client(), token, headers=key("clip-1"))
    second = upload(Client(), token, headers=key("clip-1"))
    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert Clip.objects.filter(camera_id=world.owner.camera("Porch")).count() == 2  # world's + this one
    other = upload(Client(), token, headers=key("clip-1"), recorded_at="2027-02-28T22:00:00Z")
    assert_error(other, 422, "idempotency_key_reused", account=world.owner.account)


def test_it_keeps_a_refusal_and_replays_it(world, api, owner):
    garden = world.owner.camera("Garden")
    first = api.put("subscription", {"cameras": {garden: "gold"}}, headers=key("k-6"))
    assert_error(first, 422, "unknown_plan", account=owner)
    second = api.put("subscription", {"cameras": {garden: "gold"}}, headers=key("k-6"))
    assert second["Idempotent-Replayed"] == "true"
    assert second.content == first.content


def test_it_does_not_keep_a_401(world, api, owner):
    """An owner's bearer token is no camera's credential: 401, and the key stays free."""
    refused = upload(Client(), None, headers={"Authorization": api.headers["Authorization"], **key("k-7")})
    assert refused.status_code == 401
    assert not IdempotencyRecord.objects.filter(key="k-7").exists()
    assert api.post("cameras", CAMERA, headers=key("k-7")).status_code == 201


def test_it_does_not_keep_a_5xx_and_runs_the_retry(api, owner, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("gateway exploded")

    monkeypatch.setattr("camcare.billing.actions.save_payment_method", broken)
    failed = api.put("payment-method", {"token": "tok_visa"}, headers=key("k-8"))
    assert_error(failed, 500, "internal_error", account=owner)
    assert not IdempotencyRecord.objects.filter(key="k-8").exists()
    monkeypatch.undo()
    retried = api.put("payment-method", {"token": "tok_visa"}, headers=key("k-8"))
    assert retried.status_code == 200
    assert "Idempotent-Replayed" not in retried
    assert PaymentMethod.objects.filter(account=owner).count() == 1


def test_it_does_not_keep_a_session_call_refused_for_its_csrf_token(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    refused = client.put("/api/v1/payment-method", data={"token": "tok_visa"}, content_type="application/json",
                         headers=key("k-9"))
    assert_error(refused, 403, "csrf_failed", account=owner)
    client.cookies["csrftoken"] = "b" * 32
    done = client.put("/api/v1/payment-method", data={"token": "tok_visa"}, content_type="application/json",
                      headers={**key("k-9"), "X-CSRFToken": "b" * 32})
    assert done.status_code == 200 and "Idempotent-Replayed" not in done


def test_it_purges_records_older_than_a_day_and_frees_their_keys(api, owner, capsys):
    api.post("cameras", CAMERA, headers=key("old"))
    api.post("cameras", {**CAMERA, "serial": "SN-NEW"}, headers=key("new"))
    now = clock.real_now()
    IdempotencyRecord.objects.filter(key="old").update(created_at=now - timedelta(hours=24, seconds=1))
    IdempotencyRecord.objects.filter(key="new").update(created_at=now - timedelta(hours=23, minutes=59))
    call_command("purge_idempotency")
    assert "purged 1 " in capsys.readouterr().out
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
    again = api.post("cameras", {**CAMERA, "serial": "SN-AGAIN"}, headers=key("old"))
    assert again.status_code == 201 and "Idempotent-Replayed" not in again
    assert purge_expired() == 0


def test_it_frees_an_expired_key_even_before_the_purge_runs(api, owner):
    api.post("cameras", CAMERA, headers=key("stale"))
    IdempotencyRecord.objects.update(created_at=clock.real_now() - timedelta(hours=25))
    response = api.post("cameras", {**CAMERA, "serial": "SN-LATER"}, headers=key("stale"))
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert Camera.objects.filter(account=owner).count() == 2


def test_it_refuses_an_empty_or_overlong_key(api, owner):
    assert_error(api.post("cameras", CAMERA, headers=key(" ")), 422, "invalid_idempotency_key", account=owner)
    assert_error(api.post("cameras", CAMERA, headers=key("k" * 256)), 422, "invalid_idempotency_key", account=owner)
    assert not Camera.objects.exists()


def test_it_does_not_apply_keys_to_sign_up(anon_api):
    body = {"email": "new@example.com", "password": PASSWORD}
    assert anon_api.post("accounts", body, headers=key("signup")).status_code == 201
    assert_error(anon_api.post("accounts", body, headers=key("signup")), 409, "email_taken")
    assert not IdempotencyRecord.objects.exists()


def test_it_ignores_keys_on_reads(api):
    first = api.get("subscription", headers=key("read"))
    assert first.status_code == 200 and "Idempotent-Replayed" not in api.get("subscription", headers=key("read"))
    assert not IdempotencyRecord.objects.exists()
