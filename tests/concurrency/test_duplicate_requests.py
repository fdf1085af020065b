"""20 simultaneous identical cancels, or upgrades, move money once: with one shared
Idempotency-Key (POLICY.md section 10: replays and 409s), with 20 distinct keys and with
none (the subscription's claim: the first one changes it, the rest find nothing to do)."""

import json
from functools import partial

import pytest

from tests.concurrency.helpers import (
    PRICES,
    ROUNDS,
    Rounds,
    check_api_answer,
    check_books,
    epoch,
    new_key,
    new_owner,
    prorated,
    simultaneously,
    subscribe,
)

pytestmark = pytest.mark.xdist_group("concurrency")

COPIES = 20
KEY_MODES = ["one shared key", "20 distinct keys", "no key"]


def _keys(mode: str) -> list:
    if mode == "one shared key":
        return [new_key()] * COPIES
    if mode == "20 distinct keys":
        return [new_key() for _ in range(COPIES)]
    return [None] * COPIES


def _answer_problems(answers, mode: str) -> list[str]:
    problems = []
    for answer in answers:
        try:
            check_api_answer(answer)
        except AssertionError as exc:
            problems.append(f"answer {exc}")
    if mode == "one shared key":
        # The first use answers; every other one replays that answer or is told it is
        # still running: nothing else can come out of one key.
        bodies = {json.dumps(a.body, sort_keys=True) for a in answers if a.status == 200}
        if len(bodies) > 1:
            problems.append(f"{len(bodies)} different 200 answers to one key")
        others = [a for a in answers if a.status != 200 and a.code != "idempotency_key_in_use"]
        if others:
            problems.append(f"answers to one key that are neither its first answer nor in-use: {others}")
    return problems


def _run(server, change: str, mode: str) -> None:
    rounds = Rounds(f"{COPIES} identical {change}s, {mode}")
    for _ in range(ROUNDS):
        mark = server.agent("mark")
        owner = new_owner(server)
        camera = owner.cameras[0]
        paid = subscribe(owner, {camera: "plus"})["subscription"]
        start, end = epoch(paid["current_period_start"]), epoch(paid["current_period_end"])
        if change == "cancel":
            call = ("POST", "subscription/cancel", {})
        else:
            call = ("PUT", "subscription", {"cameras": {camera: "premium"}})
        answers = simultaneously(
            [partial(owner.api.request, *call, key=key) for key in _keys(mode)]
        )
        problems = _answer_problems(answers, mode)
        executed = [a for a in answers if a.status == 200 and a.body.get("orders") and not a.replayed]
        if len(executed) != 1:
            problems.append(f"{len(executed)} of the {COPIES} answers made the change: {answers}")
        books = check_books(server, mark, [owner])
        problems += books.problems
        moved = books.moved(owner)
        summary = owner.api.get("subscription")
        if executed:
            left = end - epoch(executed[0].body["at"])
            unused = prorated(PRICES["plus"], left, end - start)
            if change == "cancel":
                want = ([PRICES["plus"]], [unused], "none", "free")
            else:
                want = ([PRICES["plus"], prorated(PRICES["premium"], left, end - start) - unused], [], "active", "premium")
            got = (moved.charges, moved.refunds, summary["status"], summary["cameras"][camera])
            if got != want:
                problems.append(f"(charges, refunds, status, plan) {got}, want {want}")
        rounds.check(problems)
    rounds.done()


@pytest.mark.parametrize("mode", KEY_MODES)
def test_it_refunds_once_for_identical_simultaneous_cancels(server, mode):
    _run(server, "cancel", mode)


@pytest.mark.parametrize("mode", KEY_MODES)
def test_it_charges_once_for_identical_simultaneous_upgrades(server, mode):
    _run(server, "upgrade", mode)
