"""The plan catalog (POLICY.md section 1): data in catalog.toml, validated when loaded."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

from camcare.domain.money import is_currency_code
from camcare.domain.periods import Cycle

FREE = "free"
STORES = ("apple", "google")  # where a subscription bought in the mobile app is sold


class CatalogError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Plan:
    code: str
    name: str
    scope: str  # "camera": one line per camera; "account": one line for its cameras
    max_cameras: int | None  # None: any number and no price (the free plan)
    history_days: int
    currency: str
    prices: MappingProxyType[Cycle, int]  # minor units per period of each cycle

    def price(self, cycle: Cycle) -> int:
        return self.prices[cycle]

    @property
    def is_paid(self) -> bool:
        return any(self.prices.values())


@dataclass(frozen=True, slots=True)
class StoreProduct:
    """What a subscription bought in an app store entitles: a paid plan on a cycle.

    Apple sells one product per plan and cycle; Google Play sells one subscription per
    plan with a base plan per cycle, so a Google product is named by both ids."""

    store: str  # one of STORES
    product_id: str
    base_plan: str  # Google Play's base plan id; "" when the product alone names it
    plan: str  # a paid plan code of the catalog
    cycle: Cycle


DEFAULT_TRIAL_DAYS = 30  # POLICY.md section 12


class Catalog:
    def __init__(self, plans: list[Plan], store_products: list[StoreProduct] | None = None,
                 trial_days: int = DEFAULT_TRIAL_DAYS):
        self._plans = {plan.code: plan for plan in plans}
        self._validate()
        if type(trial_days) is not int or trial_days < 1:
            raise CatalogError("trial_days must be an int of days >= 1")
        self.trial_days = trial_days  # length of the free trial (POLICY.md section 12), in days
        # Read for every camera of every priced change, so computed once (a catalog never
        # changes once loaded): per cycle, each paid plan's (price per period in minor units,
        # one line per camera?); each plan's history days; each account-scope plan's limit.
        # Their properties are cached_property: after the first read, an attribute read
        # (a property is a Python call, and every preview reads five).
        self._paid_lines = {
            cycle: {plan.code: (plan.price(cycle), plan.scope == "camera") for plan in self if plan.is_paid}
            for cycle in Cycle
        }
        self._history_days = {plan.code: plan.history_days for plan in self}
        self._codes = frozenset(self._plans)
        self._camera_limits = {plan.code: plan.max_cameras for plan in self
                               if plan.scope == "account" and plan.max_cameras is not None}
        self._store_products: dict[tuple[str, str, str], StoreProduct] = {}
        for product in store_products or []:
            self._add_store_product(product)

    def _validate(self) -> None:
        if FREE not in self._plans:
            raise CatalogError("the catalog needs a 'free' plan")
        if self._plans[FREE].is_paid:
            raise CatalogError("the 'free' plan must cost 0")
        currencies = {plan.currency for plan in self._plans.values()}
        if len(currencies) != 1:
            raise CatalogError(f"one currency per catalog, found {sorted(currencies)}")
        for plan in self._plans.values():
            if plan.code != FREE and not plan.is_paid:
                raise CatalogError(f"plan {plan.code!r}: only 'free' may cost nothing")

    def _add_store_product(self, product: StoreProduct) -> None:
        key = (product.store, product.product_id, product.base_plan)
        if product.store not in STORES:
            raise CatalogError(f"store product {product.product_id!r}: store must be one of {list(STORES)}")
        if product.plan not in self._plans or not self._plans[product.plan].is_paid:
            raise CatalogError(f"store product {product.product_id!r}: {product.plan!r} is not a paid plan")
        if key in self._store_products:
            raise CatalogError(f"store product {product.product_id!r} is listed twice for {product.store}")
        self._store_products[key] = product

    def store_product(self, store: str, product_id: str, base_plan: str = "") -> StoreProduct | None:
        """The plan and cycle a store's product entitles, or None for a product the
        catalog does not sell. A base plan listed on its own wins over its product."""
        return (self._store_products.get((store, product_id, base_plan))
                or self._store_products.get((store, product_id, "")))

    @property
    def store_products(self) -> tuple[StoreProduct, ...]:
        return tuple(self._store_products.values())

    def paid_lines(self, cycle: Cycle) -> Mapping[str, tuple[int, bool]]:
        """Each paid plan's (price per period of `cycle` in minor units, one line per camera?);
        a plan missing here is free or unknown."""
        return self._paid_lines[cycle]

    @cached_property
    def codes(self) -> frozenset[str]:
        """The plan codes of the catalog."""
        return self._codes

    @cached_property
    def history_days(self) -> Mapping[str, int]:
        """Each plan's video history in days."""
        return self._history_days

    @cached_property
    def camera_limits(self) -> Mapping[str, int]:
        """The most cameras each account-scope plan with a limit covers."""
        return self._camera_limits

    def __getitem__(self, code: str) -> Plan:
        return self._plans[code]

    def __contains__(self, code: object) -> bool:
        return code in self._plans

    def __iter__(self) -> Iterator[Plan]:
        return iter(self._plans.values())

    @cached_property
    def currency(self) -> str:
        return self._plans[FREE].currency

    @classmethod
    def from_toml(cls, text: str) -> Catalog:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise CatalogError(f"catalog is not valid TOML: {exc}") from exc
        entries = data.get("plan")
        if not isinstance(entries, list) or not entries:
            raise CatalogError("the catalog needs [[plan]] entries")
        plans = [_plan_from_entry(entry) for entry in entries]
        codes = [plan.code for plan in plans]
        if len(set(codes)) != len(codes):
            raise CatalogError(f"duplicate plan codes in {codes}")
        products = data.get("store_product", [])
        if not isinstance(products, list):
            raise CatalogError("store_product must be [[store_product]] entries")
        return cls(plans, [_store_product_from_entry(entry) for entry in products],
                   trial_days=data.get("trial_days", DEFAULT_TRIAL_DAYS))

    @classmethod
    def load(cls, path: Path) -> Catalog:
        return cls.from_toml(Path(path).read_text(encoding="utf-8"))


