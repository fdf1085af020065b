"""The plan catalog is data, validated when loaded (POLICY.md section 1)."""

import re
from pathlib import Path

import pytest

from camcare.domain.catalog import Catalog, CatalogError
from camcare.domain.periods import Cycle
from tests.domain.catalog_texts import FREE, PLUS

SHIPPED = Path(__file__).resolve().parents[2] / "catalog.toml"


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


# ------------------------------------------------------------------ store products

APPLE_PLUS = """
[[store_product]]
store = "apple"
product_id = "com.camcare.app.plus.monthly"
plan = "plus"
cycle = "monthly"
"""


def test_it_maps_the_shipped_store_products_to_plans_and_cycles():
    catalog = Catalog.load(SHIPPED)
    table = {(p.store, p.product_id, p.base_plan): (p.plan, p.cycle.value) for p in catalog.store_products}
    assert table == {
        ("apple", "com.camcare.app.plus.monthly", ""): ("plus", "monthly"),
        ("apple", "com.camcare.app.plus.annual", ""): ("plus", "annual"),
        ("apple", "com.camcare.app.premium.monthly", ""): ("premium", "monthly"),
        ("apple", "com.camcare.app.premium.annual", ""): ("premium", "annual"),
        ("google", "camcare_plus", "monthly"): ("plus", "monthly"),
        ("google", "camcare_plus", "annual"): ("plus", "annual"),
        ("google", "camcare_premium", "monthly"): ("premium", "monthly"),
        ("google", "camcare_premium", "annual"): ("premium", "annual"),
    }


def test_it_finds_a_store_product_by_its_ids_and_nothing_for_an_unknown_one():
    catalog = Catalog.load(SHIPPED)
    assert catalog.store_product("apple", "com.camcare.app.premium.annual").plan == "premium"
    assert catalog.store_product("google", "camcare_plus", "annual").cycle is Cycle.ANNUAL
    assert catalog.store_product("google", "camcare_plus") is None  # Google's are named with a base plan
    assert catalog.store_product("google", "camcare_plus", "weekly") is None
    assert catalog.store_product("apple", "com.camcare.app.plus.monthly", "ignored").plan == "plus"
    assert catalog.store_product("google", "com.camcare.app.plus.monthly") is None  # another store's id


def test_it_loads_a_catalog_without_store_products():
    assert Catalog.from_toml(FREE + PLUS).store_products == ()


BAD_STORE_PRODUCTS = {
    "an unknown store": (APPLE_PLUS.replace('"apple"', '"amazon"'), "store must be one of"),
    "a free plan": (APPLE_PLUS.replace('"plus"', '"free"'), "is not a paid plan"),
    "an unknown plan": (APPLE_PLUS.replace('"plus"', '"gold"'), "is not a paid plan"),
    "a bad cycle": (APPLE_PLUS.replace('"monthly"', '"weekly"'), "cycle must be"),
    "no product id": (APPLE_PLUS.replace('product_id = "com.camcare.app.plus.monthly"', ""), "'product_id' must be"),
    "a blank product id": (APPLE_PLUS.replace('"com.camcare.app.plus.monthly"', '" "'), "'product_id' must be"),
    "a numeric base plan": (APPLE_PLUS + "base_plan = 1\n", "'base_plan' must be str"),
    "the same product twice": (APPLE_PLUS + APPLE_PLUS, "listed twice"),
    "not a table": ("store_product = [1]\n", "must be a table"),
    "not a list": ("store_product = 1\n", "must be [[store_product]] entries"),
}


@pytest.mark.parametrize("case", sorted(BAD_STORE_PRODUCTS))
def test_it_rejects_a_bad_store_product_with_a_clear_error(case):
    text, message = BAD_STORE_PRODUCTS[case]
    with pytest.raises(CatalogError, match=re.escape(message)):
        Catalog.from_toml(text + FREE + PLUS if text.startswith("store_product =") else FREE + PLUS + text)
