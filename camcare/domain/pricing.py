"""Pricing of a desired state and of a change to it (POLICY.md sections 2 and 4).

Everything the web and the API say about money comes from `price_change`: the
preview runs it, the change executes exactly what it returned, and the tests
pin it to the worked examples of POLICY.md section 11.

Every preview runs it, so the work per camera is kept small: line identities are plain
tuples until a line is part of the answer, the catalog's per-plan figures are read from
tables it computed once, and proration is integer arithmetic (exact, like Fraction).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from fractions import Fraction

from camcare.domain.catalog import FREE, Catalog
from camcare.domain.money import round_half_up_ratio
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


# A line's identity as a plain tuple (plan, camera or None, cycle): equal to, hashed like
# and ordered like the LineKey of the same fields (order=True compares exactly this tuple),
# and far cheaper to build and hash. Pricing works on these and makes a LineKey only for
# a line of its answer.
_Key = tuple[str, str | None, Cycle]


def validate_state(state: PlanState, catalog: Catalog) -> None:
    """Refuses a state with an unknown plan (the first in camera order), or with more cameras
    on an account-scope plan than it covers (the first such plan in camera order)."""
    codes = list(state.cameras.values())
    if not catalog.codes.issuperset(codes):
        code = next(code for code in codes if code not in catalog)
        raise ChangeRefused("unknown_plan", f"There is no plan {code!r}.")
    over = [code for code, limit in catalog.camera_limits.items() if codes.count(code) > limit]
    if over:
        code = min(over, key=codes.index)
        plan = catalog[code]
        # API.md names the refusal after Premium, the catalog's account-scope plan.
        raise ChangeRefused(
            "too_many_premium_cameras",
            f"{plan.name} covers at most {plan.max_cameras} cameras; {codes.count(code)} chosen. "
            "Put the others on another plan.",
        )


def _line_prices(cameras: Mapping[str, str], cycle: Cycle, catalog: Catalog) -> dict[_Key, int]:
    """The priced lines of cameras on `cycle`, in camera order, with their price per period
    in minor units. An unknown plan raises KeyError (validate_state refuses it first)."""
    paid = catalog.paid_lines(cycle)
    lines: dict[_Key, int] = {}
    for camera, code in sorted(cameras.items()):
        line = paid.get(code)
        if line is None:
            if code not in catalog:
                raise KeyError(code)
            continue
        price, per_camera = line
        lines[(code, camera if per_camera else None, cycle)] = price
    return lines


def lines_of(state: PlanState, catalog: Catalog) -> dict[LineKey, int]:
    """The priced lines of a state with their catalog price per period, in minor units."""
    return {LineKey(*key): price for key, price in _line_prices(state.cameras, state.cycle, catalog).items()}


def state_price(state: PlanState, catalog: Catalog) -> int:
    return sum(_line_prices(state.cameras, state.cycle, catalog).values())


def can_refund(target_cameras: Mapping[str, str], catalog: Catalog) -> bool:
    """Whether moving to the target may refund a card: only a cancel does (POLICY.md section
    4), a target with no paid line. Pricing any other target never reads the snapshot's card
    payments, so a caller may leave them out of it."""
    paid = catalog.paid_lines(Cycle.MONTHLY)  # the paid plans, the same on every cycle
    return not any(code in paid for code in target_cameras.values())


def history_days(state: PlanState, catalog: Catalog, camera: str) -> int:
    return catalog.history_days[state.cameras.get(camera, FREE)]


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
    if not period.contains(t):
        raise ValueError("the change instant is outside the current period")
    return int((period.end - t).total_seconds()), period.seconds


def fraction_left(period: Period, t: datetime) -> Fraction:
    """(e - t) / (e - s) in whole seconds: the unused share of the period at `t`."""
    left, whole = seconds_left(period, t)
    return Fraction(left, whole)


def prorated(price: int, left: int, whole: int) -> int:
    """round(price x left / whole), halves up, exactly (POLICY.md section 4): a line's share
    of its price for `left` of the period's `whole` seconds, in minor units."""
    return round_half_up_ratio(price * left, whole)


