"""App Store Server Notifications V2 (API.md: `POST /stores/apple/notifications`).

Trusted only through the signature: the signedPayload, and the transaction and renewal
info signed inside it, are each verified by Apple's own SignedDataVerifier against the
configured root certificates, bundle id, app id and environment. A payload that does not
verify changes nothing but its own record (NotVerified).

The purchase's state is read from the verified transaction (product, period, quantity,
revocation) and renewal info (auto-renew, the next period's product, the billing grace),
and the notification's type says what the store did:

  SUBSCRIBED, DID_RENEW, DID_CHANGE_RENEWAL_STATUS, DID_CHANGE_RENEWAL_PREF (an upgrade
  takes effect now: the transaction is the new product's; a downgrade at the renewal: the
  renewal info names it), REFUND_REVERSED, OFFER_REDEEMED, RENEWAL_EXTENDED,
  PRICE_INCREASE, REFUND_DECLINED        -> active (as the transaction says)
  DID_FAIL_TO_RENEW with subtype GRACE_PERIOD -> grace: service until the grace's end
  DID_FAIL_TO_RENEW without it, GRACE_PERIOD_EXPIRED -> billing retry: no service
  EXPIRED -> expired; REFUND -> refunded; REVOKE -> revoked
  anything else (TEST, CONSUMPTION_REQUEST...) -> recorded, nothing applied
"""

from __future__ import annotations

import logging

from appstoreserverlibrary.models.NotificationTypeV2 import NotificationTypeV2 as Kind
from appstoreserverlibrary.models.Subtype import Subtype
from appstoreserverlibrary.signed_data_verifier import SignedDataVerifier, VerificationException

from camcare.billing.models import Store
from camcare.stores import config
from camcare.stores.entitlements import (
    NotVerified,
    PurchaseState,
    Received,
    Transaction,
    instant,
    receive,
    record_rejected,
)
from camcare.stores.models import PurchaseStatus

log = logging.getLogger("camcare.stores")

STATUS_OF = {
    Kind.EXPIRED: PurchaseStatus.EXPIRED,
    Kind.REFUND: PurchaseStatus.REFUNDED,
    Kind.REVOKE: PurchaseStatus.REVOKED,
    Kind.GRACE_PERIOD_EXPIRED: PurchaseStatus.BILLING_RETRY,
}
ACTIVE_KINDS = {
    Kind.SUBSCRIBED, Kind.DID_RENEW, Kind.DID_CHANGE_RENEWAL_STATUS, Kind.DID_CHANGE_RENEWAL_PREF,
    Kind.REFUND_REVERSED, Kind.OFFER_REDEEMED, Kind.RENEWAL_EXTENDED, Kind.PRICE_INCREASE, Kind.REFUND_DECLINED,
}
HANDLED = ACTIVE_KINDS | set(STATUS_OF) | {Kind.DID_FAIL_TO_RENEW}
AUTO_RENEWABLE = "Auto-Renewable Subscription"


def verifier() -> SignedDataVerifier:
    try:
        return SignedDataVerifier(
            root_certificates=config.apple_root_certificates(), enable_online_checks=config.apple_online_checks(),
            environment=config.apple_environment(), bundle_id=config.apple_bundle_id(), app_apple_id=config.apple_app_id(),
        )
    except (ValueError, OSError) as exc:  # e.g. Production without an app id, an unreadable certificate file
        # Nothing can verify without the trust configured: the payload is refused like any
        # unverifiable one (400, like Google's unconfigured push), and the log says why.
        log.error("Apple notifications are misconfigured: %s", exc)
        raise NotVerified(f"not configured: {exc}") from exc


def _verified(signed_payload: str):
    """(notification, transaction, renewal info), each verified; NotVerified otherwise."""
    checker = verifier()
    try:
        notification = checker.verify_and_decode_notification(signed_payload)
        data = notification.data
        transaction = renewal = None
        if data is not None and data.signedTransactionInfo:
            transaction = checker.verify_and_decode_signed_transaction(data.signedTransactionInfo)
        if data is not None and data.signedRenewalInfo:
            renewal = checker.verify_and_decode_renewal_info(data.signedRenewalInfo)
    except VerificationException as exc:
        raise NotVerified(exc.status.name) from exc
    if not notification.notificationUUID or notification.signedDate is None:
        raise NotVerified("NO_NOTIFICATION_ID")
    return notification, transaction, renewal


