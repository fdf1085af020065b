"""What pricing reads and answers (POLICY.md sections 2 and 4): the desired state, its priced
lines, the snapshot of a subscription, the outcome of a change, and the arithmetic of
proration. `pricing` decides the cases on top of this; it re-exports every name here.

The line and outcome types are NamedTuples, not dataclasses: every preview builds a dozen
of them, and a frozen dataclass sets each field through object.__setattr__ (about 0.7 µs for
three fields, 5 µs for an Outcome) where a tuple is made in C. They stay immutable, and a
LineKey is itself the tuple (plan, camera or None, cycle): equal to, hashed like and ordered
like that plain tuple, so pricing compares keys without converting them. The hot path makes
them with `_new(Class, (fields in order))`, tuple.__new__, which skips the Python-level
__new__ of a NamedTuple (half the cost again).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from fractions import Fraction
from typing import Any, NamedTuple

from camcare.domain.catalog import FREE, Catalog
from camcare.domain.money import round_half_up_ratio
from camcare.domain.periods import Cycle, Period

# tuple.__new__(Class, values): a NamedTuple instance made in C, `values` in field order.
_new: Any = tuple.__new__


class ChangeRefused(Exception):
    """A change the rules do not allow; `code` is the API error code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class PlanState(NamedTuple):
    """The desired state of an account: a cycle and a plan code for each camera."""

    cycle: Cycle
    cameras: Mapping[str, str]  # camera id -> plan code

    def with_cycle(self, cycle: Cycle) -> PlanState:
        return _new(PlanState, (cycle, self.cameras))  # type: ignore[no-any-return]


class LineKey(NamedTuple):
    """What identifies a priced line: its plan, its camera (None for account scope), its cycle.
    Ordered by plan, then camera, then cycle (the order of an outcome's lines)."""

    plan: str
    camera: str | None
    cycle: Cycle


def validate_state(state: PlanState, catalog: Catalog) -> None:
    """Refuses a state with an unknown plan (the first in camera order), or with more cameras
    on an account-scope plan than it covers (the first such plan in camera order)."""
    codes = list(state.cameras.values())
    if not catalog.codes.issuperset(codes):
        code = next(code for code in codes if code not in catalog)
        raise ChangeRefused("unknown_plan", f"There is no plan {code!r}.")
    for code, limit in catalog.camera_limits.items():  # a plan or two: count in C, name on refusal
        if codes.count(code) > limit:
            _refuse_over_limit(codes, catalog)


def _refuse_over_limit(codes: list[str], catalog: Catalog) -> None:
    over = [code for code, limit in catalog.camera_limits.items() if codes.count(code) > limit]
    code = min(over, key=codes.index)
    plan = catalog[code]
    # API.md names the refusal after Premium, the catalog's account-scope plan.
    raise ChangeRefused(
        "too_many_premium_cameras",
        f"{plan.name} covers at most {plan.max_cameras} cameras; {codes.count(code)} chosen. "
        "Put the others on another plan.",
    )


def line_prices(cameras: Mapping[str, str], cycle: Cycle, catalog: Catalog) -> dict[LineKey, int]:
    """The priced lines of cameras on `cycle`, in camera order, with their price per period
    in minor units. An unknown plan raises KeyError (validate_state refuses it first)."""
    paid, codes = catalog.paid_lines(cycle), catalog.codes
    lines: dict[LineKey, int] = {}
    for camera in sorted(cameras):  # strings sort faster than (camera, plan) items
        code = cameras[camera]
        line = paid.get(code)
        if line is None:
            if code not in codes:
                raise KeyError(code)
            continue
        price, per_camera = line
        if per_camera:
            lines[_new(LineKey, (code, camera, cycle))] = price
        else:
            # Set again for each camera of the plan: it keeps the place of the first (a dict
            # keeps a key's first insertion).
            key = _ACCOUNT_KEYS.get((code, cycle)) or _account_key(code, cycle)
            lines[key] = price
    return lines


# The LineKey of each account-scope line, one per (plan, cycle) ever priced: a few entries,
# and far cheaper to find than to make for each camera on the plan.
_ACCOUNT_KEYS: dict[tuple[str, Cycle], LineKey] = {}


def _account_key(code: str, cycle: Cycle) -> LineKey:
    key = _ACCOUNT_KEYS[code, cycle] = LineKey(code, None, cycle)
    return key


def lines_of(state: PlanState, catalog: Catalog) -> dict[LineKey, int]:
    """The priced lines of a state with their catalog price per period, in minor units."""
    return line_prices(state.cameras, state.cycle, catalog)


def state_price(state: PlanState, catalog: Catalog) -> int:
    return sum(line_prices(state.cameras, state.cycle, catalog).values())


def can_refund(target_cameras: Mapping[str, str], catalog: Catalog) -> bool:
    """Whether moving to the target may refund a card: only a cancel does (POLICY.md section
    4), a target with no paid line. Pricing any other target never reads the snapshot's card
    payments, so a caller may leave them out of it."""
    paid = catalog.paid_lines(Cycle.MONTHLY)  # the paid plans, the same on every cycle
    return not any(code in paid for code in target_cameras.values())


