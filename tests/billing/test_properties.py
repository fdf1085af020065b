"""Hypothesis over random sequences of changes, trials, stops, renewals and times, cards,
replacements and clips (POLICY.md 4, 5, 6, 8, 9, 10, 12, 13, 14).

Each example gets its own account, cameras and card (or none) inside a savepoint that is
rolled back at its end: pytest-django's `db` does not reset between Hypothesis examples.
The walk, its model of the rules and the invariants checked after every step are in
tests/billing/walks.py.
"""

from datetime import timedelta

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.billing.walks import CAMERAS, Walk
from tests.conftest import utc

DAY = 86400


class Rollback(Exception):
    pass


plans = st.sampled_from(["free", "plus", "plus", "premium"])
paid_plans = st.sampled_from(["plus", "premium"])
vias = st.sampled_from(["action", "quote", "api"])
cameras = st.integers(0, CAMERAS - 1)
states = st.dictionaries(cameras, plans, min_size=1, max_size=CAMERAS)
cycles = st.sampled_from([None, None, "monthly", "annual"])
targets = st.tuples(st.just("target"), states, cycles, vias)
trials = st.tuples(st.just("trial"), states, cycles, vias)
first_trials = st.tuples(st.just("trial"), st.dictionaries(cameras, paid_plans, min_size=1, max_size=CAMERAS), cycles,
                         vias)
advances = st.tuples(
    st.just("advance"),
    # Seconds: within a period, across a renewal, or onto the retry days (+1, +3, +7).
    st.one_of(st.integers(1, 3 * DAY), st.integers(20 * DAY, 40 * DAY), st.sampled_from([DAY, 2 * DAY, 4 * DAY])),
)
# Onto the next instant that matters, or just around it: the bill (a period's or trial's
# end, a stop, the next retry) or a hold's end.
untils = st.tuples(st.just("until"), st.sampled_from(["bill", "bill", "hold"]),
                   st.sampled_from([-1, 0, 0, 1, DAY, 3 * DAY, 7 * DAY, 15 * DAY]))
tokens = st.sampled_from(["tok_visa", "tok_visa", "tok_chargeDeclined", "tok_insufficientFunds"])
cards = st.tuples(st.just("card"), tokens)
cancels = st.tuples(st.just("cancel"), vias)
credits = st.tuples(st.just("credit"), st.integers(1, 2000))
removals = st.tuples(st.just("remove"), cameras, st.sampled_from(["action", "api"]))
stops = st.tuples(st.just("stop"), st.sampled_from(["action", "api"]))
drops = st.tuples(st.just("drop"), st.sampled_from(["action", "api"]))
replacements = st.tuples(st.just("replace"), cameras, st.sampled_from(["action", "api"]))
clips = st.tuples(st.just("clip"), cameras, st.integers(0, 1000))  # 1000: at the cut-off itself
elsewhere = st.tuples(st.just("elsewhere"), st.integers(0, 20), paid_plans)

steps = st.one_of(
    targets, targets, targets, advances, advances, cards, cards, cancels, credits, removals,
    trials, stops, drops, replacements, clips, untils, elsewhere,
)
# Walks that start with a trial: what happens in it and at its end weigh more.
trial_steps = st.one_of(
    untils, untils, untils, targets, targets, clips, clips, advances, cards, stops, drops, replacements,
    cancels, trials, removals, credits, elsewhere,
)
# A trial, clips, what happens in it, its end (or just before it), and what follows, where
# every other step is the next bill (the retries of a declined one, up to the lapse).
trial_walks = st.tuples(
    first_trials, st.lists(clips, max_size=3), st.lists(trial_steps, max_size=5),
    st.tuples(st.just("until"), st.just("bill"), st.sampled_from([-1, 0, 0, 0, 1, 3 * DAY])),
    st.lists(st.booleans().flatmap(lambda bill: st.just(("until", "bill", 0)) if bill else trial_steps), max_size=8),
).map(lambda parts: [parts[0], *parts[1], *parts[2], parts[3], *parts[4]])


def walk_through(start_day: int, start_second: int, walk: list, card: str | None = "tok_visa") -> None:
    start = utc(2027, 1, 1) + timedelta(days=start_day, seconds=start_second)
    try:
        with transaction.atomic():
            walker = Walk(start, card)
            for step in walk:
                walker.run(step)
            raise Rollback
    except Rollback:
        pass