def _require(entry: dict[str, Any], key: str, kind: type) -> Any:
    value = entry.get(key)
    if type(value) is not kind:
        raise CatalogError(f"plan {entry.get('code')!r}: {key!r} must be {kind.__name__}")
    return value


def _plan_from_entry(entry: Any) -> Plan:
    if not isinstance(entry, dict):
        raise CatalogError("each [[plan]] must be a table")
    code = _require(entry, "code", str)
    if not code.isidentifier() or code != code.lower():
        raise CatalogError(f"plan code {code!r} must be a lower-case identifier")
    scope = _require(entry, "scope", str)
    if scope not in ("camera", "account"):
        raise CatalogError(f"plan {code!r}: scope must be 'camera' or 'account'")
    max_cameras = _require(entry, "max_cameras", int)
    history_days = _require(entry, "history_days", int)
    if max_cameras < 0 or history_days < 1:
        raise CatalogError(f"plan {code!r}: max_cameras >= 0 and history_days >= 1")
    if scope == "camera" and max_cameras not in (0, 1):
        raise CatalogError(f"plan {code!r}: a per-camera plan covers one camera per line")
    currency = _require(entry, "currency", str)
    if not is_currency_code(currency):
        raise CatalogError(f"plan {code!r}: currency {currency!r} is not an ISO code like 'USD'")
    raw_prices = _require(entry, "prices", dict)
    prices = {}
    for cycle in Cycle:
        amount = raw_prices.get(cycle.value)
        if type(amount) is not int or amount < 0:
            raise CatalogError(f"plan {code!r}: price {cycle.value} must be an int of cents >= 0")
        prices[cycle] = amount
    return Plan(
        code=code,
        name=_require(entry, "name", str),
        scope=scope,
        max_cameras=max_cameras or None,
        history_days=history_days,
        currency=currency,
        prices=MappingProxyType(prices),
    )


def _store_product_from_entry(entry: Any) -> StoreProduct:
    if not isinstance(entry, dict):
        raise CatalogError("each [[store_product]] must be a table")
    product_id = entry.get("product_id")
    if type(product_id) is not str or not product_id.strip():
        raise CatalogError("store product: 'product_id' must be a non-empty str")
    fields = {}
    for key in ("store", "plan", "cycle", "base_plan"):
        value = entry.get(key, "" if key == "base_plan" else None)
        if type(value) is not str:
            raise CatalogError(f"store product {product_id!r}: {key!r} must be str")
        fields[key] = value
    if fields["cycle"] not in {cycle.value for cycle in Cycle}:
        raise CatalogError(f"store product {product_id!r}: cycle must be 'monthly' or 'annual'")
    return StoreProduct(store=fields["store"], product_id=product_id, base_plan=fields["base_plan"],
                        plan=fields["plan"], cycle=Cycle(fields["cycle"]))