def history_days(state: PlanState, catalog: Catalog, camera: str) -> int:
    return catalog.history_days[state.cameras.get(camera, FREE)]


class HeldLine(NamedTuple):
    """A line the subscription holds in its current period."""

    key: LineKey
    unit_price: int  # minor units per period; the price the line was billed at
    paid: int  # minor units this line paid for the current period (0 while unpaid)
    credited: int = 0  # minor units already credited against `paid`

    @property
    def creditable(self) -> int:
        return self.paid - self.credited


@dataclass(frozen=True, slots=True)
class CardPayment:
    """A card charge of the current period and what of it can still be refunded."""

    order_id: str
    refundable: int  # minor units: charged minus refunded, >= 0


class Status(StrEnum):
    NONE = "none"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    # The free trial (POLICY.md section 12): the period is the trial's, its lines unpaid
    # (paid == 0, nothing to credit), the anchor its end, where the first bill falls.
    TRIALING = "trialing"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the rules need to know of an account at the instant of a change."""

    state: PlanState
    status: Status
    anchor: datetime | None
    period: Period | None
    lines: tuple[HeldLine, ...]
    credit_balance: int  # minor units camcare owes the customer, >= 0
    card_payments: tuple[CardPayment, ...]  # of the current period, newest first
    scheduled_cycle: Cycle | None = None
    scheduled_stop: bool = False  # every camera to free at the period end (POLICY.md section 13)


class Case(StrEnum):
    NOTHING = "nothing"
    SUBSCRIBE = "subscribe"
    CANCEL = "cancel"
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"
    TO_ANNUAL = "to_annual"
    SCHEDULE_ONLY = "schedule_only"
    STOP = "stop"  # renewal turned off: every camera to free at the period end
    TRIAL = "trial"  # a free trial starts (POLICY.md section 12): nothing charged


class LineKind(StrEnum):
    CHARGE = "charge"  # an added line's cost
    CREDIT = "credit"  # a removed line's unused share


class PricedLine(NamedTuple):
    kind: LineKind
    key: LineKey
    amount: int  # minor units, >= 0; the kind gives the sign


class Shrink(NamedTuple):
    camera: str
    old_days: int
    new_days: int
    cutoff: datetime  # clips recorded before this instant are erased


class Outcome(NamedTuple):
    """The priced result of moving a snapshot to a target state at instant `at`.

    Invariant: net == charge_now + credit_used - credit_added - refund.
    pricing._outcome builds it positionally: a new field goes last, with a default, and
    there too.
    """

    case: Case
    at: datetime
    currency: str
    lines: tuple[PricedLine, ...]
    net: int
    charge_now: int  # to the card now
    credit_used: int  # from the credit balance
    credit_added: int  # to the credit balance
    refund: int  # back to the card, the sum of `refunds`
    refunds: tuple[tuple[str, int], ...]  # (charge order id, amount), newest charge first
    state: PlanState  # in effect right after the change
    anchor: datetime | None
    period: Period | None  # the period right after the change; None with no paid line
    new_lines: tuple[HeldLine, ...]  # the lines held right after the change
    scheduled_cycle: Cycle | None
    next_bill: tuple[datetime, int] | None  # (when, card amount at that time)
    shrinks: tuple[Shrink, ...] = ()
    voids_unpaid_period: bool = False
    # A camera changes plan without any priced line changing (a camera joining or leaving
    # a premium line that stays): no money, but the change must still be applied.
    moves_cameras: bool = False
    # The stop at the period end is (still) scheduled after the change (POLICY.md section
    # 13): then there is no next bill, and `shrinks` of a Case.STOP are the stop's own.
    scheduled_stop: bool = False
    # The trial's end while the state after the change is in a free trial (then `period` is
    # the trial and `next_bill` its first bill), else None.
    trial_end: datetime | None = None

    @property
    def changes_anything(self) -> bool:
        return self.case is not Case.NOTHING or bool(self.shrinks) or self.moves_cameras


def seconds_left(period: Period, t: datetime) -> tuple[int, int]:
    """(e - t, e - s) in whole seconds: the unused share of the period at `t` as numerator
    and denominator (not in lowest terms; prorated() does not need them reduced)."""
    start, end = period.start, period.end
    if not start <= t < end:  # Period.contains
        raise ValueError("the change instant is outside the current period")
    return int((end - t).total_seconds()), int((end - start).total_seconds())


def fraction_left(period: Period, t: datetime) -> Fraction:
    """(e - t) / (e - s) in whole seconds: the unused share of the period at `t`."""
    left, whole = seconds_left(period, t)
    return Fraction(left, whole)


def prorated(price: int, left: int, whole: int) -> int:
    """round(price x left / whole), halves up, exactly (POLICY.md section 4): a line's share
    of its price for `left` of the period's `whole` seconds, in minor units."""
    return round_half_up_ratio(price * left, whole)


def renewal_bill(price: int, credit_balance: int) -> tuple[int, int]:
    """(credit used, card part) of a bill of `price`: the credit balance goes first."""
    credit_used = min(price, credit_balance)
    return credit_used, price - credit_used