SETTINGS = settings(deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

PAST_DUE_STORY = [  # subscribe, the card fails at renewal, priced changes refused, a good card pays
    ("target", {0: "plus", 1: "premium", 2: "premium"}, None, "api"), ("card", "tok_chargeDeclined"),
    ("advance", 31 * DAY), ("target", {0: "premium"}, None, "quote"), ("target", {3: "premium"}, None, "api"),
    ("advance", DAY), ("card", "tok_visa"), ("advance", 5 * DAY), ("cancel", "quote"),
]
LAPSE_STORY = [  # every retry fails: back to free; then a new subscription and a removal
    ("target", {0: "plus"}, "annual", "action"), ("card", "tok_chargeDeclined"), ("advance", 366 * DAY),
    ("advance", 2 * DAY), ("advance", 6 * DAY), ("cancel", "api"), ("card", "tok_visa"),
    ("target", {0: "plus", 1: "plus"}, "monthly", "quote"), ("advance", 10 * DAY), ("remove", 1, "api"),
    ("target", {0: "premium"}, "annual", "api"), ("advance", 3 * DAY), ("cancel", "action"),
]
STOP_STORY = [  # a stop, a change under it, annual -> monthly replaces it, a stop again, carried out
    ("target", {0: "plus", 1: "premium"}, "annual", "action"), ("clip", 1, 900), ("advance", 20 * DAY),
    ("stop", "api"), ("target", {2: "plus"}, None, "quote"), ("target", {3: "free"}, "monthly", "api"),
    ("stop", "action"), ("drop", "api"), ("stop", "action"), ("clip", 0, 500), ("replace", 0, "api"),
    ("until", "bill", 0), ("stop", "api"), ("trial", {0: "plus"}, None, "api"),
]
LAPSE_HOLD_STORY = [  # clips held at the lapse, a replacement carries them, a new paid period restores some
    ("target", {0: "premium", 1: "premium"}, None, "api"), ("clip", 0, 999), ("clip", 0, 600), ("clip", 1, 100),
    ("card", "tok_insufficientFunds"), ("until", "bill", 0), ("clip", 0, 400), ("until", "bill", 0),
    ("until", "bill", 0), ("until", "bill", 0), ("replace", 0, "action"), ("advance", 2 * DAY),
    ("card", "tok_visa"), ("target", {0: "plus"}, None, "quote"), ("until", "hold", 0),
]

OWNER_ATTEMPT_STORY = [  # the owner's own attempts neither count nor move the four; then the lapse
    ("target", {0: "plus", 2: "plus"}, None, "quote"), ("clip", 2, 1000), ("card", "tok_chargeDeclined"),
    ("until", "bill", 0), ("advance", 12 * 3600), ("card", "tok_insufficientFunds"), ("until", "bill", 0),
    ("replace", 2, "api"), ("card", "tok_chargeDeclined"), ("until", "bill", 0), ("stop", "action"),
    ("until", "bill", -1), ("until", "bill", 0), ("until", "hold", 0),
]


@pytest.mark.django_db
@example(start_day=59, start_second=0, walk=PAST_DUE_STORY)
@example(start_day=30, start_second=3600, walk=LAPSE_STORY)
@example(start_day=10, start_second=7, walk=STOP_STORY)
@example(start_day=120, start_second=0, walk=LAPSE_HOLD_STORY)
@example(start_day=400, start_second=43200, walk=OWNER_ATTEMPT_STORY)
@settings(SETTINGS, max_examples=45)
@given(
    start_day=st.integers(0, 500),
    start_second=st.integers(0, 86399),
    walk=st.lists(steps, min_size=2, max_size=16),
)
def test_it_keeps_every_money_invariant_over_random_walks(start_day, start_second, walk):
    walk_through(start_day, start_second, walk)


TRIAL_UNPAID_STORY = [  # no card: the trial ends unpaid, clips held; a card later, a paid plan restores
    ("trial", {0: "plus", 1: "plus"}, None, "quote"), ("clip", 0, 0), ("advance", 10 * DAY),
    ("target", {0: "premium", 1: "premium"}, None, "api"), ("clip", 0, 700), ("clip", 1, 300),
    ("until", "bill", -1), ("until", "bill", 0), ("trial", {2: "plus"}, None, "action"), ("card", "tok_visa"),
    ("until", "hold", -1), ("target", {0: "plus"}, None, "action"), ("until", "hold", 0),
]
TRIAL_DECLINED_STORY = [  # a declining card at the trial's end: past_due, four attempts, the lapse, its hold
    ("trial", {0: "premium", 2: "premium"}, "annual", "api"), ("clip", 0, 500), ("advance", 5 * DAY),
    ("target", {1: "plus"}, "monthly", "action"), ("stop", "action"), ("drop", "api"), ("until", "bill", -1),
    ("clip", 0, 100), ("clip", 1, 999), ("until", "bill", 0), ("stop", "api"), ("until", "bill", DAY),
    ("replace", 2, "api"), ("until", "bill", 0), ("until", "bill", 0), ("until", "hold", -1), ("until", "hold", 0),
]
TRIAL_PAID_STORY = [  # the first bill at the trial's end, credit first; a cancel refunds; no second trial
    ("credit", 500), ("trial", {0: "plus", 3: "premium"}, None, "action"), ("replace", 3, "action"),
    ("target", {3: "free"}, "annual", "quote"), ("target", {}, "monthly", "api"), ("until", "bill", 0),
    ("trial", {0: "plus"}, None, "quote"), ("stop", "api"), ("target", {1: "plus"}, "annual", "quote"),
    ("cancel", "quote"), ("target", {0: "plus"}, None, "action"), ("until", "bill", 1),
]


@pytest.mark.django_db
@example(start_day=59, start_second=0, card=None, walk=TRIAL_UNPAID_STORY)
@example(start_day=1, start_second=59, card="tok_insufficientFunds", walk=TRIAL_DECLINED_STORY)
@example(start_day=400, start_second=86399, card="tok_visa", walk=TRIAL_PAID_STORY)
@settings(SETTINGS, max_examples=30)
@given(
    start_day=st.integers(0, 500),
    start_second=st.integers(0, 86399),
    card=st.sampled_from([None, None, "tok_visa", "tok_chargeDeclined", "tok_insufficientFunds"]),
    walk=trial_walks,
)
def test_trials_stops_and_replacements_keep_every_invariant(start_day, start_second, card, walk):
    walk_through(start_day, start_second, walk, card)
