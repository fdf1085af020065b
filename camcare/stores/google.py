"""Google Play Real-time Developer Notifications, pushed by Pub/Sub (API.md:
`POST /stores/google/notifications`).

Trusted only through the push's OIDC token (Authorization: Bearer): google-auth verifies
its signature against Google's certificates, its audience (the configured one) and its
expiry; then its issuer is Google's and its e-mail the configured, verified service
account. A push that does not verify changes nothing but its own record (NotVerified).

The notification is only a hint: the subscription's whole state is fetched with
`purchases.subscriptionsv2.get` (google_play.py) and applied; a notification whose event
time is older than the state applied changes nothing. De-duplicated by Pub/Sub message id.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from datetime import UTC, datetime

from django.utils.dateparse import parse_datetime
from google.auth import exceptions as auth_exceptions
from google.auth.transport.requests import Request
from google.oauth2 import id_token

from camcare.billing.models import Store
from camcare.catalog import get_catalog
from camcare.domain.periods import add_months, whole_seconds
from camcare.stores import config
from camcare.stores.entitlements import (
    NotVerified,
    PurchaseState,
    Received,
    StoreUnavailable,
    Transaction,
    receive,
    record_rejected,
)
from camcare.stores.google_play import PlayClient, PurchaseGone
from camcare.stores.linking import account_for_token
from camcare.stores.models import PurchaseStatus

log = logging.getLogger("camcare.stores")

GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")

# subscriptionNotification.notificationType, as Google names them.
RTDN_TYPES = {
    1: "SUBSCRIPTION_RECOVERED", 2: "SUBSCRIPTION_RENEWED", 3: "SUBSCRIPTION_CANCELED",
    4: "SUBSCRIPTION_PURCHASED", 5: "SUBSCRIPTION_ON_HOLD", 6: "SUBSCRIPTION_IN_GRACE_PERIOD",
    7: "SUBSCRIPTION_RESTARTED", 8: "SUBSCRIPTION_PRICE_CHANGE_CONFIRMED", 9: "SUBSCRIPTION_DEFERRED",
    10: "SUBSCRIPTION_PAUSED", 11: "SUBSCRIPTION_PAUSE_SCHEDULE_CHANGED", 12: "SUBSCRIPTION_REVOKED",
    13: "SUBSCRIPTION_EXPIRED", 19: "SUBSCRIPTION_PRICE_CHANGE_UPDATED", 20: "SUBSCRIPTION_PENDING_PURCHASE_CANCELED",
}
REVOKED = 12

# SubscriptionPurchaseV2.subscriptionState. CANCELED means "will not renew": it serves
# until its expiry, like an active one.
STATUS_OF_STATE = {
    "SUBSCRIPTION_STATE_ACTIVE": PurchaseStatus.ACTIVE,
    "SUBSCRIPTION_STATE_CANCELED": PurchaseStatus.ACTIVE,
    "SUBSCRIPTION_STATE_IN_GRACE_PERIOD": PurchaseStatus.GRACE,
    "SUBSCRIPTION_STATE_ON_HOLD": PurchaseStatus.BILLING_RETRY,
    "SUBSCRIPTION_STATE_PAUSED": PurchaseStatus.PAUSED,
    "SUBSCRIPTION_STATE_PENDING": PurchaseStatus.PENDING,
    "SUBSCRIPTION_STATE_EXPIRED": PurchaseStatus.EXPIRED,
    "SUBSCRIPTION_STATE_PENDING_PURCHASE_CANCELED": PurchaseStatus.EXPIRED,
}


# ---------------------------------------------------------------- the push's token


def verify_push(authorization: str) -> dict:
    """The verified claims of the push's OIDC token; NotVerified otherwise. StoreUnavailable
    when Google's certificates cannot be fetched (our side: the push is sent again)."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise NotVerified("no bearer token")
    audience, account = config.google_push_audience(), config.google_push_service_account()
    if not audience or not account:
        log.error("Google notifications are misconfigured: set the push audience and service account")
        raise NotVerified("push audience or service account not configured")
    try:
        claims = id_token.verify_token(token, Request(), audience=audience, certs_url=config.google_certs_url())
    except auth_exceptions.TransportError as exc:
        raise StoreUnavailable(f"Google's certificates could not be fetched: {exc}") from exc
    except (ValueError, auth_exceptions.GoogleAuthError) as exc:
        raise NotVerified(f"token: {exc}"[:200]) from exc
    if claims.get("iss") not in GOOGLE_ISSUERS:
        raise NotVerified("token: not issued by Google")
    if claims.get("email") != account or claims.get("email_verified") is not True:
        raise NotVerified("token: not the configured service account")
    return claims


# ---------------------------------------------------------------- the push's message


def parse_push(body: dict) -> tuple[str, dict, str]:
    """(message id, the DeveloperNotification, publish time) of a verified Pub/Sub push
    body; ValueError for one whose data is not a notification."""
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, dict):
        raise ValueError("the body has no Pub/Sub `message`")
    message_id = message.get("messageId") or message.get("message_id")
    if not isinstance(message_id, str) or not message_id or len(message_id) > 255:
        raise ValueError("the message has no `messageId`")
    try:
        text = base64.b64decode(message.get("data") or "", validate=True).decode("utf-8")
        notification = json.loads(text)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ValueError("the message's `data` is not base64 of UTF-8 JSON") from exc
    if not isinstance(notification, dict) or "\x00" in text:  # PostgreSQL stores no NUL
        raise ValueError("the message's `data` is not a DeveloperNotification")
    return message_id, notification, str(message.get("publishTime") or "")


def _event_ms(notification: dict) -> int | None:
    try:
        return int(notification.get("eventTimeMillis"))
    except (TypeError, ValueError):
        return None


