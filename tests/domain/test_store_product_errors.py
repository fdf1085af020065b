"""What the catalog says, word for word, of a bad [[store_product]] (the plans a subscription
bought in an app store entitles, POLICY.md section 1's catalog as data): an operator fixing
catalog.toml reads these at start-up."""

import pytest

from camcare.domain.catalog import Catalog, CatalogError

PLANS = """
[[plan]]
code = "free"
name = "Free"
scope = "camera"
max_cameras = 0
history_days = 2
currency = "USD"
prices = { monthly = 0, annual = 0 }

[[plan]]
code = "plus"
name = "Plus"
scope = "camera"
max_cameras = 1
history_days = 14
currency = "USD"
prices = { monthly = 399, annual = 3999 }
"""

APPLE_PLUS = {"store": '"apple"', "product_id": '"com.camcare.app.plus.monthly"', "plan": '"plus"',
              "cycle": '"monthly"'}


def store_product(**fields) -> str:
    """A [[store_product]] entry: APPLE_PLUS with `fields` changed (None leaves a key out)."""
    entry = {**APPLE_PLUS, **fields}
    return "\n[[store_product]]\n" + "".join(f"{key} = {value}\n" for key, value in entry.items() if value is not None)


def refusal(text: str) -> str:
    with pytest.raises(CatalogError) as refused:
        Catalog.from_toml(text)
    return str(refused.value)


@pytest.mark.parametrize("key", ["store", "plan", "cycle"])
def test_it_names_a_missing_key_of_a_store_product(key):
    assert refusal(PLANS + store_product(**{key: None})) == (
        f"store product 'com.camcare.app.plus.monthly': '{key}' must be str")


def test_it_says_store_products_must_be_entries():
    assert refusal('store_product = { store = "apple" }\n' + PLANS) == (
        "store_product must be [[store_product]] entries")


def test_it_says_each_store_product_must_be_a_table():
    assert refusal("store_product = ['apple']\n" + PLANS) == "each [[store_product]] must be a table"


@pytest.mark.parametrize("product_id", [None, '""', '"  "', "7"])
def test_it_says_a_store_product_needs_a_product_id(product_id):
    assert refusal(PLANS + store_product(product_id=product_id)) == (
        "store product: 'product_id' must be a non-empty str")


def test_it_takes_a_missing_base_plan_as_empty():
    catalog = Catalog.from_toml(PLANS + store_product())
    assert [(p.product_id, p.base_plan) for p in catalog.store_products] == [("com.camcare.app.plus.monthly", "")]
