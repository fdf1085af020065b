"""Outcome <-> JSON (a quote stores the priced change it will execute) and the API result R."""

from __future__ import annotations

from dataclasses import dataclass, field

from camcare.domain.periods import Cycle, Period, iso_z, parse_instant
from camcare.domain.pricing import (
    Case,
    HeldLine,
    LineKey,
    LineKind,
    Outcome,
    PlanState,
    PricedLine,
    Shrink,
)


def _key_to_json(key: LineKey) -> list:
    return [key.plan, key.camera, key.cycle.value]


def _key_from_json(data: list) -> LineKey:
    return LineKey(data[0], data[1], Cycle(data[2]))


def _instant(value):
    return iso_z(value) if value is not None else None


def _from_instant(value):
    return parse_instant(value) if value is not None else None


def outcome_to_json(outcome: Outcome) -> dict:
    return {
        "case": outcome.case.value,
        "at": iso_z(outcome.at),
        "currency": outcome.currency,
        "lines": [[line.kind, _key_to_json(line.key), line.amount] for line in outcome.lines],
        "net": outcome.net,
        "charge_now": outcome.charge_now,
        "credit_used": outcome.credit_used,
        "credit_added": outcome.credit_added,
        "refund": outcome.refund,
        "refunds": [list(item) for item in outcome.refunds],
        "state": {"cycle": outcome.state.cycle.value, "cameras": dict(outcome.state.cameras)},
        "anchor": _instant(outcome.anchor),
        "period": [iso_z(outcome.period.start), iso_z(outcome.period.end)] if outcome.period else None,
        "new_lines": [[_key_to_json(h.key), h.unit_price, h.paid, h.credited] for h in outcome.new_lines],
        "scheduled_cycle": outcome.scheduled_cycle.value if outcome.scheduled_cycle else None,
        "next_bill": [iso_z(outcome.next_bill[0]), outcome.next_bill[1]] if outcome.next_bill else None,
        "shrinks": [[s.camera, s.old_days, s.new_days, iso_z(s.cutoff)] for s in outcome.shrinks],
        "voids_unpaid_period": outcome.voids_unpaid_period,
        "moves_cameras": outcome.moves_cameras,
        "scheduled_stop": outcome.scheduled_stop,
        "trial_end": _instant(outcome.trial_end),
    }


def outcome_from_json(data: dict) -> Outcome:
    return Outcome(
        case=Case(data["case"]),
        at=parse_instant(data["at"]),
        currency=data["currency"],
        lines=tuple(PricedLine(LineKind(kind), _key_from_json(key), amount) for kind, key, amount in data["lines"]),
        net=data["net"],
        charge_now=data["charge_now"],
        credit_used=data["credit_used"],
        credit_added=data["credit_added"],
        refund=data["refund"],
        refunds=tuple((order_id, amount) for order_id, amount in data["refunds"]),
        state=PlanState(Cycle(data["state"]["cycle"]), data["state"]["cameras"]),
        anchor=_from_instant(data["anchor"]),
        period=Period(parse_instant(data["period"][0]), parse_instant(data["period"][1])) if data["period"] else None,
        new_lines=tuple(HeldLine(_key_from_json(k), price, paid, credited) for k, price, paid, credited in data["new_lines"]),
        scheduled_cycle=Cycle(data["scheduled_cycle"]) if data["scheduled_cycle"] else None,
        next_bill=(parse_instant(data["next_bill"][0]), data["next_bill"][1]) if data["next_bill"] else None,
        shrinks=tuple(Shrink(camera, old, new, parse_instant(cutoff)) for camera, old, new, cutoff in data["shrinks"]),
        voids_unpaid_period=data["voids_unpaid_period"],
        moves_cameras=data.get("moves_cameras", False),  # quotes stored before the field existed
        scheduled_stop=data.get("scheduled_stop", False),  # likewise
        trial_end=_from_instant(data.get("trial_end")),  # likewise
    )


@dataclass
class ChangeResult:
    """What a preview or a change answers (API.md's R), plus the quote and the orders."""

    outcome: Outcome
    erasures: list[dict]  # [{camera, clips, recorded_before}] for every camera whose window shrinks
    quote_id: str | None = None
    orders: list = field(default_factory=list)  # billing.models.Order rows of an executed change
    subscription: dict | None = None  # selectors.subscription_summary after an executed change
    replayed: bool = False

    @property
    def changed(self) -> bool:
        return self.outcome.changes_anything

    def __getattr__(self, name):  # at, currency, net, charge_now... read through to the outcome
        if name in {"at", "currency", "net", "charge_now", "credit_used", "credit_added", "refund"}:
            return getattr(self.outcome, name)
        raise AttributeError(name)

    @property
    def lines(self) -> list[dict]:
        return [
            {"kind": line.kind, "plan": line.key.plan, "camera": line.key.camera, "amount": line.amount}
            for line in self.outcome.lines
        ]

    @property
    def next_bill(self) -> dict | None:
        bill = self.outcome.next_bill
        return {"at": iso_z(bill[0]), "amount": bill[1]} if bill else None

    @property
    def scheduled_change(self) -> dict | None:
        """{at, kind, cycle} (API.md): the annual -> monthly switch or the stop (cycle null)."""
        if self.outcome.period is None:
            return None
        if self.outcome.scheduled_stop:
            return {"at": iso_z(self.outcome.period.end), "kind": "stop", "cycle": None}
        if self.outcome.scheduled_cycle is None:
            return None
        return {"at": iso_z(self.outcome.period.end), "kind": "cycle_switch",
                "cycle": self.outcome.scheduled_cycle.value}

    def to_api(self) -> dict:
        from camcare.billing.selectors import order_to_api

        body = {
            "at": iso_z(self.outcome.at),
            "currency": self.outcome.currency,
            "lines": self.lines,
            "net": self.outcome.net,
            "charge_now": self.outcome.charge_now,
            "credit_used": self.outcome.credit_used,
            "credit_added": self.outcome.credit_added,
            "refund": self.outcome.refund,
            "erasures": self.erasures,
            "next_bill": self.next_bill,
            "scheduled_change": self.scheduled_change,
            "trial_end": _instant(self.outcome.trial_end),
        }
        if self.subscription is None:
            body["quote"] = self.quote_id
        else:
            body["subscription"] = self.subscription
            body["orders"] = [order_to_api(order) for order in self.orders]
        return body
