"""A preview in the words of Stripe's and Apple's upcoming-invoice pages: one row per
changed line with its plan, cycle, span and amount ("Unused time on Plus (monthly) after
11 Mar 2027", "11 Mar 2027 – 1 Apr 2027 (21 of 31 days)"), each camera's plan and video
history before and after, and one sentence on when the change takes effect.

`facts` is what the page needs beyond the API's result, kept with the preview in the
session (JSON): the case, each line's cycle, the period before and after the change.
"""

from __future__ import annotations

from camcare.domain.catalog import Catalog
from camcare.domain.periods import iso_z
from camcare.domain.pricing import Case
from camcare.portal.templatetags.money import as_datetime, when

FULL_PERIOD_CASES = {Case.SUBSCRIBE.value, Case.TO_ANNUAL.value}  # their charges start a period
PERIOD_WORD = {"monthly": "month", "annual": "year"}
DAY = 86400


def _period(period) -> list[str] | None:
    return [iso_z(period.start), iso_z(period.end)] if period else None


def facts(result, summary: dict, plans_before: dict[str, str]) -> dict:
    """What to keep with a preview (`result` a billing ChangeResult; `summary` the
    subscription as it is at the preview's instant; `plans_before` each camera's plan)."""
    outcome = result.outcome
    before = summary.get("current_period_start"), summary.get("current_period_end")
    return {
        "case": outcome.case.value,
        "lines": [[line.kind.value, line.key.plan, line.key.camera, line.key.cycle.value, line.amount]
                  for line in outcome.lines],
        "before": list(before) if all(before) else None,
        "after": _period(outcome.period),
        "cycle_before": summary.get("cycle"),
        "scheduled_before": (summary.get("scheduled_change") or {}).get("cycle"),
        "plans_before": dict(plans_before),
        "plans_after": dict(outcome.state.cameras),
        "cycle_after": outcome.state.cycle.value,
        "trial": outcome.trial_end is not None,  # the state after it is in a free trial
    }


def days(seconds: float) -> str:
    count = round(seconds / DAY, 1)
    return str(int(count)) if count == int(count) else str(count)


def span(start, end, period: list[str] | None = None) -> str:
    """ "11 Mar 2027 – 1 Apr 2027 (21 of 31 days)", the share of `period` it covers."""
    first, last = as_datetime(start), as_datetime(end)
    text = f"{when(first)} – {when(last)}"
    if period:
        whole = (as_datetime(period[1]) - as_datetime(period[0])).total_seconds()
        return f"{text} ({days((last - first).total_seconds())} of {days(whole)} days)"
    return text


def _plan_name(catalog: Catalog, code: str) -> str:
    return catalog[code].name if code in catalog else code


def _who(camera: str | None, plan: str, plans: dict[str, str], names: dict[str, str]) -> str:
    """The camera a line is for; an account-wide line names the cameras it covers."""
    if camera:
        return names.get(camera, "A removed camera")
    covered = [names.get(camera_id, "a removed camera") for camera_id, code in plans.items() if code == plan]
    return ", ".join(covered) or "All cameras"


def line_rows(stored: dict, names: dict[str, str], catalog: Catalog) -> list[dict]:
    """One row per changed line, each camera's credit before its charge."""
    info, at = stored["facts"], stored["result"]["at"]
    order = {camera_id: index for index, camera_id in enumerate(names)}
    lines = sorted(info["lines"], key=lambda line: (order.get(line[2], len(order)), line[0] != "credit"))
    rows = []
    for kind, plan, camera, cycle, amount in lines:
        label = f"{_plan_name(catalog, plan)} ({cycle})"
        if info.get("trial") and info["after"]:  # every line of a trial costs nothing (section 12)
            title = f"{label}: free during your trial" if kind == "charge" else f"{label}: removed, nothing to credit"
            covered = info["plans_after"] if kind == "charge" else info["plans_before"]
            rows.append({"kind": kind, "title": title, "span": span(at, info["after"][1]), "amount": amount,
                         "camera_name": _who(camera, plan, covered, names)})
            continue
        if kind == "credit":
            title, covered = f"Unused time on {label} after {when(at)}", info["plans_before"]
        elif info["case"] in FULL_PERIOD_CASES:
            title, covered = label, info["plans_after"]
        else:
            title, covered = f"Remaining time on {label} after {when(at)}", info["plans_after"]
        if kind == "charge" and info["case"] in FULL_PERIOD_CASES and info["after"]:
            when_text = f"{span(*info['after'])} (a full {PERIOD_WORD.get(cycle, cycle)})"
        else:
            when_text = span(at, info["before"][1], info["before"]) if info["before"] else ""
        rows.append({"kind": kind, "title": title, "span": when_text, "amount": amount,
                     "camera_name": _who(camera, plan, covered, names)})
    return rows


def camera_rows(stored: dict, names: dict[str, str], catalog: Catalog) -> list[dict]:
    """Each camera whose plan changes: its plan and video history before and after."""
    info = stored["facts"]
    rows = []
    for camera_id, after in info["plans_after"].items():
        before = info["plans_before"].get(camera_id, after)
        if before == after or camera_id not in names:
            continue
        old_days = catalog[before].history_days if before in catalog else 0
        new_days = catalog[after].history_days if after in catalog else 0
        rows.append({
            "camera_name": names[camera_id], "before": _plan_name(catalog, before),
            "after": _plan_name(catalog, after), "old_days": old_days, "new_days": new_days,
            "longer": new_days > old_days,
        })
    return rows


def effect(stored: dict) -> dict:
    """When the change takes effect, as facts for the page's one sentence."""
    info, result = stored["facts"], stored["result"]
    scheduled = (result.get("scheduled_change") or {}).get("cycle")
    before_end = info["before"][1] if info["before"] else None
    return {
        "case": info["case"],
        "at": result["at"],
        "cycle": info["lines"][0][3] if info["lines"] else info.get("cycle_before"),
        "cycle_after": info.get("cycle_after"),
        "period_end": before_end,
        "new_period": info["after"],
        "switches_to": scheduled if scheduled and scheduled != info.get("scheduled_before") else None,
        "drops_switch": bool(info.get("scheduled_before")) and not scheduled,
        "priced_now": bool(info["lines"]),
        "changes_now": bool(info["lines"]) or info["plans_before"] != info["plans_after"],
    }
