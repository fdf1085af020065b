"""Changes sent around the renewal instant T (POLICY.md sections 4 and 5).

Each round is an owner with two cameras on plus, monthly (798), whose period ends at T,
a few seconds from now. A change is sent just before T, at T, just after T, or around T
while four billing runs (`manage.py run_billing`) start; a 409 ("in progress") is retried
as a client would. Whatever the order the server runs things in, the outcome is decided
by the change's instant t (the `at` of its answer):
- t < T: the change is priced in the period that ends at T, and the renewal at T bills
  the new state (a cancel or a switch to annual leaves nothing to renew);
- t >= T: the renewal at T bills the old state, 798, and the change is priced in the
  new period.
Either way the period starting at T is billed once, and the money matches the books.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

import pytest

from camcare.domain.periods import add_months
from tests.concurrency.helpers import (
    PRICES,
    ROUNDS,
    Answer,
    Owner,
    Rounds,
    check_api_answer,
    check_books,
    epoch,
    new_owner,
    prorated,
    simultaneously,
    subscribe,
)

pytestmark = pytest.mark.xdist_group("concurrency")

PLUS, PREMIUM, PLUS_ANNUAL = PRICES["plus"], PRICES["premium"], PRICES["plus_annual"]
BOTH_PLUS = 2 * PLUS

# The racy kinds first: a downgrade or an upgrade that the renewal prices around (it reads
# the plans, then claims the subscription) is renewed at the wrong price; a cancel or a
# switch to annual moves the period itself, which a renewal's claim is likelier to see.
KINDS = ["downgrade", "upgrade", "cancel", "monthly-to-annual"]
TIMINGS = ["just-before", "at-the-instant", "just-after", "with-the-billing-run"]
# Concurrent with each other too (POLICY.md section 5): each skips what another claimed.
BILLING_RUNS = 4
LEAD = 1.5  # seconds from the last set-up to T: enough to send every change on time
RETRIES = 40


def _spread(n: int, first: float, last: float) -> list[float]:
    return [first + (last - first) * i / max(1, n - 1) for i in range(n)]


def _geometric(n: int, first: float, last: float) -> list[float]:
    """n offsets from `first` to `last` (both < 0), denser near T: how long a request takes
    to read its clock depends on the machine's load, from milliseconds to a few tenths."""
    return [first * (last / first) ** (i / max(1, n - 1)) for i in range(n)]


def _plan(timing: str) -> list[tuple[str, float, int]]:
    """(kind, offset, cohort) of each round: its change leaves the client at T + cohort +
    offset seconds, where T + cohort ends its period (T whole seconds).

    The server's clock is whole seconds, so -0.6 is priced at T-1, +0.02 at T, +1.1 at
    T+1. Beside the billing run a change must read its clock just before T and commit
    while the run renews that very subscription; a run renews one subscription after the
    other, so only the first due meet a change in flight. So there each round is a cohort
    of its own, one second apart, renewed by the billing runs at its instant; the racy
    kinds are set up first (ties in the period end tend to be renewed in the order the
    rows were made), get more rounds, and their offsets scan the last moments before T
    (in opposite orders, so that a cohort's two racy changes leave at different times)."""
    if timing != "with-the-billing-run":
        offset = {"just-before": -0.6, "at-the-instant": 0.02, "just-after": 1.1}[timing]
        return [(kind, offset, 0) for kind in KINDS for _ in range(ROUNDS)]
    racy = _geometric(2 * ROUNDS, -0.3, -0.005)
    offsets = {"downgrade": racy, "upgrade": racy[::-1], "cancel": _spread(ROUNDS, -0.1, 0.03),
               "monthly-to-annual": _spread(ROUNDS, 0.03, -0.1)}
    return [(kind, offset, cohort) for kind in KINDS for cohort, offset in enumerate(offsets[kind])]


