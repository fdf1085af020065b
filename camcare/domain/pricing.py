"""Pricing of a desired state and of a change to it (POLICY.md sections 2 and 4).

Everything the web and the API say about money comes from `price_change`: the
preview runs it, the change executes exactly what it returned, and the tests
pin it to the worked examples of POLICY.md section 11. The types it reads and
answers live in `states` (re-exported here, where callers import them from).

Every preview runs it, so the work per camera is kept small: the target's cameras are
sorted once, line keys are tuples made in C (states.py says why), a line that stays is
passed through as the HeldLine it was, the catalog's per-plan figures are read from
tables it computed once, proration is integer arithmetic (exact, like Fraction), and
the shrinking windows are looked for in C before any is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from operator import itemgetter

from camcare.domain.catalog import FREE, Catalog
from camcare.domain.periods import Cycle, Period, add_months, window_start
from camcare.domain.states import (
    CardPayment,
    Case,
    ChangeRefused,
    HeldLine,
    LineKey,
    LineKind,
    Outcome,
    PlanState,
    PricedLine,
    Shrink,
    Snapshot,
    Status,
    _new,
    can_refund,
    fraction_left,
    history_days,
    line_prices,
    lines_of,
    prorated,
    renewal_bill,
    seconds_left,
    state_price,
    validate_state,
)

__all__ = [
    "CardPayment", "Case", "ChangeRefused", "HeldLine", "LineKey", "LineKind", "Outcome", "PlanState",
    "PricedLine", "Shrink", "Snapshot", "Status", "can_refund", "fraction_left", "history_days",
    "lines_of", "price_change", "prorated", "renewal_bill", "schedule_stop", "seconds_left",
    "state_price", "trial_not_available", "unchanged", "validate_state",
]

_CHARGE, _CREDIT = LineKind.CHARGE, LineKind.CREDIT
_KEY_OF = itemgetter(0)  # a HeldLine's key
_PRICED_KEY_OF = itemgetter(1)  # a PricedLine's key


def _shrinks(old: PlanState, new: PlanState, catalog: Catalog, at: datetime) -> tuple[Shrink, ...]:
    """Each camera whose video history gets shorter from `old` to `new`, in camera order, its
    window cut at `at`. Most changes shrink none, which the plans alone tell: when the
    shortest history of the new plans is no shorter than the longest of the old ones (free
    among them, a new camera's), no camera loses days, and no camera is looked at."""
    days, old_cameras, new_cameras = catalog.history_days, old.cameras, new.cameras
    try:
        longest_before = days[FREE]
        for code in set(old_cameras.values()):  # a few plans, however many cameras
            if days[code] > longest_before:
                longest_before = days[code]
        for code in set(new_cameras.values()):
            if days[code] < longest_before:
                break
        else:
            return ()
    except KeyError:
        pass  # a plan without history days: the loop raises it as it always did, in camera order
    shrinks = []
    for camera, code in sorted(new_cameras.items()):
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
    target: PlanState = _new(PlanState, (cycle, dict(target_cameras)))
    validate_state(target, catalog)
    status = snapshot.status
    has_paid = status is not Status.NONE and bool(snapshot.lines)
    prices = line_prices(target.cameras, cycle, catalog)

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
    if status is Status.TRIALING:
        return _trial_change(snapshot, target, at, catalog, prices)
    if status is Status.PAST_DUE:
        held = {line.key for line in snapshot.lines}
        if cycle is not current.cycle or prices.keys() != held:  # only paying or cancelling
            raise ChangeRefused(
                "past_due",
                "The last bill is unpaid: update your card to pay it, or cancel. "
                "Other plan changes wait until it is paid.",
            )
    if cycle is not current.cycle:  # the same member: the same months, neither branch below
        if cycle.months < current.cycle.months:
            # Annual -> monthly: camera changes apply now on the current cycle; the cycle
            # switch waits for the period end (a scheduled change, cancellable until then).
            on_current = target.with_cycle(current.cycle)
            return _same_cycle(snapshot, on_current, at, catalog, cycle,
                               line_prices(on_current.cameras, current.cycle, catalog))
        if cycle.months > current.cycle.months:
            return _to_annual(snapshot, target, at, catalog, prices)
    scheduled = snapshot.scheduled_cycle if requested_cycle is None else None
    return _same_cycle(snapshot, target, at, catalog, scheduled, prices)


def _as_dict(cameras: Mapping[str, str]) -> Mapping[str, str]:
    """`cameras` compared as a dict compares (a dict as it is: no copy)."""
    return cameras if type(cameras) is dict else dict(cameras)


def _outcome(
    snapshot: Snapshot,
    target: PlanState,
    at: datetime,
    catalog: Catalog,
    *,
    case: Case,
    lines: tuple[PricedLine, ...] = (),
    net: int | None = None,
    money: tuple[int, int, int] = (0, 0, 0),
    refunds: tuple[tuple[str, int], ...] = (),
    anchor: datetime | None = None,
    period: Period | None = None,
    new_lines: tuple[HeldLine, ...] = (),
    scheduled: Cycle | None = None,
    voids_unpaid_period: bool = False,
    renewal_price: int = 0,
) -> Outcome:
    """The one builder of an Outcome. `net` is _signed(lines), when the caller has it;
    `money` is (charge_now, credit_used, credit_added); `renewal_price` is what the next
    period of the target costs in minor units (read only with a period). The net, the
    refund, the next bill, the shrinking windows and whether cameras move are derived the
    same way for every case, which keeps net == charge_now + credit_used - credit_added -
    refund."""
    charge_now, credit_used, credit_added = money
    # A scheduled stop stays through a change that keeps paid lines (after monthly ->
    # annual, at the new period's end); asking for annual -> monthly replaces it.
    stop = snapshot.scheduled_stop and period is not None and scheduled is None
    # An outcome has a period exactly when the state after it has paid lines, so no period
    # means no next bill; else the renewal at its end, credit first (renewal_bill).
    if stop or period is None:
        next_bill = None
    else:
        balance_after = snapshot.credit_balance - credit_used + credit_added
        next_bill = (period.end, renewal_price - min(renewal_price, balance_after))
    trialing = period is not None and (case is Case.TRIAL or snapshot.status is Status.TRIALING)
    # In Outcome's field order (states.Outcome): made in C, like the lines.
    outcome: Outcome = _new(Outcome, (
        case,
        at,
        catalog.currency,
        lines,
        _signed(lines) if net is None else net,
        charge_now,
        credit_used,
        credit_added,
        sum(amount for _, amount in refunds) if refunds else 0,  # refund
        refunds,
        target,  # state
        anchor,
        period,
        new_lines,
        scheduled,  # scheduled_cycle
        next_bill,
        _shrinks(snapshot.state, target, catalog, at),
        voids_unpaid_period,
        _as_dict(target.cameras) != _as_dict(snapshot.state.cameras),  # moves_cameras
        stop,  # scheduled_stop
        period.end if trialing and period is not None else None,  # trial_end
    ))
    return outcome


def _signed(lines: tuple[PricedLine, ...] | list[PricedLine]) -> int:
    """The net of priced lines: charges count up, credits down."""
    return sum(line.amount if line.kind is _CHARGE else -line.amount for line in lines)


def unchanged(state: PlanState, at: datetime, catalog: Catalog) -> Outcome:
    """The outcome of a call that changes no priced line (nothing to pay, nothing to confirm)."""
    nothing_held = Snapshot(state, Status.NONE, None, None, (), 0, ())
    return _outcome(nothing_held, state, at, catalog, case=Case.NOTHING)


def _nothing(snapshot: Snapshot, target: PlanState, at: datetime, catalog: Catalog) -> Outcome:
    return _outcome(snapshot, target, at, catalog, case=Case.NOTHING)


def _charged_in_full(prices: Mapping[LineKey, int]) -> tuple[tuple[PricedLine, ...], tuple[HeldLine, ...]]:
    """The lines of a state whose period starts now: each charged and paid at its full price."""
    return (tuple(_new(PricedLine, (_CHARGE, key, price)) for key, price in prices.items()),
            tuple(_new(HeldLine, (key, price, price, 0)) for key, price in prices.items()))


def _subscribe(snapshot: Snapshot, target: PlanState, at: datetime, catalog: Catalog,
               prices: Mapping[LineKey, int]) -> Outcome:
    """From no paid line to paid lines: a new subscription anchored at `at`, full price."""
    price = sum(prices.values())
    credit_used, charge_now = renewal_bill(price, snapshot.credit_balance)
    lines, new_lines = _charged_in_full(prices)
    return _outcome(
        snapshot, target, at, catalog, case=Case.SUBSCRIBE, lines=lines, net=price,
        money=(charge_now, credit_used, 0),
        anchor=at,
        period=Period(at, add_months(at, target.cycle.months)),
        new_lines=new_lines,
        renewal_price=price,
    )


def trial_not_available() -> ChangeRefused:
    return ChangeRefused(
        "trial_not_available",
        "The free trial is for an account's first paid plan, once per account and per camera: "
        "this account or one of these cameras has had a paid plan or a trial. Subscribe without the trial.",
    )


def _at_no_cost(snapshot: Snapshot, prices: Mapping[LineKey, int]
                ) -> tuple[tuple[PricedLine, ...], tuple[HeldLine, ...]]:
    """The lines of a change in a free trial: each added line at 0, each removed line
    credited 0 (a trial line paid nothing), the target's lines held unpaid."""
    held = {line.key: line for line in snapshot.lines}
    lines = [_new(PricedLine, (_CHARGE, key, 0)) for key in sorted(prices.keys() - held.keys())]
    lines += [_new(PricedLine, (_CREDIT, held[key].key, 0)) for key in sorted(held.keys() - prices.keys())]
    kept = tuple(held[key] if key in held else _new(HeldLine, (key, price, 0, 0)) for key, price in prices.items())
    return tuple(sorted(lines, key=_PRICED_KEY_OF)), kept


def _start_trial(snapshot: Snapshot, target: PlanState, at: datetime, catalog: Catalog,
                 prices: Mapping[LineKey, int]) -> Outcome:
    """From no paid line to a free trial of `catalog.trial_days` (POLICY.md section 12):
    nothing charged, every camera its plan's window at once; the first period starts at
    the trial's end, the anchor, and is billed then like a renewal."""
    lines, new_lines = _at_no_cost(snapshot, prices)
    trial = Period(at, at + timedelta(days=catalog.trial_days))
    return _outcome(snapshot, target, at, catalog, case=Case.TRIAL, lines=lines, net=0, anchor=trial.end,
                    period=trial, new_lines=new_lines, renewal_price=sum(prices.values()))


def _trial_change(snapshot: Snapshot, target: PlanState, at: datetime, catalog: Catalog,
                  prices: Mapping[LineKey, int]) -> Outcome:
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
    return _outcome(snapshot, target, at, catalog, case=case, lines=lines, net=0, anchor=snapshot.anchor,
                    period=snapshot.period, new_lines=new_lines, renewal_price=new_price)


def _credit_for(line: HeldLine, left: int, whole: int) -> int:
    """A removed line's credit: its unused share, never more than it paid net of credits."""
    return min(prorated(line.unit_price, left, whole), line.paid - line.credited)


def _credits(snapshot: Snapshot, at: datetime) -> tuple[PricedLine, ...]:
    """Every held line credited its unused share at `at` (a cancel, a switch to annual)."""
    assert snapshot.period is not None
    left, whole = seconds_left(snapshot.period, at)
    return tuple(
        _new(PricedLine, (_CREDIT, line.key, _credit_for(line, left, whole)))
        for line in sorted(snapshot.lines, key=_KEY_OF)
    )


def _cancel(snapshot: Snapshot, target: PlanState, at: datetime, catalog: Catalog) -> Outcome:
    lines = _credits(snapshot, at)
    total = sum(line.amount for line in lines)
    refunds = _allocate_refund(total, snapshot.card_payments)
    return _outcome(
        snapshot, target, at, catalog, case=Case.CANCEL, lines=lines, net=-total,
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
    prices: Mapping[LineKey, int],
) -> Outcome:
    """Upgrade, add or remove a camera, downgrade: only the lines that differ are prorated.
    `prices` are the target's lines on its cycle, the subscription's."""
    assert snapshot.period is not None
    left, whole = seconds_left(snapshot.period, at)
    # prorated(price, left, whole) inline for a price >= 0 (every catalog price, every line
    # billed at one): round_half_up_ratio(price * left, whole) with the doublings made once.
    left2, whole2 = 2 * left, 2 * whole
    old = {line.key: line for line in snapshot.lines}
    priced: list[PricedLine] = []
    kept: list[HeldLine] = []
    net = 0  # minor units: the charges less the credits, summed as they are made
    for key in sorted(old.keys() | prices.keys()):
        held = old.get(key)
        if held is None:
            price = prices[key]
            cost = (price * left2 + whole) // whole2 if price >= 0 else prorated(price, left, whole)
            priced.append(_new(PricedLine, (_CHARGE, key, cost)))
            kept.append(_new(HeldLine, (key, price, cost, 0)))
            net += cost
        elif key in prices:
            kept.append(held)
        else:
            unit = held.unit_price
            share = (unit * left2 + whole) // whole2 if unit >= 0 else prorated(unit, left, whole)
            credit = min(share, held.paid - held.credited)  # never more than it paid net of credits
            priced.append(_new(PricedLine, (_CREDIT, held.key, credit)))
            net -= credit
    if not priced:
        replaces_stop = scheduled is not None and snapshot.scheduled_stop
        case = Case.SCHEDULE_ONLY if scheduled != snapshot.scheduled_cycle or replaces_stop else Case.NOTHING
    else:
        case = Case.UPGRADE if net > 0 else Case.DOWNGRADE
    # The next period's price: the target's lines, or its lines on the scheduled cycle.
    renewal_price = sum(prices.values()) if scheduled is None else state_price(target.with_cycle(scheduled), catalog)
    return _outcome(
        snapshot, target, at, catalog, case=case, lines=tuple(priced), net=net,
        money=_settle(net, snapshot.credit_balance),
        anchor=snapshot.anchor, period=snapshot.period, new_lines=tuple(kept), scheduled=scheduled,
        renewal_price=renewal_price,
    )


def _to_annual(snapshot: Snapshot, target: PlanState, at: datetime, catalog: Catalog,
               prices: Mapping[LineKey, int]) -> Outcome:
    """Monthly -> annual: every old line credited its unused value, the new state charged in
    full from a new anchor at `at`."""
    charges, new_lines = _charged_in_full(prices)
    lines = _credits(snapshot, at) + charges
    net = _signed(lines)
    return _outcome(
        snapshot, target, at, catalog, case=Case.TO_ANNUAL, lines=lines, net=net,
        money=_settle(net, snapshot.credit_balance),
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
