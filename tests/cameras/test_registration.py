"""Camera registration (API and portal) and the camera list."""

from camcare.api.base import hash_token
from camcare.cameras.models import Camera
from tests.conftest import PASSWORD


def test_it_registers_a_camera_and_shows_its_device_token_once(api, owner):
    response = api.post("cameras", {"name": " Porch ", "model": "KC200", "serial": "  sn-0001 "})
    assert response.status_code == 201, response.content
    body = response.json()
    camera = Camera.objects.get(id=body["id"])
    assert body == {
        "id": camera.id, "name": "Porch", "model": "KC200", "serial": "SN-0001", "plan": "free",
        "history_days": 2, "device_token": body["device_token"],
    }
    assert camera.account == owner
    assert camera.device_token_hash == hash_token(body["device_token"])
    assert body["device_token"] not in str(Camera.objects.filter(id=camera.id).values().get())
    assert "device_token" not in api.get("cameras").json()[0]


def test_it_refuses_a_serial_registered_to_any_account(api, outsider_api):
    assert api.post("cameras", {"name": "Porch", "serial": "SN-0001"}).status_code == 201
    response = outsider_api.post("cameras", {"name": "Mine now", "serial": " sn-0001"})
    assert response.status_code == 409
    assert response.json()["code"] == "camera_already_registered"
    assert response.json()["reference"].startswith("ERR-")
    assert Camera.objects.count() == 1


def test_it_refuses_empty_and_overlong_fields(api):
    for body, code in [
        ({"name": "  ", "serial": "SN-1"}, "invalid_name"),
        ({"name": "Porch", "serial": " "}, "invalid_serial"),
        ({"name": "x" * 101, "serial": "SN-1"}, "invalid_name"),
        ({"name": "Porch", "model": "m" * 101, "serial": "SN-1"}, "invalid_model"),
        ({"name": "Porch", "serial": "S" * 101}, "invalid_serial"),
        ({"name": "Por\x07ch", "serial": "SN-1"}, "invalid_name"),
        ({"name": "Por\x00ch", "serial": "SN-1"}, "invalid_request"),
        ({"name": "Porch", "serial": "SN-1", "colour": "red"}, "invalid_request"),
    ]:
        response = api.post("cameras", body)
        assert (response.status_code, response.json()["code"]) == (422, code), body
    response = api.post("cameras", {"name": "Porch"})
    assert (response.status_code, response.json()["code"]) == (422, "invalid_request")
    assert Camera.objects.count() == 0


def test_it_lists_only_the_callers_cameras(api, outsider_api):
    api.post("cameras", {"name": "Porch", "serial": "SN-1"})
    outsider_api.post("cameras", {"name": "Theirs", "serial": "SN-2"})
    assert [c["name"] for c in api.get("cameras").json()] == ["Porch"]
    assert [c["name"] for c in outsider_api.get("cameras").json()] == ["Theirs"]


def test_it_asks_an_anonymous_caller_to_sign_in(anon_api):
    assert anon_api.get("cameras").status_code == 401
    assert anon_api.post("cameras", {"name": "Porch", "serial": "SN-1"}).status_code == 401
    assert Camera.objects.count() == 0


def test_it_registers_a_camera_from_the_portal(client, owner):
    client.login(email=owner.email, password=PASSWORD)
    page = client.get("/cameras/new/")
    assert page.status_code == 200
    response = client.post("/cameras/new/", {"name": "Porch", "model": "KC200", "serial": "sn-77"})
    assert response.status_code == 200
    camera = Camera.objects.get(account=owner)
    assert camera.serial == "SN-77"
    token = response.context["device_token"]
    assert camera.device_token_hash == hash_token(token)
    assert token in response.content.decode()
    assert response["Cache-Control"] == "no-store"


def test_it_shows_the_portal_form_again_for_a_taken_serial(client, owner, outsider):
    Camera.objects.create(account=outsider, name="Theirs", serial="SN-77", device_token_hash="h" * 64)
    client.login(email=owner.email, password=PASSWORD)
    response = client.post("/cameras/new/", {"name": "Porch", "serial": " sn-77 "})
    assert response.status_code == 422
    assert "already registered" in response.content.decode()
    assert not Camera.objects.filter(account=owner).exists()


def test_it_sends_an_anonymous_visitor_of_the_register_page_to_sign_in(client, db):
    response = client.get("/cameras/new/")
    assert response.status_code == 302
    assert "next=/cameras/new/" in response["Location"]