def _call(kind: str, cameras: list[str]) -> tuple[str, str, dict]:
    first = cameras[0]
    return {
        "upgrade": ("PUT", "subscription", {"cameras": {first: "premium"}}),
        "downgrade": ("PUT", "subscription", {"cameras": {first: "free"}}),
        "cancel": ("POST", "subscription/cancel", {}),
        "monthly-to-annual": ("PUT", "subscription", {"cycle": "annual"}),
    }[kind]


@dataclass
class Expected:
    lines: list[tuple]  # (kind, plan, camera, amount), sorted
    charges: list[int]
    refunds: list[int]
    renewals: list[tuple[int, int]]  # (card, credit used) of the renewal at T
    status: str
    cycle: str | None
    period: tuple[int, int] | None
    plans: dict[str, str]
    credit: int


def expected(kind: str, t: int, start: int, end: int, next_end: int, cameras: list[str]) -> Expected:
    """What POLICY.md says, from the change's instant t (epoch seconds)."""
    a, b = cameras
    annual_period = (t, int(add_months(datetime.fromtimestamp(t, UTC), 12).timestamp()))
    before = t < end
    # The period that holds t, and the renewal at T that comes before the change or after it.
    left, whole = (end - t, end - start) if before else (next_end - t, next_end - end)
    unused = prorated(PLUS, left, whole)
    renewed_old = [] if before else [(BOTH_PLUS, 0)]
    charges = [BOTH_PLUS] + ([] if before else [BOTH_PLUS])
    period = (end, next_end)
    if kind == "upgrade":
        premium = prorated(PREMIUM, left, whole)
        net = premium - unused
        credit = max(0, -net)
        renewal = [(PREMIUM + PLUS - credit, credit)] if before else renewed_old
        return Expected(
            sorted([("credit", "plus", a, unused), ("charge", "premium", None, premium)], key=repr),
            sorted(charges + ([net] if net > 0 else []) + [card for card, _ in renewal if before and card]),
            [], renewal, "active", "monthly", period, {a: "premium", b: "plus"}, 0,
        )
    if kind == "downgrade":
        renewal = [(PLUS - unused, unused)] if before else renewed_old
        return Expected(
            [("credit", "plus", a, unused)],
            sorted(charges + [card for card, _ in renewal if before and card]),
            [], renewal, "active", "monthly", period, {a: "free", b: "plus"}, 0 if before else unused,
        )
    if kind == "cancel":
        return Expected(
            sorted([("credit", "plus", a, unused), ("credit", "plus", b, unused)], key=repr),
            charges, [2 * unused] if unused else [], renewed_old, "none", None, None, {a: "free", b: "free"}, 0,
        )
    return Expected(
        sorted([("credit", "plus", a, unused), ("credit", "plus", b, unused),
                ("charge", "plus", a, PLUS_ANNUAL), ("charge", "plus", b, PLUS_ANNUAL)], key=repr),
        sorted(charges + [2 * PLUS_ANNUAL - 2 * unused]), [], renewed_old,
        "active", "annual", annual_period, {a: "plus", b: "plus"}, 0,
    )


def _change(owner: Owner, call, at: float) -> list[Answer]:
    """Send the change at `at`, again after each 409 (another change or the renewal is in
    flight), as a client told to retry would."""
    time.sleep(max(0.0, at - time.time()))
    answers = []
    for _ in range(RETRIES):
        answers.append(owner.api.request(*call))
        if answers[-1].status != 409:
            break
        time.sleep(0.15)
    return answers