def _shrinks(old: PlanState, new: PlanState, catalog: Catalog, at: datetime) -> tuple[Shrink, ...]:
    days, old_cameras = catalog.history_days, old.cameras
    shrinks = []
    for camera, code in sorted(new.cameras.items()):
        old_days = days[old_cameras.get(camera, FREE)]
        new_days = days[code]
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
    *,
    trial: bool = False,
) -> Outcome:
    """Price the move of `snapshot` to the target at instant `at` (POLICY.md section 4).

    `target_cameras` names every camera of the account; `requested_cycle` None keeps the
    current cycle (and any scheduled switch). `trial`: the owner asks for the free trial
    (section 12), which only a move from no paid line may start; whether the account and
    its cameras may still have one is the caller's to check (it is history, not state).
    Raises ChangeRefused for what the rules forbid.
    """
    current = snapshot.state
    cycle = requested_cycle or current.cycle
    target = PlanState(cycle, dict(target_cameras))
    validate_state(target, catalog)
    has_paid = snapshot.status is not Status.NONE and bool(snapshot.lines)
    prices = _line_prices(target.cameras, cycle, catalog)

    if trial and has_paid:
        raise trial_not_available()
    if not has_paid:
        if not prices:
            return _nothing(snapshot, target, at, catalog)
        if trial:
            return _start_trial(snapshot, target, at, catalog, prices)
        return _subscribe(snapshot, target, at, catalog, prices)
    if not prices:
        return _cancel(snapshot, target, at, catalog)
    if snapshot.status is Status.TRIALING:
        return _trial_change(snapshot, target, at, catalog, prices)
    if snapshot.status is Status.PAST_DUE:
        held = {(line.key.plan, line.key.camera, line.key.cycle) for line in snapshot.lines}
        if cycle is not current.cycle or prices.keys() != held:  # only paying or cancelling
            raise ChangeRefused(
                "past_due",
                "The last bill is unpaid: update your card to pay it, or cancel. "
                "Other plan changes wait until it is paid.",
            )
    if cycle.months < current.cycle.months:
        # Annual -> monthly: camera changes apply now on the current cycle; the cycle
        # switch waits for the period end (a scheduled change, cancellable until then).
        on_current = target.with_cycle(current.cycle)
        return _same_cycle(snapshot, on_current, at, catalog, cycle,
                           _line_prices(on_current.cameras, current.cycle, catalog))
    if cycle.months > current.cycle.months:
        return _to_annual(snapshot, target, at, catalog, prices)
    scheduled = snapshot.scheduled_cycle if requested_cycle is None else None
    return _same_cycle(snapshot, target, at, catalog, scheduled, prices)


def _next_bill(period: Period | None, renewal_price: int, balance: int) -> tuple[datetime, int] | None:
    """(when, card part) of the next renewal. An outcome has a period exactly when the state
    after it has paid lines, so no period means no bill."""
    if period is None:
        return None
    _, card = renewal_bill(renewal_price, balance)
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
    renewal_price: int = 0,
) -> Outcome:
    """The one builder of an Outcome. `money` is (charge_now, credit_used, credit_added);
    `renewal_price` is what the next period of the target costs in minor units (read only
    with a period). The net, the refund, the next bill, the shrinking windows and whether
    cameras move are derived the same way for every case, which keeps net == charge_now +
    credit_used - credit_added - refund."""
    charge_now, credit_used, credit_added = money
    balance_after = snapshot.credit_balance - credit_used + credit_added
    # A scheduled stop stays through a change that keeps paid lines (after monthly ->
    # annual, at the new period's end); asking for annual -> monthly replaces it.
    stop = snapshot.scheduled_stop and period is not None and scheduled is None
    trialing = period is not None and (case is Case.TRIAL or snapshot.status is Status.TRIALING)
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
        next_bill=None if stop else _next_bill(period, renewal_price, balance_after),
        shrinks=_shrinks(snapshot.state, target, catalog, at),
        voids_unpaid_period=voids_unpaid_period,
        moves_cameras=dict(target.cameras) != dict(snapshot.state.cameras),
        scheduled_stop=stop,
        trial_end=period.end if trialing and period is not None else None,
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


def _charged_in_full(prices: Mapping[_Key, int]) -> tuple[tuple[PricedLine, ...], tuple[HeldLine, ...]]:
    """The lines of a state whose period starts now: each charged and paid at its full price."""
    keyed = [(LineKey(*key), price) for key, price in prices.items()]
    return (tuple(PricedLine(LineKind.CHARGE, key, price) for key, price in keyed),
            tuple(HeldLine(key, price, price) for key, price in keyed))


