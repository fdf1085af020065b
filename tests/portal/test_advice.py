"""Plan advice: cheaper choices for the same cameras, in exact cents (default catalog:
plus 399/3999, premium 1299/12999 for up to 10 cameras)."""

from camcare.catalog import get_catalog
from camcare.portal.advice import cheaper_choices, price_of


def cams(*plans: str) -> dict[str, str]:
    return {f"cam_{index}": plan for index, plan in enumerate(plans)}


def by_kind(advice) -> dict:
    return {tip.kind: tip for tip in advice}


def test_it_prices_a_state_per_line(db):
    assert price_of(get_catalog(), cams("plus", "plus", "free"), "monthly") == 798
    assert price_of(get_catalog(), cams("premium", "premium", "plus"), "annual") == 12999 + 3999


def test_it_advises_premium_for_four_plus_cameras(db):
    tips = by_kind(cheaper_choices(get_catalog(), cams("plus", "plus", "plus", "plus"), "monthly"))
    tip = tips["account_plan"]
    assert (tip.chosen_price, tip.price, tip.saving_per_period) == (1596, 1299, 297)
    assert (tip.chosen_per_year, tip.per_year, tip.saving_per_year) == (19152, 15588, 3564)
    assert tip.cameras == cams("premium", "premium", "premium", "premium")
    assert tip.moved == 4 and tip.plan_name == "Premium"


def test_it_puts_the_best_saving_first(db):
    advice = cheaper_choices(get_catalog(), cams("plus", "plus", "plus", "plus"), "monthly")
    assert [tip.kind for tip in advice] == ["account_plan_annual", "account_plan", "annual"]
    assert [tip.saving_per_year for tip in advice] == [19152 - 12999, 19152 - 15588, 19152 - 15996]


def test_it_does_not_advise_premium_for_three_monthly_plus_cameras(db):
    tips = by_kind(cheaper_choices(get_catalog(), cams("plus", "plus", "plus"), "monthly"))
    assert "account_plan" not in tips  # 3 x 399 = 1197 < 1299
    assert tips["annual"].per_year == 3 * 3999
    assert tips["annual"].saving_per_year == 3 * 399 * 12 - 3 * 3999  # 2367


def test_it_advises_annual_billing_with_the_yearly_figures(db):
    tip = by_kind(cheaper_choices(get_catalog(), cams("plus", "free"), "monthly"))["annual"]
    assert (tip.chosen_price, tip.chosen_per_year, tip.price, tip.saving_per_year) == (399, 4788, 3999, 789)
    assert tip.saving_per_period == 0  # different periods: only the yearly figure compares


def test_it_moves_a_plus_camera_under_an_existing_premium_line(db):
    tip = by_kind(cheaper_choices(get_catalog(), cams("premium", "plus"), "annual"))["account_plan"]
    assert (tip.chosen_price, tip.price, tip.saving_per_period) == (12999 + 3999, 12999, 3999)
    assert tip.moved == 1


def test_it_gives_no_advice_when_nothing_is_cheaper(db):
    assert cheaper_choices(get_catalog(), cams("plus", "plus"), "annual") == []
    assert cheaper_choices(get_catalog(), cams("premium"), "annual") == []
    assert cheaper_choices(get_catalog(), cams("free", "free"), "monthly") == []


def test_it_never_puts_more_cameras_on_premium_than_it_covers(db):
    tips = by_kind(cheaper_choices(get_catalog(), cams(*["plus"] * 11), "monthly"))
    assert set(tips) == {"annual"}


def test_it_gives_no_advice_for_an_unknown_plan_or_cycle(db):
    assert cheaper_choices(get_catalog(), cams("gold", "plus"), "monthly") == []
    assert cheaper_choices(get_catalog(), cams("plus"), "weekly") == []
