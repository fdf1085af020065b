"""K simultaneous first subscriptions of one camera charge it once (ARCHITECTURE.md: "a
subscription row exists before its first change is priced, so two first subscriptions
race on one version like any other change")."""

from functools import partial

import pytest

from tests.concurrency.helpers import (
    PRICES,
    ROUNDS,
    Rounds,
    check_api_answer,
    check_books,
    new_owner,
    simultaneously,
)

pytestmark = pytest.mark.xdist_group("concurrency")


@pytest.mark.parametrize("k", [2, 4, 8, 16])
def test_it_charges_once_for_simultaneous_first_subscriptions(server, k):
    rounds = Rounds(f"K={k} first subscriptions, no Idempotency-Key")
    for _ in range(2 * ROUNDS):  # cheap rounds, and the race shows in some only
        mark = server.agent("mark")
        owner = new_owner(server, cameras=1)
        camera = owner.cameras[0]
        answers = simultaneously(
            [partial(owner.api.request, "PUT", "subscription", {"cycle": "monthly", "cameras": {camera: "plus"}})] * k
        )
        problems = []
        for answer in answers:
            try:
                check_api_answer(answer)
            except AssertionError as exc:
                problems.append(f"answer {exc}")
        books = check_books(server, mark, [owner])
        problems += books.problems
        charges = books.moved(owner).charges
        if charges != [PRICES["plus"]]:
            problems.append(f"{len(charges)} charges {charges} (answers {answers})")
        summary = owner.api.get("subscription")
        if (summary["status"], summary["cameras"]) != ("active", {camera: "plus"}):
            problems.append(f"subscription {summary['status']} {summary['cameras']}")
        rounds.check(problems)
    rounds.done()