def _subscribe(snapshot: Snapshot, target: PlanState, at: datetime, catalog: Catalog,
               prices: Mapping[_Key, int]) -> Outcome:
    """From no paid line to paid lines: a new subscription anchored at `at`, full price."""
    credit_used, charge_now = renewal_bill(sum(prices.values()), snapshot.credit_balance)
    lines, new_lines = _charged_in_full(prices)
    return _outcome(
        snapshot, target, at, catalog, case=Case.SUBSCRIBE, lines=lines,
        money=(charge_now, credit_used, 0),
        anchor=at,
        period=Period(at, add_months(at, target.cycle.months)),
        new_lines=new_lines,
        renewal_price=sum(prices.values()),
    )


def trial_not_available() -> ChangeRefused:
    return ChangeRefused(
        "trial_not_available",
        "The free trial is for an account's first paid plan, once per account and per camera: "
        "this account or one of these cameras has had a paid plan or a trial. Subscribe without the trial.",
    )


def _at_no_cost(snapshot: Snapshot, prices: Mapping[_Key, int]
                ) -> tuple[tuple[PricedLine, ...], tuple[HeldLine, ...]]:
    """The lines of a change in a free trial: each added line at 0, each removed line
    credited 0 (a trial line paid nothing), the target's lines held unpaid."""
    held = {(line.key.plan, line.key.camera, line.key.cycle): line for line in snapshot.lines}
    lines = [PricedLine(LineKind.CHARGE, LineKey(*key), 0) for key in sorted(prices.keys() - held.keys())]
    lines += [PricedLine(LineKind.CREDIT, held[key].key, 0) for key in sorted(held.keys() - prices.keys())]
    kept = tuple(held[key] if key in held else HeldLine(LineKey(*key), price, 0) for key, price in prices.items())
    return tuple(sorted(lines, key=lambda line: line.key)), kept


def _start_trial(snapshot: Snapshot, target: PlanState, at: datetime, catalog: Catalog,
                 prices: Mapping[_Key, int]) -> Outcome:
    """From no paid line to a free trial of `catalog.trial_days` (POLICY.md section 12):
    nothing charged, every camera its plan's window at once; the first period starts at
    the trial's end, the anchor, and is billed then like a renewal."""
    lines, new_lines = _at_no_cost(snapshot, prices)
    trial = Period(at, at + timedelta(days=catalog.trial_days))
    return _outcome(snapshot, target, at, catalog, case=Case.TRIAL, lines=lines, anchor=trial.end, period=trial,
                    new_lines=new_lines, renewal_price=sum(prices.values()))


def _trial_change(snapshot: Snapshot, target: PlanState, at: datetime, catalog: Catalog,
                  prices: Mapping[_Key, int]) -> Outcome:
    """A change during the trial: free, at once (a cycle change too: nothing is scheduled),
    the trial's end unmoved; it decides the first bill."""
    assert snapshot.period is not None
    lines, new_lines = _at_no_cost(snapshot, prices)
    old_price = sum(line.unit_price for line in snapshot.lines)
    new_price = sum(prices.values())
    if not lines:
        case = Case.NOTHING
    else:
        case = Case.UPGRADE if new_price > old_price else Case.DOWNGRADE
    return _outcome(snapshot, target, at, catalog, case=case, lines=lines, anchor=snapshot.anchor,
                    period=snapshot.period, new_lines=new_lines, renewal_price=new_price)


def _credit_for(line: HeldLine, left: int, whole: int) -> int:
    """A removed line's credit: its unused share, never more than it paid net of credits."""
    return min(prorated(line.unit_price, left, whole), line.creditable)