def _round_problems(books, owner: Owner, summary: dict, kind: str, answers: list[Answer], period: dict,
                    sent_at: float) -> list[str]:
    problems = []
    for answer in answers:
        try:
            check_api_answer(answer)
        except AssertionError as exc:
            problems.append(f"answer {exc}")
    final = answers[-1]
    if final.status != 200:
        return problems + [f"the change never went through: {answers}"]
    body = final.body
    t = epoch(body["at"])
    start, end, next_end = int(period["start"]), int(period["end"]), int(period["next_end"])
    want = expected(kind, t, start, end, next_end, owner.cameras)
    side = f"t=T{t - end:+d}s (sent T{sent_at - end:+.2f}s, {len(answers)} tries)"
    lines = sorted(((ln["kind"], ln["plan"], ln["camera"], ln["amount"]) for ln in body["lines"]), key=repr)
    if lines != want.lines:
        problems.append(f"{side}: priced {lines}, want {want.lines} (the period holding t)")
    moved = books.moved(owner)
    if moved.renewals != want.renewals:
        problems.append(f"{side}: renewals at T (card, credit) {moved.renewals}, want {want.renewals}")
    if (moved.charges, moved.refunds) != (want.charges, want.refunds):
        problems.append(f"{side}: gateway charges {moved.charges} refunds {moved.refunds}, "
                        f"want {want.charges} {want.refunds}")
    got_period = ((epoch(summary["current_period_start"]), epoch(summary["current_period_end"]))
                  if summary["current_period_start"] else None)
    got = (summary["status"], summary["cycle"], got_period, summary["cameras"], summary["credit_balance"])
    wanted = (want.status, want.cycle, want.period, want.plans, want.credit)
    if got != wanted:
        problems.append(f"{side}: subscription (status, cycle, period, plans, credit) {got}, want {wanted}")
    return problems


def _owner_ending_at(server) -> Owner:
    owner = new_owner(server, cameras=2)
    subscribe(owner, dict.fromkeys(owner.cameras, "plus"))
    return owner


@pytest.mark.parametrize("timing", TIMINGS)
def test_it_bills_the_renewal_once_and_prices_each_change_in_its_period(server, timing):
    """Every kind of change, several owners each, side by side (which is also what a busy
    renewal instant looks like)."""
    plan = _plan(timing)
    with_billing = timing == "with-the-billing-run"
    runs = [server.billing_run() for _ in range(BILLING_RUNS if with_billing else 0)]
    try:
        mark = server.agent("mark")
        owners = []
        for kind in KINDS:  # in this order, each kind's owners side by side
            owners += simultaneously([lambda: _owner_ending_at(server)] * sum(1 for k, _, _ in plan if k == kind))
        for run in runs:
            run.wait_ready()
        first = int(time.time() + LEAD) + 1
        ends = [first + cohort for _, _, cohort in plan]
        periods = [server.agent("end_period_at", account_id=o.id, end=end) for o, end in zip(owners, ends, strict=True)]
        shown = simultaneously([partial(o.api.get, "subscription") for o in owners])
        assert [epoch(s["current_period_end"]) for s in shown] == ends, shown
        for run in runs:
            run.at(sorted(set(ends)))
        answers = simultaneously(
            [partial(_change, o, _call(kind, o.cameras), end + offset)
             for o, end, (kind, offset, _) in zip(owners, ends, plan, strict=True)]
        )
        problems_of_runs = [problem for problem in (run.finish() for run in runs) if problem]
    finally:
        for run in runs:
            run.close()
    # The next cron run, once every T has passed: it bills what nobody billed yet, once.
    time.sleep(max(0.0, max(ends) + 0.2 - time.time()))
    server.agent("run_billing")
    books = check_books(server, mark, owners)
    summaries = simultaneously([partial(o.api.get, "subscription") for o in owners])
    rounds = {kind: Rounds(f"{kind} sent {timing} the renewal") for kind in KINDS}
    for owner, summary, sent, period, end, (kind, offset, _) in zip(
        owners, summaries, answers, periods, ends, plan, strict=True
    ):
        rounds[kind].check(_round_problems(books, owner, summary, kind, sent, period, end + offset))
    failures = [f"{r.label}: {len(r.failures)}/{r.count} rounds went wrong:\n    " + "\n    ".join(r.failures)
                for r in rounds.values() if r.failures]
    if books.problems or problems_of_runs:
        failures.append("the books: " + "; ".join(books.problems + problems_of_runs))
    assert not failures, "\n".join(failures)
