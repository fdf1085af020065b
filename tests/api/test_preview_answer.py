"""POST /subscription/preview renders its answer without validating it into PreviewOut (issue
10: that validation cost about a third of the pricing). These hold the answer to exactly what
ninja's validation would have sent, byte for byte, for every shape a preview can take: charges
and credits, an account-scope line, erasures, a scheduled cycle switch and stop, a trial."""

import pytest

from camcare.api.schemas import PreviewOut
from camcare.api.v1 import api as ninja_api
from tests.billing.conftest import add_camera


def validated(response) -> bytes:
    """The bytes ninja would send for this answer's body: validated into PreviewOut, dumped,
    rendered (ninja's _result_to_response for a dict)."""
    dumped = PreviewOut.model_validate(response.json()).model_dump()
    return ninja_api.create_response(None, dumped, status=200).content


def assert_as_validated(response) -> dict:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == ninja_api.get_content_type()
    assert response.content == validated(response)
    assert list(response.json()) == list(PreviewOut.model_fields)  # every field, in order
    return response.json()


@pytest.fixture
def two(api, owner):
    porch, garden = add_camera(owner, "Porch"), add_camera(owner, "Garden")
    assert api.put("payment-method", {"token": "tok_visa"}).status_code == 200
    assert api.post("test-clock", {"now": "2027-03-01T00:00:00Z"}).status_code == 200
    return porch.pk, garden.pk


def test_it_answers_a_first_subscription_as_validated(api, two):
    porch, garden = two
    body = assert_as_validated(api.post("subscription/preview", {"cameras": {porch: "plus", garden: "premium"}}))
    assert (body["net"], body["next_bill"]) == (1698, {"at": "2027-04-01T00:00:00Z", "amount": 1698})


def test_it_answers_a_trial_as_validated(api, two):
    porch, _ = two
    body = assert_as_validated(api.post("subscription/preview", {"cameras": {porch: "plus"}, "trial": True}))
    assert body["trial_end"] == "2027-03-31T00:00:00Z"


def test_it_answers_changes_erasures_and_scheduled_changes_as_validated(api, two):
    porch, garden = two
    assert api.put("subscription", {"cameras": {porch: "premium", garden: "premium"}, "cycle": "annual"}
                   ).status_code == 200
    assert api.post("test-clock", {"now": "2027-03-11T00:00:00Z"}).status_code == 200
    down = assert_as_validated(api.post("subscription/preview", {"cameras": {porch: "plus", garden: "free"}}))
    assert {line["plan"] for line in down["lines"]} == {"plus", "premium"}
    assert sorted(e["camera"] for e in down["erasures"]) == sorted([porch, garden])
    switch = assert_as_validated(api.post("subscription/preview", {"cameras": {}, "cycle": "monthly"}))
    assert switch["scheduled_change"]["kind"] == "cycle_switch"
    assert api.post("subscription/stop", {}).status_code == 200
    stopped = assert_as_validated(api.post("subscription/preview", {"cameras": {porch: "premium"}}))
    assert stopped["next_bill"] is None