def _status(notification, transaction, renewal) -> PurchaseStatus:
    kind = notification.notificationType
    if kind == Kind.EXPIRED and notification.subtype == Subtype.BILLING_RETRY:
        return PurchaseStatus.BILLING_RETRY  # the store's retries ran out: a failed payment, not a choice
    if kind in STATUS_OF:
        return STATUS_OF[kind]
    if kind == Kind.DID_FAIL_TO_RENEW:
        return PurchaseStatus.GRACE if notification.subtype == Subtype.GRACE_PERIOD else PurchaseStatus.BILLING_RETRY
    if transaction.revocationDate is not None:  # e.g. a renewal-status change after a refund
        return PurchaseStatus.REFUNDED
    return PurchaseStatus.ACTIVE


def state_of(notification, transaction, renewal) -> PurchaseState | None:
    """The purchase's state as the verified notification says it, or None when there is
    nothing to apply (a type not handled, no transaction, not a subscription)."""
    if notification.notificationType not in HANDLED or transaction is None or not transaction.originalTransactionId:
        return None
    if transaction.rawType and transaction.rawType != AUTO_RENEWABLE:
        return None
    status = _status(notification, transaction, renewal)
    return PurchaseState(
        store=Store.APPLE, purchase_id=transaction.originalTransactionId, state_ms=notification.signedDate,
        status=status, product_id=transaction.productId or "",
        account_token=transaction.appAccountToken or (renewal.appAccountToken if renewal else "") or "",
        environment=transaction.rawEnvironment or "", quantity=transaction.quantity or 1,
        period_start=instant(transaction.purchaseDate), expires_at=instant(transaction.expiresDate),
        grace_until=instant(renewal.gracePeriodExpiresDate) if renewal and status == PurchaseStatus.GRACE else None,
        auto_renews=bool(renewal and renewal.rawAutoRenewStatus == 1),
        renewal_product_id=(renewal.autoRenewProductId or "") if renewal else "",
        transactions=(Transaction(
            transaction.transactionId or "", transaction.productId or "", instant(transaction.purchaseDate),
            instant(transaction.expiresDate), instant(transaction.revocationDate),
        ),),
    )


def _detail(notification, transaction, renewal) -> dict:
    """What support reads of it: the store's facts, never the signed blobs."""
    detail = {"environment": notification.data.rawEnvironment if notification.data else None}
    if transaction is not None:
        detail.update(
            original_transaction_id=transaction.originalTransactionId, transaction_id=transaction.transactionId,
            product_id=transaction.productId, purchase_date=transaction.purchaseDate,
            expires_date=transaction.expiresDate, revocation_date=transaction.revocationDate,
            quantity=transaction.quantity, app_account_token=transaction.appAccountToken,
        )
    if renewal is not None:
        detail.update(auto_renew_status=renewal.rawAutoRenewStatus, auto_renew_product_id=renewal.autoRenewProductId,
                      grace_period_expires_date=renewal.gracePeriodExpiresDate,
                      is_in_billing_retry_period=renewal.isInBillingRetryPeriod)
    return detail


def receive_notification(signed_payload: str) -> Received:
    """Verify, record once, apply. Raises NotVerified (recorded as rejected; nothing else
    changed), StoreUnavailable or StoreSyncBusy (nothing written: Apple sends it again)."""
    try:
        notification, transaction, renewal = _verified(signed_payload)
    except NotVerified as refused:
        record_rejected(store=Store.APPLE, reason=refused.reason, detail={"size": len(signed_payload)})
        raise
    return receive(
        store=Store.APPLE, message_id=notification.notificationUUID,
        kind=notification.rawNotificationType or "", subtype=notification.rawSubtype or "",
        signed_ms=notification.signedDate, detail=_detail(notification, transaction, renewal),
        state=lambda: state_of(notification, transaction, renewal),
    )
