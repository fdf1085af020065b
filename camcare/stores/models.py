"""What the App Store and Google Play told us: each purchase made in the mobile app, its
transactions, and every notification received with its verification result.

These rows are the stores' word, kept as they said it; what a purchase entitles the
account to is billing state, written only by camcare.billing.actions.store_entitlements.
Instants are UTC; the stores' own millisecond times are kept beside them where the order
of two notifications depends on them.
"""

from __future__ import annotations

from django.db import models

from camcare.billing.models import Store


class PurchaseStatus(models.TextChoices):
    ACTIVE = "active", "Active"  # paid for its period, renewing or not
    GRACE = "grace", "Billing grace"  # a renewal failed; the store retries and service goes on until grace_until
    BILLING_RETRY = "billing_retry", "Payment failed"  # a renewal failed, no grace: no service while the store retries
    PAUSED = "paused", "Paused"  # Google Play: paused by the owner, no service
    PENDING = "pending", "Payment pending"  # Google Play: bought, not paid yet
    EXPIRED = "expired", "Expired"
    REFUNDED = "refunded", "Refunded"
    REVOKED = "revoked", "Revoked"  # Apple: family sharing withdrawn; Google: revoked by the developer
    REPLACED = "replaced", "Replaced"  # Google Play: a new purchase token took over (a plan change)


ENTITLING = (PurchaseStatus.ACTIVE, PurchaseStatus.GRACE)


class Role(models.TextChoices):
    """How a purchase stands towards its account's one Subscription (README, "App-store
    subscriptions"): it holds it, or it is kept beside it and flagged to support."""

    HOLDS = "holds", "Holds the account's subscription"
    BESIDE_WEB = "beside_web", "Beside a paid web subscription"
    BESIDE_STORE = "beside_store", "Beside another store subscription"
    UNLINKED = "unlinked", "Names no known account"
    UNKNOWN_PRODUCT = "unknown_product", "A product the catalog does not sell"
    ENDED = "ended", "Entitles nothing now"


FLAGGED = (Role.BESIDE_WEB, Role.BESIDE_STORE, Role.UNLINKED, Role.UNKNOWN_PRODUCT)


class StorePurchase(models.Model):
    """One subscription bought in the app: Apple's originalTransactionId, or Google
    Play's purchase token (a plan change on Google Play makes a new token that replaces
    the old one)."""

    store = models.CharField(max_length=16, choices=Store.choices)
    purchase_id = models.CharField(max_length=255)
    # Null: the purchase names no known account. It is kept and shown to support, and is
    # never applied to any account.
    account = models.ForeignKey("accounts.Account", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="store_purchases")
    # What the purchase names: Apple's appAccountToken, Google's obfuscatedExternalAccountId.
    account_token = models.CharField(max_length=100, blank=True)
    environment = models.CharField(max_length=16, blank=True)  # Apple: Production/Sandbox; Google: production/test
    product_id = models.CharField(max_length=255)
    base_plan = models.CharField(max_length=100, blank=True)  # Google Play's base plan id
    plan = models.CharField(max_length=32, blank=True)  # catalog plan code; "" for an unknown product
    cycle = models.CharField(max_length=16, blank=True)  # monthly | annual; "" for an unknown product
    quantity = models.PositiveSmallIntegerField(default=1)  # purchased lines (Plus: cameras covered)
    status = models.CharField(max_length=16, choices=PurchaseStatus.choices)
    period_start = models.DateTimeField(null=True, blank=True)  # the current store period
    expires_at = models.DateTimeField(null=True, blank=True)  # its end (exclusive): renewal or expiry
    grace_until = models.DateTimeField(null=True, blank=True)  # status grace: service until then
    auto_renews = models.BooleanField(default=False)
    renewal_product_id = models.CharField(max_length=255, blank=True)  # the next period's, when it differs (a downgrade)
    # The store's time (ms since the epoch) of the newest state applied: Apple's signedDate,
    # Google's eventTimeMillis. A notification older than it never overwrites it.
    state_ms = models.BigIntegerField(default=0)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ENDED)
    replaced_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replaces")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["store", "purchase_id"], name="store_purchase_unique")]
        indexes = [models.Index(fields=["role"]), models.Index(fields=["account", "role"])]

    def __str__(self) -> str:
        return f"{self.store} {self.purchase_id[:24]}"

    @property
    def is_flagged(self) -> bool:
        return self.role in FLAGGED

    def access_end(self):
        """When service ends as the store last said: the grace's end, else the period's."""
        return self.grace_until if self.status == PurchaseStatus.GRACE and self.grace_until else self.expires_at


class StoreTransaction(models.Model):
    """A transaction of a purchase, as support quotes it to the store: Apple's
    transactionId, Google Play's order id (GPA....; renewals add ..0, ..1)."""

    purchase = models.ForeignKey(StorePurchase, on_delete=models.CASCADE, related_name="transactions")
    transaction_id = models.CharField(max_length=255)
    product_id = models.CharField(max_length=255, blank=True)
    purchased_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)  # refunded or revoked
    first_seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["purchase", "transaction_id"], name="store_transaction_unique")]


class Outcome(models.TextChoices):
    APPLIED = "applied", "Applied"
    STALE = "stale", "Older than the state applied: not applied"
    UNLINKED = "unlinked", "Kept: names no known account"
    IGNORED = "ignored", "Nothing to apply"
    REJECTED = "rejected", "Did not verify: nothing changed"


class StoreNotification(models.Model):
    """One notification received, verified or not, and what came of it."""

    store = models.CharField(max_length=16, choices=Store.choices)
    # Apple's notificationUUID, Pub/Sub's message id. Null (not "": NULLs never collide in
    # the unique constraint) when it did not verify: an unverified body's ids are nobody's
    # word, and must not block the real one.
    message_id = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    received_at = models.DateTimeField()  # real time
    deliveries = models.PositiveIntegerField(default=1)  # the store sent it again: answered 200, applied once
    verified = models.BooleanField()
    verification = models.CharField(max_length=200)  # "verified", or why it was refused
    kind = models.CharField(max_length=64, blank=True)  # notificationType (Apple) / RTDN type (Google)
    subtype = models.CharField(max_length=64, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)  # the store's signedDate / eventTime
    signed_ms = models.BigIntegerField(null=True, blank=True)  # the same, in ms since the epoch
    purchase = models.ForeignKey(StorePurchase, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="notifications")
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    detail = models.JSONField(default=dict, blank=True)  # what it said, for support (never a credential)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["store", "message_id"], name="store_notification_once")]
        indexes = [models.Index(fields=["verified", "-received_at"])]
        ordering = ["-received_at", "-id"]
