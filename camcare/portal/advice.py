"""Plan advice: cheaper choices for the same cameras, with at least the same history.

Pure functions over the catalog (no database): the change and preview pages call
`cheaper_choices` with the state the owner picked and show what it finds, with figures.
Amounts are integers in minor units; yearly figures compare a monthly price x 12 with
the annual price, the only fair common period.
"""

from __future__ import annotations

from dataclasses import dataclass

from camcare.domain.catalog import FREE, Catalog
from camcare.domain.periods import Cycle
from camcare.domain.pricing import PlanState, state_price


@dataclass(frozen=True)
class Advice:
    kind: str  # "account_plan" (move cameras to e.g. premium), "annual", or "account_plan_annual"
    cameras: dict[str, str]  # the suggested state: camera id -> plan code
    cycle: str  # the suggested cycle
    plan_name: str  # the plan the cameras move to ("" for a cycle-only advice)
    moved: int  # how many cameras change plan
    chosen_price: int  # the chosen state's price per period of the chosen cycle
    chosen_cycle: str
    price: int  # the suggestion's price per period of its cycle
    chosen_per_year: int
    per_year: int
    currency: str

    @property
    def saving_per_year(self) -> int:
        return self.chosen_per_year - self.per_year

    @property
    def saving_per_period(self) -> int:
        """Saving per period when both are priced on the same cycle, else 0."""
        return self.chosen_price - self.price if self.cycle == self.chosen_cycle else 0


def price_of(catalog: Catalog, cameras: dict[str, str], cycle: str) -> int:
    """Price per period of a state, in minor units (POLICY.md section 2)."""
    return state_price(PlanState(Cycle(cycle), cameras), catalog)


def per_year(catalog: Catalog, cameras: dict[str, str], cycle: str) -> int:
    return price_of(catalog, cameras, cycle) * (12 // Cycle(cycle).months)


def _consolidations(catalog: Catalog, cameras: dict[str, str]) -> list[tuple[str, dict[str, str], int]]:
    """For each account-scope plan: the state where every paid camera whose history is
    not longer than that plan's joins it (if the plan can hold them all), with the count
    of cameras moved."""
    found = []
    for target in catalog:
        if target.scope != "account" or not target.is_paid:
            continue
        joining = {
            camera: code
            for camera, code in cameras.items()
            if code != FREE and catalog[code].history_days <= target.history_days
        }
        moved = sum(1 for code in joining.values() if code != target.code)
        if not moved or (target.max_cameras is not None and len(joining) > target.max_cameras):
            continue
        found.append((target.code, {**cameras, **dict.fromkeys(joining, target.code)}, moved))
    return found


def cheaper_choices(catalog: Catalog, cameras: dict[str, str], cycle: str) -> list[Advice]:
    """Choices that cost less per year than (`cameras`, `cycle`) for the same cameras, with
    the same or a longer history for each, best saving first. Unknown plan codes or cycles
    give no advice (the form reports them)."""
    if cycle not in {c.value for c in Cycle} or any(code not in catalog for code in cameras.values()):
        return []
    chosen = price_of(catalog, cameras, cycle)
    if chosen == 0:
        return []
    chosen_year = per_year(catalog, cameras, cycle)
    candidates: list[tuple[str, dict[str, str], str, str, int]] = []
    for code, state, moved in _consolidations(catalog, cameras):
        candidates.append(("account_plan", state, cycle, catalog[code].name, moved))
        if cycle == Cycle.MONTHLY:
            candidates.append(("account_plan_annual", state, Cycle.ANNUAL.value, catalog[code].name, moved))
    if cycle == Cycle.MONTHLY:
        candidates.append(("annual", dict(cameras), Cycle.ANNUAL.value, "", 0))
    advice = []
    for kind, state, new_cycle, plan_name, moved in candidates:
        year = per_year(catalog, state, new_cycle)
        if year < chosen_year:
            advice.append(
                Advice(
                    kind=kind, cameras=state, cycle=new_cycle, plan_name=plan_name, moved=moved,
                    chosen_price=chosen, chosen_cycle=cycle,
                    price=price_of(catalog, state, new_cycle),
                    chosen_per_year=chosen_year, per_year=year, currency=catalog.currency,
                )
            )
    return sorted(advice, key=lambda a: -a.saving_per_year)
