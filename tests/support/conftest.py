"""Console fixtures: an agent and a billing admin who passed the second factor, and an
owner with a paid plan (one plus camera, $3.99 charged to tok_visa)."""

import pytest

from camcare.billing import actions
from tests.billing.conftest import add_camera
from tests.conftest import make_account
from tests.support.otp import make_billing_admin, verified_client


@pytest.fixture
def agent(staff):
    return staff  # a staff account in no console group is an agent


@pytest.fixture
def billing_admin(db):
    return make_billing_admin(make_account("billing@camcare.example", is_staff=True))


@pytest.fixture
def agent_client(agent):
    return verified_client(agent)


@pytest.fixture
def admin_client(billing_admin):
    return verified_client(billing_admin)


@pytest.fixture
def paid_owner(owner):
    camera = add_camera(owner, "Porch")
    actions.save_payment_method(account=owner, token="tok_visa", actor=owner)
    actions.change_plan(account=owner, cameras={camera.pk: "plus"}, actor=owner)
    return owner
