"""Reads of the stores' records, as the owner's pages and the support console show them."""

from __future__ import annotations

from camcare import clock
from camcare.billing import selectors as billing_selectors
from camcare.billing.channels import STORE_NAMES, STORE_STEPS
from camcare.billing.models import Channel
from camcare.catalog import get_catalog
from camcare.stores.entitlements import entitles
from camcare.stores.models import PurchaseStatus, Role, StoreNotification, StorePurchase

NOTIFICATIONS_SHOWN = 100
FLAG_TEXT = {
    Role.BESIDE_WEB: "Two subscriptions: this store purchase is paid beside a paid web subscription.",
    Role.BESIDE_STORE: "Two store subscriptions: another store purchase holds the account.",
    Role.UNLINKED: "Names no known account: not applied to any.",
    Role.UNKNOWN_PRODUCT: "A product the catalog does not sell: entitles nothing.",
}


def _product_name(purchase: StorePurchase) -> str:
    catalog = get_catalog()
    if purchase.plan not in catalog:
        return purchase.product_id
    return f"{catalog[purchase.plan].name} {purchase.cycle}"


def _renewal_name(purchase: StorePurchase) -> str:
    """The plan of the next period when it differs (a downgrade waiting for the renewal)."""
    if not purchase.renewal_product_id:
        return ""
    catalog = get_catalog()
    product = catalog.store_product(purchase.store, purchase.renewal_product_id, purchase.base_plan)
    return f"{catalog[product.plan].name} {product.cycle.value}" if product else purchase.renewal_product_id


def effective_status(purchase: StorePurchase, at) -> str:
    """The status as of `at`: an entitling one whose service ended with no word from the
    store reads as expired."""
    if purchase.status in (PurchaseStatus.ACTIVE, PurchaseStatus.GRACE) and purchase.plan and not entitles(purchase, at):
        return PurchaseStatus.EXPIRED.label
    return purchase.get_status_display()


def _owner_row(purchase: StorePurchase) -> dict:
    return {
        "store": purchase.store,
        "store_name": STORE_NAMES.get(purchase.store, "the app store"),
        "steps": STORE_STEPS.get(purchase.store, []),
        "product": _product_name(purchase),
        "renews": purchase.auto_renews,
        "renewal_product": _renewal_name(purchase),
        "period_end": purchase.expires_at,
        "grace_until": purchase.grace_until if purchase.status == PurchaseStatus.GRACE else None,
        "beside_web": purchase.role == Role.BESIDE_WEB,
        "holds": purchase.role == Role.HOLDS,
    }


def owner_panel(account) -> dict:
    """What the owner's pages show of their store subscriptions: each purchase giving
    service now (the one holding the account's subscription first), and the steps to
    change or cancel it in its store. An imported app_store subscription (no purchase
    record) is shown from the subscription itself."""
    at = clock.now(account)
    purchases = [p for p in StorePurchase.objects.filter(account=account, role__in=[Role.HOLDS, Role.BESIDE_WEB, Role.BESIDE_STORE])
                 if entitles(p, at)]
    purchases.sort(key=lambda p: p.role != Role.HOLDS)
    rows = [_owner_row(purchase) for purchase in purchases]
    subscription = billing_selectors.subscription_or_none(account)
    is_store = subscription is not None and subscription.channel == Channel.APP_STORE and subscription.status != "none"
    if is_store and not any(row["holds"] for row in rows):
        rows.insert(0, {
            "store": subscription.store, "store_name": STORE_NAMES.get(subscription.store, "the app store"),
            "steps": STORE_STEPS.get(subscription.store, []), "product": "", "renews": None, "renewal_product": "",
            "period_end": subscription.period_end, "grace_until": None, "beside_web": False, "holds": True,
        })
    return {"rows": rows, "two_subscriptions": any(row["beside_web"] for row in rows)}


def _support_row(purchase: StorePurchase, at) -> dict:
    return {
        "purchase": purchase,
        "product": _product_name(purchase),
        "renewal_product": _renewal_name(purchase),
        "status": effective_status(purchase, at),
        "flag": FLAG_TEXT.get(purchase.role, ""),
        "transactions": list(purchase.transactions.order_by("-purchased_at", "-id")),
    }


def support_panel(account) -> dict:
    """The support console's view of an account's store subscriptions: every purchase
    with its transaction ids and flags, and every notification received for them with its
    verification result (newest first)."""
    at = clock.now(account)
    purchases = list(StorePurchase.objects.filter(account=account).order_by("-updated_at", "-pk"))
    notifications = list(StoreNotification.objects.filter(purchase__account=account)
                         .select_related("purchase")[:NOTIFICATIONS_SHOWN])
    rows = [_support_row(purchase, at) for purchase in purchases]
    return {
        "purchases": rows,
        "notifications": notifications,
        "flags": [row["flag"] for row in rows if row["flag"]],
    }


def unlinked_panel() -> dict:
    """The support page of purchases no account holds: those naming no known account, and
    the notifications that did not verify (no account can be trusted from them)."""
    now = clock.real_now()
    purchases = list(StorePurchase.objects.filter(account__isnull=True).order_by("-updated_at", "-pk")[:200])
    return {
        "purchases": [_support_row(purchase, now) for purchase in purchases],
        "flagged": [_support_row(p, now) for p in StorePurchase.objects.filter(
            account__isnull=False, role__in=[Role.BESIDE_WEB, Role.BESIDE_STORE, Role.UNKNOWN_PRODUCT])
            .select_related("account").order_by("-updated_at")[:200]],
        "rejected": list(StoreNotification.objects.filter(verified=False)[:NOTIFICATIONS_SHOWN]),
    }
