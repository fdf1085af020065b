"""Pricing of a desired state and of a change to it (POLICY.md sections 2 and 4).

Everything the web and the API say about money comes from `price_change`: the
preview runs it, the change executes exactly what it returned, and the tests
pin it to the worked examples of POLICY.md section 11.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from fractions import Fraction

from camcare.domain.catalog import FREE, Catalog
from camcare.domain.money import round_half_up
from camcare.domain.periods import Cycle, Period, add_months, window_start


class ChangeRefused(Exception):
    """A change the rules do not allow; `code` is the API error code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class PlanState:
    """The desired state of an account: a cycle and a plan code for each camera."""

    cycle: Cycle
    cameras: Mapping[str, str]  # camera id -> plan code

    def with_cycle(self, cycle: Cycle) -> PlanState:
        return replace(self, cycle=cycle)


@dataclass(frozen=True, slots=True, order=True)
class LineKey:
    """What identifies a priced line: its plan, its camera (None for account scope), its cycle."""

    plan: str
    camera: str | None
    cycle: Cycle


def validate_state(state: PlanState, catalog: Catalog) -> None:
    counts: dict[str, int] = {}
    for _camera, code in state.cameras.items():
        if code not in catalog:
            raise ChangeRefused("unknown_plan", f"There is no plan {code!r}.")
        counts[code] = counts.get(code, 0) + 1
    for code, count in counts.items():
        plan = catalog[code]
        if plan.scope == "account" and plan.max_cameras is not None and count > plan.max_cameras:
            # API.md names the refusal after Premium, the catalog's account-scope plan.
            raise ChangeRefused(
                "too_many_premium_cameras",
                f"{plan.name} covers at most {plan.max_cameras} cameras; {count} chosen. "
                "Put the others on another plan.",
            )


def lines_of(state: PlanState, catalog: Catalog) -> dict[LineKey, int]:
    """The priced lines of a state with their catalog price per period, in minor units."""
    lines: dict[LineKey, int] = {}
    for camera, code in sorted(state.cameras.items()):
        plan = catalog[code]
        if not plan.is_paid:
            continue
        key = LineKey(code, camera if plan.scope == "camera" else None, state.cycle)
        lines[key] = plan.price(state.cycle)
    return lines


def state_price(state: PlanState, catalog: Catalog) -> int:
    return sum(lines_of(state, catalog).values())


def history_days(state: PlanState, catalog: Catalog, camera: str) -> int:
    return catalog[state.cameras.get(camera, FREE)].history_days


@dataclass(frozen=True, slots=True)
class HeldLine:
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


class Case(StrEnum):
    NOTHING = "nothing"
    SUBSCRIBE = "subscribe"
    CANCEL = "cancel"
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"
    TO_ANNUAL = "to_annual"
    SCHEDULE_ONLY = "schedule_only"


class LineKind(StrEnum):
    CHARGE = "charge"  # an added line's cost
    CREDIT = "credit"  # a removed line's unused share


@dataclass(frozen=True, slots=True)
class PricedLine:
    kind: LineKind
    key: LineKey
    amount: int  # minor units, >= 0; the kind gives the sign


@dataclass(frozen=True, slots=True)
class Shrink:
    camera: str
    old_days: int
    new_days: int
    cutoff: datetime  # clips recorded before this instant are erased