def _what(notification: dict) -> tuple[str, dict | None, str]:
    """(kind, the part that names a subscription purchase or None, the purchase token)."""
    if "subscriptionNotification" in notification:
        part = notification["subscriptionNotification"] or {}
        kind = RTDN_TYPES.get(part.get("notificationType"), f"SUBSCRIPTION_{part.get('notificationType')}")
        return kind, part, str(part.get("purchaseToken") or "")
    if "voidedPurchaseNotification" in notification:
        part = notification["voidedPurchaseNotification"] or {}
        if part.get("productType") == 1:  # PRODUCT_TYPE_SUBSCRIPTION
            return "VOIDED_PURCHASE", part, str(part.get("purchaseToken") or "")
        return "VOIDED_PURCHASE", None, ""
    if "testNotification" in notification:
        return "TEST", None, ""
    if "oneTimeProductNotification" in notification:
        return "ONE_TIME_PRODUCT", None, ""
    return "UNKNOWN", None, ""


# ---------------------------------------------------------------- the purchase's state


def _time(text) -> datetime | None:
    parsed = parse_datetime(text) if isinstance(text, str) else None
    return whole_seconds(parsed) if parsed is not None and parsed.tzinfo is not None else None


def state_of(purchase: dict, *, token: str, kind: str, event_ms: int) -> PurchaseState:
    """The purchase's state from its SubscriptionPurchaseV2. A voided purchase is refunded
    and a revoked one revoked, whatever state Google shows for it by now."""
    items = [item for item in purchase.get("lineItems") or [] if isinstance(item, dict)]
    items.sort(key=lambda item: _time(item.get("expiryTime")) or datetime.min.replace(tzinfo=UTC))
    latest = items[-1] if items else {}
    product_id = str(latest.get("productId") or "")
    base_plan = str((latest.get("offerDetails") or {}).get("basePlanId") or "")
    status = STATUS_OF_STATE.get(purchase.get("subscriptionState"), PurchaseStatus.PENDING)
    if kind == "VOIDED_PURCHASE":
        status = PurchaseStatus.REFUNDED
    elif kind == RTDN_TYPES[REVOKED]:
        status = PurchaseStatus.REVOKED
    expires = _time(latest.get("expiryTime"))
    product = get_catalog().store_product(Store.GOOGLE, product_id, base_plan)
    # Google gives no period start: it is the expiry less one cycle of the product.
    start = add_months(expires, -(product.cycle.months if product else 1)) if expires else None
    order_id = str(latest.get("latestSuccessfulOrderId") or purchase.get("latestOrderId") or "")
    return PurchaseState(
        store=Store.GOOGLE, purchase_id=token, state_ms=event_ms, status=status, product_id=product_id,
        base_plan=base_plan, account_token=str((purchase.get("externalAccountIdentifiers") or {})
                                               .get("obfuscatedExternalAccountId") or ""),
        environment="test" if "testPurchase" in purchase else "production",
        quantity=sum(1 for item in items if item.get("productId") == product_id) or 1,
        period_start=start, expires_at=expires,
        grace_until=expires if status == PurchaseStatus.GRACE else None,
        auto_renews=bool((latest.get("autoRenewingPlan") or {}).get("autoRenewEnabled")),
        transactions=(Transaction(order_id, product_id, start, expires),) if order_id else (),
        replaces=str(purchase.get("linkedPurchaseToken") or ""),
    )


def _acknowledge(client: PlayClient, purchase: dict, token: str, package: str) -> None:
    """Acknowledge a linked purchase Google waits for, once its state is committed (an
    unacknowledged one is refunded by Google after three days). One that names no
    account is left so: Google refunds it by itself unless support sorts it out first."""
    if purchase.get("acknowledgementState") != "ACKNOWLEDGEMENT_STATE_PENDING":
        return
    if account_for_token((purchase.get("externalAccountIdentifiers") or {}).get("obfuscatedExternalAccountId")) is None:
        return
    product_id = next((str(item.get("productId")) for item in purchase.get("lineItems") or [] if item.get("productId")), "")

    try:
        client.acknowledge(package, product_id, token)
    except Exception:  # the next notification of the purchase tries again
        log.exception("acknowledging Google Play purchase %s... failed", token[:12])


def receive_push(authorization: str, body: dict) -> Received:
    """Verify the push, record it once, fetch and apply the purchase it names. Raises
    NotVerified, ValueError (a verified push that is no notification), StoreUnavailable,
    StoreSyncBusy."""
    try:
        verify_push(authorization)
    except NotVerified as refused:
        record_rejected(store=Store.GOOGLE, reason=refused.reason)
        raise
    message_id, notification, published = parse_push(body)
    kind, part, token = _what(notification)
    package = str(notification.get("packageName") or "")
    event_ms = _event_ms(notification)
    detail = {"package_name": package, "publish_time": published, "purchase_token": token[:24] + "..." if token else "",
              "subscription_id": (part or {}).get("subscriptionId"), "order_id": (part or {}).get("orderId")}
    client = PlayClient()
    fetched: dict = {}

    def state() -> PurchaseState | None:
        if part is None or not token or event_ms is None or package != config.google_package_name():
            return None
        try:
            fetched.update(client.subscription(package, token))
        except PurchaseGone:
            detail["play_api"] = "the purchase is gone"
            return None
        detail.update(subscription_state=fetched.get("subscriptionState"),
                      acknowledgement_state=fetched.get("acknowledgementState"))
        return state_of(fetched, token=token, kind=kind, event_ms=event_ms)

    received = receive(store=Store.GOOGLE, message_id=message_id, kind=kind, signed_ms=event_ms, detail=detail, state=state)
    if fetched and received.notification.outcome != "stale":
        _acknowledge(client, fetched, token, package)
    return received