def _credits(snapshot: Snapshot, at: datetime) -> tuple[PricedLine, ...]:
    """Every held line credited its unused share at `at` (a cancel, a switch to annual)."""
    assert snapshot.period is not None
    left, whole = seconds_left(snapshot.period, at)
    return tuple(
        PricedLine(LineKind.CREDIT, line.key, _credit_for(line, left, whole))
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


def _renewal_price(target: PlanState, scheduled: Cycle | None, prices: Mapping[_Key, int],
                   catalog: Catalog) -> int:
    """The next period's price: the target's lines, or its lines on the scheduled cycle."""
    if scheduled is None:
        return sum(prices.values())
    return state_price(target.with_cycle(scheduled), catalog)


def _same_cycle(
    snapshot: Snapshot,
    target: PlanState,
    at: datetime,
    catalog: Catalog,
    scheduled: Cycle | None,
    prices: Mapping[_Key, int],
) -> Outcome:
    """Upgrade, add or remove a camera, downgrade: only the lines that differ are prorated.
    `prices` are the target's lines on its cycle, the subscription's."""
    assert snapshot.period is not None
    left, whole = seconds_left(snapshot.period, at)
    old = {(line.key.plan, line.key.camera, line.key.cycle): line for line in snapshot.lines}
    priced: list[PricedLine] = []
    kept: list[HeldLine] = []
    for key in sorted(old.keys() | prices.keys()):
        held = old.get(key)
        if held is None:
            line_key, price = LineKey(*key), prices[key]
            cost = prorated(price, left, whole)
            priced.append(PricedLine(LineKind.CHARGE, line_key, cost))
            kept.append(HeldLine(line_key, price, cost))
        elif key in prices:
            kept.append(held)
        else:
            priced.append(PricedLine(LineKind.CREDIT, held.key, _credit_for(held, left, whole)))
    net = _signed(priced)
    if not priced:
        replaces_stop = scheduled is not None and snapshot.scheduled_stop
        case = Case.SCHEDULE_ONLY if scheduled != snapshot.scheduled_cycle or replaces_stop else Case.NOTHING
    else:
        case = Case.UPGRADE if net > 0 else Case.DOWNGRADE
    return _outcome(
        snapshot, target, at, catalog, case=case, lines=tuple(priced),
        money=_settle(net, snapshot.credit_balance),
        anchor=snapshot.anchor, period=snapshot.period, new_lines=tuple(kept), scheduled=scheduled,
        renewal_price=_renewal_price(target, scheduled, prices, catalog),
    )


def _to_annual(snapshot: Snapshot, target: PlanState, at: datetime, catalog: Catalog,
               prices: Mapping[_Key, int]) -> Outcome:
    """Monthly -> annual: every old line credited its unused value, the new state charged in
    full from a new anchor at `at`."""
    charges, new_lines = _charged_in_full(prices)
    lines = _credits(snapshot, at) + charges
    return _outcome(
        snapshot, target, at, catalog, case=Case.TO_ANNUAL, lines=lines,
        money=_settle(_signed(lines), snapshot.credit_balance),
        anchor=at,
        period=Period(at, add_months(at, target.cycle.months)),
        new_lines=new_lines,
        renewal_price=sum(prices.values()),
    )


def schedule_stop(snapshot: Snapshot, at: datetime, catalog: Catalog) -> Outcome:
    """Turn renewal off (POLICY.md section 13): nothing moves now; at the period end every
    camera moves to free and nothing is billed. The outcome's shrinks are the windows that
    will shrink then, each cut-off taken at the stop's instant (the period end); a stop
    replaces a scheduled annual -> monthly switch."""
    if snapshot.status is Status.PAST_DUE:
        raise ChangeRefused(
            "past_due", "The last bill is unpaid: update your card to pay it, or cancel. "
                        "Renewal can be turned off once it is paid.")
    if snapshot.status is Status.NONE or not snapshot.lines or snapshot.period is None:
        raise ChangeRefused("nothing_to_stop", "There is no paid plan to stop: every camera is on Free.")
    state = snapshot.state
    free = PlanState(state.cycle, dict.fromkeys(state.cameras, FREE))
    return Outcome(
        case=Case.STOP, at=at, currency=catalog.currency, lines=(), net=0, charge_now=0, credit_used=0,
        credit_added=0, refund=0, refunds=(), state=state, anchor=snapshot.anchor, period=snapshot.period,
        new_lines=snapshot.lines, scheduled_cycle=None, next_bill=None,
        shrinks=_shrinks(state, free, catalog, snapshot.period.end), scheduled_stop=True,
        trial_end=snapshot.period.end if snapshot.status is Status.TRIALING else None,
    )