@dataclass(frozen=True, slots=True)
class Outcome:
    """The priced result of moving a snapshot to a target state at instant `at`.

    Invariant: net == charge_now + credit_used - credit_added - refund.
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
    shrinks: tuple[Shrink, ...] = field(default=())
    voids_unpaid_period: bool = False
    # A camera changes plan without any priced line changing (a camera joining or leaving
    # a premium line that stays): no money, but the change must still be applied.
    moves_cameras: bool = False

    @property
    def changes_anything(self) -> bool:
        return self.case is not Case.NOTHING or bool(self.shrinks) or self.moves_cameras


def fraction_left(period: Period, t: datetime) -> Fraction:
    """(e - t) / (e - s) in whole seconds: the unused share of the period at `t`."""
    if not period.contains(t):
        raise ValueError("the change instant is outside the current period")
    return Fraction(int((period.end - t).total_seconds()), period.seconds)


def prorated(price: int, fraction: Fraction) -> int:
    return round_half_up(price * fraction)


def _shrinks(old: PlanState, new: PlanState, catalog: Catalog, at: datetime) -> tuple[Shrink, ...]:
    shrinks = []
    for camera in sorted(new.cameras):
        old_days = history_days(old, catalog, camera)
        new_days = history_days(new, catalog, camera)
        if new_days < old_days:
            shrinks.append(Shrink(camera, old_days, new_days, window_start(at, new_days)))
    return tuple(shrinks)


def _allocate_refund(total: int, payments: tuple[CardPayment, ...]) -> tuple[tuple[str, int], ...]:
    """Pay `total` back to the card, newest payment first, each capped at its refundable part."""
    refunds = []
    left = total
    for payment in payments:
        if left <= 0:
            break
        amount = min(left, payment.refundable)
        if amount > 0:
            refunds.append((payment.order_id, amount))
            left -= amount
    return tuple(refunds)


def _renewal_price(state: PlanState, scheduled_cycle: Cycle | None, catalog: Catalog) -> int:
    return state_price(state.with_cycle(scheduled_cycle or state.cycle), catalog)


def renewal_bill(price: int, credit_balance: int) -> tuple[int, int]:
    """(credit used, card part) of a bill of `price`: the credit balance goes first."""
    credit_used = min(price, credit_balance)
    return credit_used, price - credit_used


def price_change(
    snapshot: Snapshot,
    target_cameras: Mapping[str, str],
    requested_cycle: Cycle | None,
    at: datetime,
    catalog: Catalog,
) -> Outcome:
    """Price the move of `snapshot` to the target at instant `at` (POLICY.md section 4).

    `target_cameras` names every camera of the account; `requested_cycle` None keeps the
    current cycle (and any scheduled switch). Raises ChangeRefused for what the rules forbid.
    """
    outcome = _price_change(snapshot, target_cameras, requested_cycle, at, catalog)
    return replace(outcome, moves_cameras=dict(outcome.state.cameras) != dict(snapshot.state.cameras))


def _price_change(
    snapshot: Snapshot,
    target_cameras: Mapping[str, str],
    requested_cycle: Cycle | None,
    at: datetime,
    catalog: Catalog,
) -> Outcome:
    current = snapshot.state
    cycle = requested_cycle or current.cycle
    target = PlanState(cycle, dict(target_cameras))
    validate_state(target, catalog)
    old_lines = {line.key: line for line in snapshot.lines}
    has_paid = snapshot.status is not Status.NONE and bool(old_lines)
    target_lines = lines_of(target, catalog)

    if not has_paid:
        if not target_lines:
            return _nothing(snapshot, target, at, catalog)
        return _subscribe(snapshot, target, at, catalog)
    if not target_lines:
        return _cancel(snapshot, target, at, catalog)
    if snapshot.status is Status.PAST_DUE:
        same_lines = set(lines_of(target.with_cycle(current.cycle), catalog)) == set(old_lines)
        if not same_lines or cycle is not current.cycle:
            raise ChangeRefused(
                "past_due",
                "The last bill is unpaid: update your card to pay it, or cancel. "
                "Other plan changes wait until it is paid.",
            )
    if cycle.months < current.cycle.months:
        # Annual -> monthly: camera changes apply now on the current cycle; the cycle
        # switch waits for the period end (a scheduled change, cancellable until then).
        outcome = _same_cycle(snapshot, target.with_cycle(current.cycle), at, catalog, cycle)
        return outcome
    if cycle.months > current.cycle.months:
        return _to_annual(snapshot, target, at, catalog)
    scheduled = snapshot.scheduled_cycle if requested_cycle is None else None
    return _same_cycle(snapshot, target, at, catalog, scheduled)


def _next_bill(
    state: PlanState, period: Period | None, scheduled: Cycle | None, balance: int, catalog: Catalog
) -> tuple[datetime, int] | None:
    if period is None or not lines_of(state, catalog):
        return None
    _, card = renewal_bill(_renewal_price(state, scheduled, catalog), balance)
    return period.end, card


def _outcome(
    snapshot: Snapshot,
    target: PlanState,
    at: datetime,
    catalog: Catalog,
    *,
    case: Case,
    lines: tuple[PricedLine, ...] = (),
    money: tuple[int, int, int] = (0, 0, 0),
    refunds: tuple[tuple[str, int], ...] = (),
    anchor: datetime | None = None,
    period: Period | None = None,
    new_lines: tuple[HeldLine, ...] = (),
    scheduled: Cycle | None = None,
    voids_unpaid_period: bool = False,
) -> Outcome:
    """The one builder of an Outcome. `money` is (charge_now, credit_used, credit_added); the
    net, the refund, the next bill and the shrinking windows are derived the same way for
    every case, which keeps net == charge_now + credit_used - credit_added - refund."""
    charge_now, credit_used, credit_added = money
    balance_after = snapshot.credit_balance - credit_used + credit_added
    return Outcome(
        case=case,
        at=at,
        currency=catalog.currency,
        lines=lines,
        net=_signed(lines),
        charge_now=charge_now,
        credit_used=credit_used,
        credit_added=credit_added,
        refund=sum(amount for _, amount in refunds),
        refunds=refunds,
        state=target,
        anchor=anchor,
        period=period,
        new_lines=new_lines,
        scheduled_cycle=scheduled,
        next_bill=_next_bill(target, period, scheduled, balance_after, catalog),
        shrinks=_shrinks(snapshot.state, target, catalog, at),
        voids_unpaid_period=voids_unpaid_period,
    )


def _signed(lines: tuple[PricedLine, ...] | list[PricedLine]) -> int:
    """The net of priced lines: charges count up, credits down."""
    return sum(line.amount if line.kind is LineKind.CHARGE else -line.amount for line in lines)


def unchanged(state: PlanState, at: datetime, catalog: Catalog) -> Outcome:
    """The outcome of a call that changes no priced line (nothing to pay, nothing to confirm)."""
    nothing_held = Snapshot(state, Status.NONE, None, None, (), 0, ())
    return _outcome(nothing_held, state, at, catalog, case=Case.NOTHING)


def _nothing(snapshot: Snapshot, target: PlanState, at: datetime, catalog: Catalog) -> Outcome:
    return _outcome(snapshot, target, at, catalog, case=Case.NOTHING)


def _subscribe(snapshot: Snapshot, target: PlanState, at: datetime, catalog: Catalog) -> Outcome:
    """From no paid line to paid lines: a new subscription anchored at `at`, full price."""
    prices = lines_of(target, catalog)
    credit_used, charge_now = renewal_bill(sum(prices.values()), snapshot.credit_balance)
    return _outcome(
        snapshot, target, at, catalog, case=Case.SUBSCRIBE,
        lines=tuple(PricedLine(LineKind.CHARGE, key, price) for key, price in prices.items()),
        money=(charge_now, credit_used, 0),
        anchor=at,
        period=Period(at, add_months(at, target.cycle.months)),
        new_lines=tuple(HeldLine(key, price, price) for key, price in prices.items()),
    )


def _credit_for(line: HeldLine, fraction: Fraction) -> int:
    """A removed line's credit: its unused share, never more than it paid net of credits."""
    return min(prorated(line.unit_price, fraction), line.creditable)


