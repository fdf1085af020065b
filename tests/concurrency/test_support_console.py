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


def _refunded_once(owner, books, fields) -> list[str]:
    # 100 + 100 <= 399: only the form's one-time key can tell the second from a new refund.
    refunds = books.moved(owner).refunds
    return [] if refunds == [100] else [f"gateway refunds {refunds} (form fields {sorted(fields)})"]


def _credited_once(owner, books, fields) -> list[str]:
    credits = [o["amount"] for o in books.moved(owner).orders if o["kind"] == "credit" and o["status"] == "succeeded"]
    balance = owner.api.get("credit")["balance"]
    return [] if (credits, balance) == ([250], 250) else [
        f"credit orders {credits}, balance {balance} (form fields {sorted(fields)})"]


# (form, amount in cents, who may send it, the check that it moved once)
SENT_TWICE = {
    "refund": (100, "staff", _refunded_once),
    "credit": (250, "billing_admin", _credited_once),
}


@pytest.mark.parametrize("how", ["one after the other", "both at once"])
@pytest.mark.parametrize("kind", list(SENT_TWICE))
def test_it_moves_money_once_when_one_rendered_support_form_is_sent_twice(server, request, kind, how):
    amount, role, moved_once = SENT_TWICE[kind]
    who = request.getfixturevalue(role)
    rounds = Rounds(f"one rendered {kind} form of {amount} sent twice, {how}")
    for _ in range(ROUNDS):
        mark = server.agent("mark")
        owner, order_id = _paid_owner(server)
        url, fields = support_form(server, who, owner, kind)
        body = (_refund_fields(fields, order_id, amount) if kind == "refund"
                else {**fields, "amount": dollars(amount), "reason": "Concurrency test"})
        send = partial(post_form, who, url, body)
        responses = [send(), send()] if how == "one after the other" else simultaneously([send, send])
        problems = _status_problems(responses)
        books = check_books(server, mark, [owner])
        problems += books.problems + moved_once(owner, books, fields)
        rounds.check(problems)
    rounds.done()
