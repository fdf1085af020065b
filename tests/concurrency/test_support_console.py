"""The support console under double submission (POLICY.md sections 7 and 10): staff signed
in with a session and CSRF and past the TOTP step, as in a browser, typing amounts in
dollars. Simultaneous refunds never refund more than the charge took, and one rendered
form acts once however often it is sent."""

import re
from functools import partial

import pytest

from tests.concurrency.helpers import (
    FORM_STATUSES,
    PRICES,
    ROUNDS,
    Rounds,
    check_books,
    new_owner,
    post_form,
    simultaneously,
    staff_session,
    subscribe,
    support_form,
)

pytestmark = pytest.mark.xdist_group("concurrency")

TABS = 5
REFERENCE = re.compile(r"ERR-[0-9A-HJKMNP-TV-Z]{10}")


@pytest.fixture(scope="module")
def staff(server):
    """An agent: refunds up to $50.00, which every refund here is under."""
    return staff_session(server)


@pytest.fixture(scope="module")
def billing_admin(server):
    """Only a billing admin may issue a credit."""
    return staff_session(server, billing_admin=True)


def _paid_owner(server):
    """An owner whose camera is on plus: one charge of 399 to refund."""
    owner = new_owner(server)
    paid = subscribe(owner, {owner.cameras[0]: "plus"})
    (charge,) = [o for o in paid["orders"] if o["kind"] == "charge"]
    assert charge["amount"] == PRICES["plus"], charge
    return owner, charge["order_id"]


def _status_problems(responses) -> list[str]:
    """Statuses a form may answer; a 500 is named by the reference its error page shows."""
    return [f"answered {r.status_code} {' '.join(sorted(set(REFERENCE.findall(r.text))))}".rstrip()
            for r in responses if r.status_code not in FORM_STATUSES]


def dollars(cents: int) -> str:
    """As staff type an amount in the console: 300 cents is "3.00"."""
    return f"{cents // 100}.{cents % 100:02d}"


def _refund_fields(fields: dict, order_id: str, amount: int) -> dict:
    return {**fields, "order_id": order_id, "amount": dollars(amount), "reason": "Concurrency test"}


def test_it_never_refunds_more_than_the_charge_for_simultaneous_staff_refunds(server, staff):
    rounds = Rounds(f"{TABS} simultaneous staff refunds of 300 on a 399 charge")
    for _ in range(ROUNDS):
        mark = server.agent("mark")
        owner, order_id = _paid_owner(server)
        # Five tabs, each with the form as it rendered there.
        tabs = [support_form(server, staff, owner, "refund") for _ in range(TABS)]
        responses = simultaneously(
            [partial(post_form, staff, url, _refund_fields(fields, order_id, 300)) for url, fields in tabs]
        )
        problems = _status_problems(responses)
        books = check_books(server, mark, [owner])
        problems += books.problems
        refunds = books.moved(owner).refunds
        # 300 + 300 > 399: whatever the order, exactly one of them can be paid.
        if refunds != [300]:
            problems.append(f"gateway refunds {refunds} of the 399 charge (statuses {[r.status_code for r in responses]})")
        rounds.check(problems)
    rounds.done()


@pytest.mark.parametrize("how", ["one after the other", "both at once"])
def test_it_refunds_once_when_one_rendered_support_form_is_sent_twice(server, staff, how):
    rounds = Rounds(f"one rendered refund form of 100 sent twice, {how}")
    for _ in range(ROUNDS):
        mark = server.agent("mark")
        owner, order_id = _paid_owner(server)
        url, fields = support_form(server, staff, owner, "refund")
        send = partial(post_form, staff, url, _refund_fields(fields, order_id, 100))
        responses = [send(), send()] if how == "one after the other" else simultaneously([send, send])
        problems = _status_problems(responses)
        books = check_books(server, mark, [owner])
        problems += books.problems
        # 100 + 100 <= 399: only the form's one-time key can tell the second from a new refund.
        refunds = books.moved(owner).refunds
        if refunds != [100]:
            problems.append(f"gateway refunds {refunds} (form fields {sorted(fields)})")
        rounds.check(problems)
    rounds.done()


@pytest.mark.parametrize("how", ["one after the other", "both at once"])
def test_it_credits_once_when_one_rendered_support_form_is_sent_twice(server, billing_admin, how):
    rounds = Rounds(f"one rendered credit form of 250 sent twice, {how}")
    for _ in range(ROUNDS):
        mark = server.agent("mark")
        owner, _ = _paid_owner(server)
        url, fields = support_form(server, billing_admin, owner, "credit")
        send = partial(post_form, billing_admin, url, {**fields, "amount": dollars(250), "reason": "Concurrency test"})
        responses = [send(), send()] if how == "one after the other" else simultaneously([send, send])
        problems = _status_problems(responses)
        books = check_books(server, mark, [owner])
        problems += books.problems
        credits = [o["amount"] for o in books.moved(owner).orders if o["kind"] == "credit" and o["status"] == "succeeded"]
        balance = owner.api.get("credit")["balance"]
        if (credits, balance) != ([250], 250):
            problems.append(f"credit orders {credits}, balance {balance} (form fields {sorted(fields)})")
        rounds.check(problems)
    rounds.done()