def _credits(snapshot: Snapshot, at: datetime) -> tuple[PricedLine, ...]:
    """Every held line credited its unused share at `at` (a cancel, a switch to annual)."""
    assert snapshot.period is not None
    fraction = fraction_left(snapshot.period, at)
    return tuple(
        PricedLine(LineKind.CREDIT, line.key, _credit_for(line, fraction))
        for line in sorted(snapshot.lines, key=lambda line: line.key)
    )


def _cancel(snapshot: Snapshot, target: PlanState, at: datetime, catalog: Catalog) -> Outcome:
    lines = _credits(snapshot, at)
    total = sum(line.amount for line in lines)
    refunds = _allocate_refund(total, snapshot.card_payments)
    return _outcome(
        snapshot, target, at, catalog, case=Case.CANCEL, lines=lines,
        money=(0, 0, total - sum(amount for _, amount in refunds)),
        refunds=refunds,
        voids_unpaid_period=snapshot.status is Status.PAST_DUE,
    )


def _settle(net: int, balance: int) -> tuple[int, int, int]:
    """(charge_now, credit_used, credit_added) for a signed net: credit first, then the card."""
    if net > 0:
        credit_used, charge_now = renewal_bill(net, balance)
        return charge_now, credit_used, 0
    return 0, 0, -net


def _same_cycle(
    snapshot: Snapshot,
    target: PlanState,
    at: datetime,
    catalog: Catalog,
    scheduled: Cycle | None,
) -> Outcome:
    """Upgrade, add or remove a camera, downgrade: only the lines that differ are prorated."""
    assert snapshot.period is not None
    fraction = fraction_left(snapshot.period, at)
    old = {line.key: line for line in snapshot.lines}
    new_prices = lines_of(target, catalog)
    priced: list[PricedLine] = []
    kept: list[HeldLine] = []
    for key in sorted(set(old) | set(new_prices)):
        if key in old and key in new_prices:
            kept.append(old[key])
        elif key in old:
            priced.append(PricedLine(LineKind.CREDIT, key, _credit_for(old[key], fraction)))
        else:
            cost = prorated(new_prices[key], fraction)
            priced.append(PricedLine(LineKind.CHARGE, key, cost))
            kept.append(HeldLine(key, new_prices[key], cost))
    net = _signed(priced)
    if not priced:
        case = Case.SCHEDULE_ONLY if scheduled != snapshot.scheduled_cycle else Case.NOTHING
    else:
        case = Case.UPGRADE if net > 0 else Case.DOWNGRADE
    return _outcome(
        snapshot, target, at, catalog, case=case, lines=tuple(priced),
        money=_settle(net, snapshot.credit_balance),
        anchor=snapshot.anchor, period=snapshot.period, new_lines=tuple(kept), scheduled=scheduled,
    )


def _to_annual(snapshot: Snapshot, target: PlanState, at: datetime, catalog: Catalog) -> Outcome:
    """Monthly -> annual: every old line credited its unused value, the new state charged in
    full from a new anchor at `at`."""
    prices = lines_of(target, catalog)
    lines = _credits(snapshot, at) + tuple(PricedLine(LineKind.CHARGE, key, price) for key, price in prices.items())
    return _outcome(
        snapshot, target, at, catalog, case=Case.TO_ANNUAL, lines=lines,
        money=_settle(_signed(lines), snapshot.credit_balance),
        anchor=at,
        period=Period(at, add_months(at, target.cycle.months)),
        new_lines=tuple(HeldLine(key, price, price) for key, price in prices.items()),
    )
