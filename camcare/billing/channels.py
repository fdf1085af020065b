"""Where a subscription was bought, and what an owner of an app-store one is told."""

from __future__ import annotations

from camcare.billing.models import Channel, Store

STORE_NAMES = {Store.APPLE: "the App Store", Store.GOOGLE: "Google Play"}

# The exact steps to cancel in each store (POLICY.md section 4: "the steps to cancel").
STORE_STEPS = {
    Store.APPLE: [
        "On your iPhone or iPad, open Settings and tap your name.",
        "Tap Subscriptions, then camcare.",
        "Tap Cancel Subscription (or choose another plan there).",
    ],
    Store.GOOGLE: [
        "Open the Google Play Store app and tap your profile picture.",
        "Tap Payments & subscriptions, then Subscriptions, then camcare.",
        "Tap Cancel subscription (or change the plan there).",
    ],
}


def is_store_managed(subscription) -> bool:
    """An app-store subscription with a paid line: changed only in its store."""
    return subscription is not None and subscription.channel == Channel.APP_STORE and subscription.status != "none"


def store_of(subscription) -> str:
    return subscription.store or Store.APPLE
