"""The plan catalog is data, validated when loaded (POLICY.md section 1)."""

from pathlib import Path

import pytest

from camcare.domain.catalog import Catalog, CatalogError
from camcare.domain.periods import Cycle

SHIPPED = Path(__file__).resolve().parents[2] / "catalog.toml"

FREE = """
[[plan]]
code = "free"
name = "Free"
scope = "camera"
max_cameras = 0
history_days = 2
currency = "USD"
prices = { monthly = 0, annual = 0 }
"""

PLUS = """
[[plan]]
code = "plus"
name = "Plus"
scope = "camera"
max_cameras = 1
history_days = 14
currency = "USD"
prices = { monthly = 399, annual = 3999 }
"""


def test_it_loads_the_shipped_catalog_with_the_policy_prices():
    catalog = Catalog.load(SHIPPED)
    table = {
        plan.code: (plan.scope, plan.max_cameras, plan.history_days, plan.currency,
                    plan.price(Cycle.MONTHLY), plan.price(Cycle.ANNUAL))
        for plan in catalog
    }
    assert table == {
        "free": ("camera", None, 2, "USD", 0, 0),
        "plus": ("camera", 1, 14, "USD", 399, 3999),
        "premium": ("account", 10, 30, "USD", 1299, 12999),
    }
    assert catalog.currency == "USD"
    assert [plan.is_paid for plan in catalog] == [False, True, True]


def test_it_loads_a_minimal_valid_catalog():
    catalog = Catalog.from_toml(FREE + PLUS)
    assert "plus" in catalog and "premium" not in catalog
    assert catalog["plus"].price(Cycle.ANNUAL) == 3999


def _plus_with(**changes) -> str:
    text = PLUS
    for key, value in changes.items():
        lines = [line for line in text.splitlines() if not line.startswith(f"{key} =")]
        if value is not None:
            lines.append(f"{key} = {value}")
        text = "\n".join(lines) + "\n"
    return text


BAD = {
    "not toml": ("[[plan]\ncode = ", "not valid TOML"),
    "no plans": ("title = 'x'\n", "needs [[plan]] entries"),
    "no free plan": (PLUS, "needs a 'free' plan"),
    "a priced free plan": (FREE.replace("monthly = 0", "monthly = 1") + PLUS, "'free' plan must cost 0"),
    "two currencies": (FREE + _plus_with(currency='"EUR"'), "one currency per catalog"),
    "a paid plan at 0": (FREE + _plus_with(prices="{ monthly = 0, annual = 0 }"), "only 'free' may cost nothing"),
    "a duplicate code": (FREE + PLUS + PLUS, "duplicate plan codes"),
    "a float price": (FREE + _plus_with(prices="{ monthly = 3.99, annual = 3999 }"), "price monthly must be an int"),
    "a string price": (FREE + _plus_with(prices='{ monthly = "399", annual = 3999 }'), "price monthly must be an int"),
    "a negative price": (FREE + _plus_with(prices="{ monthly = -399, annual = 3999 }"), "price monthly must be an int"),
    "a missing cycle": (FREE + _plus_with(prices="{ monthly = 399 }"), "price annual must be an int"),
    "a boolean price": (FREE + _plus_with(prices="{ monthly = true, annual = 3999 }"), "price monthly must be an int"),
    "a missing name": (FREE + _plus_with(name=None), "'name' must be str"),
    "a missing code": (FREE + _plus_with(code=None), "'code' must be str"),
    "an upper-case code": (FREE + _plus_with(code='"Plus"'), "lower-case identifier"),
    "a code with a space": (FREE + _plus_with(code='"plus one"'), "lower-case identifier"),
    "an unknown scope": (FREE + _plus_with(scope='"household"'), "scope must be"),
    "a per-camera plan for 2 cameras": (FREE + _plus_with(max_cameras=2), "one camera per line"),
    "negative max_cameras": (FREE + _plus_with(scope='"account"', max_cameras=-1), "max_cameras >= 0"),
    "zero history days": (FREE + _plus_with(history_days=0), "history_days >= 1"),
    "fractional history days": (FREE + _plus_with(history_days=1.5), "'history_days' must be int"),
    "a lower-case currency": (FREE.replace('"USD"', '"usd"') + _plus_with(currency='"usd"'), "not an ISO code"),
    "a currency that is not a code": (FREE.replace('"USD"', '"dollars"') + _plus_with(currency='"dollars"'), "not an ISO code"),
    "prices that are not a table": (FREE + _plus_with(prices="[399, 3999]"), "'prices' must be dict"),
    "a plan that is not a table": ("plan = [1, 2]\n", "must be a table"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_it_rejects_a_bad_catalog_with_a_clear_error(case):
    text, message = BAD[case]
    with pytest.raises(CatalogError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Catalog.from_toml(text)


def test_it_rejects_a_bad_catalog_file(tmp_path):
    path = tmp_path / "catalog.toml"
    path.write_text(PLUS, encoding="utf-8")
    with pytest.raises(CatalogError, match="free"):
        Catalog.load(path)


def test_it_keeps_the_loaded_prices_read_only():
    catalog = Catalog.load(SHIPPED)
    with pytest.raises(TypeError):
        catalog["plus"].prices[Cycle.MONTHLY] = 1
