"""Billing state. Every write goes through camcare.billing.actions; reads through selectors.

Amounts are integers in minor units (cents) of `currency`; instants are UTC, whole seconds.
"""

from django.db import models

from camcare import ids


class Channel(models.TextChoices):
    WEB = "web"
    LEGACY_APP = "legacy_app"
    APP_STORE = "app_store"


class Store(models.TextChoices):
    APPLE = "apple", "App Store"
    GOOGLE = "google", "Google Play"


class Subscription(models.Model):
    """An account's one subscription. status "none" = no paid line (every camera on free)."""

    account = models.OneToOneField("accounts.Account", on_delete=models.CASCADE, related_name="subscription")
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.WEB)
    store = models.CharField(max_length=16, choices=Store.choices, blank=True)
    status = models.CharField(max_length=16, default="none")  # domain.pricing.Status
    cycle = models.CharField(max_length=16, default="monthly")  # monthly | annual
    anchor = models.DateTimeField(null=True, blank=True)  # periods are [anchor + k cycles, ...)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)  # exclusive; the next bill's date
    # At most one scheduled change at period_end (POLICY.md section 13): the annual -> monthly
    # switch (scheduled_cycle set) or the stop (scheduled_stop: every camera to free, nothing
    # billed). Scheduling one clears the other.
    scheduled_cycle = models.CharField(max_length=16, blank=True)  # annual -> monthly at period_end
    scheduled_stop = models.BooleanField(default=False)
    currency = models.CharField(max_length=3, default="USD")
    # Bumped by every committed change of state or money; quotes are bound to it.
    version = models.PositiveIntegerField(default=0)
    # Order id of the paid change or renewal in flight (ARCHITECTURE.md three steps), else "".
    claimed_by = models.CharField(max_length=16, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # past_due only: failed attempts at the current bill and when the next retry falls due.
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    next_retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "period_end"]),
            # The past-due side of the billing run's due query.
            models.Index(fields=["status", "next_retry_at"], name="billing_sub_retry"),
            # The reconciler's scan: only claimed rows are in it (a handful at any time).
            models.Index(fields=["claimed_by"], condition=~models.Q(claimed_by=""), name="billing_sub_claimed"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(scheduled_stop=True) | models.Q(scheduled_cycle=""),
                name="subscription_one_scheduled_change",
            ),
        ]


class SubscriptionLine(models.Model):
    """A priced line held in the current period. ended_at set = removed (kept for history)."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="lines")
    plan = models.CharField(max_length=32)
    camera_key = models.CharField(max_length=24, blank=True)  # camera id; "" for account scope
    cycle = models.CharField(max_length=16)
    unit_price = models.PositiveIntegerField()  # minor units per period, the price billed at
    paid = models.PositiveIntegerField()  # minor units paid for period_start's period; 0 unpaid
    credited = models.PositiveIntegerField(default=0)  # minor units credited back; <= paid
    period_start = models.DateTimeField()
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["subscription", "ended_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(credited__lte=models.F("paid")), name="line_credit_le_paid"
            ),
        ]


class TrialUse(models.Model):
    """What used up the free trial (POLICY.md section 12): an account, or a camera serial
    (trimmed and upper-cased, as registration stores it), that has had a web paid line or
    a trial. Kept when the camera or the account's lines go, so a serial moved to another
    account still has had its trial. App-store subscriptions write none: the stores run
    their own trials, which use up nothing here."""

    class Kind(models.TextChoices):
        ACCOUNT = "account"
        SERIAL = "serial"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    key = models.CharField(max_length=100)  # str(account pk), or the serial
    at = models.DateTimeField()  # the first paid line or trial (the account's clock)
    trial = models.BooleanField()  # the first use was a trial (else a paid line)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="trial_use_once")]


class PaymentMethod(models.Model):
    id = models.CharField(primary_key=True, max_length=24, default=ids.payment_method_id, editable=False)
    account = models.OneToOneField("accounts.Account", on_delete=models.CASCADE, related_name="payment_method")
    token = models.CharField(max_length=64)  # gateway token (sandbox: tok_visa...)
    brand = models.CharField(max_length=32)
    last4 = models.CharField(max_length=4)
    # The card's expiry (month 1-12, four-digit year), both or neither: null = not given
    # (unknown), which never makes a card-expiring notice (POLICY.md section 15). A card is
    # valid through the last instant of its expiry month (UTC).
    exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(exp_month__isnull=True, exp_year__isnull=True)
                           | models.Q(exp_month__gte=1, exp_month__lte=12, exp_year__gte=2000)),
                name="payment_method_expiry_valid",
            ),
        ]


class Quote(models.Model):
    """A priced change, bound to the account, the target, the version and the instant."""

    id = models.CharField(primary_key=True, max_length=24, default=ids.quote_id, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="quotes")
    version = models.PositiveIntegerField()  # Subscription.version when priced
    at = models.DateTimeField()  # the instant t the change is priced at
    target = models.JSONField()  # {"cycle": str|None, "cameras": {id: plan}}: resolved, complete
    outcome = models.JSONField()  # the serialized domain Outcome
    created_at = models.DateTimeField()
    executed_at = models.DateTimeField(null=True, blank=True)


class OrderKind(models.TextChoices):
    CHARGE = "charge"
    REFUND = "refund"
    CREDIT = "credit"


class Purpose(models.TextChoices):
    """Why an order was made; the reconciler settles each purpose its own way."""

    CHANGE = "change"  # a plan change by the owner (a quote executed)
    RENEWAL = "renewal"  # a period billed, or a retry of its unpaid bill
    SUPPORT = "support"  # a refund or a credit issued by support staff


class OrderStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Order(models.Model):
    """An event that moves money, with the Order ID people quote (POLICY.md section 7)."""

    order_id = models.CharField(max_length=16, unique=True)  # ORD- + 10 Crockford base32
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="orders")
    kind = models.CharField(max_length=8, choices=OrderKind.choices)
    status = models.CharField(max_length=10, choices=OrderStatus.choices)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    # The claim (billing.actions.payments) under which it was written; every pending order
    # belongs to the claim in flight on its subscription, so a crash is settled by claim.
    claim = models.CharField(max_length=16, blank=True, db_index=True)
    amount = models.PositiveIntegerField()  # minor units: card part of a charge; refund; credit
    credit_used = models.PositiveIntegerField(default=0)  # minor units of credit spent (charges)
    currency = models.CharField(max_length=3)
    refers_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="refunds")
    description = models.CharField(max_length=200)
    created_at = models.DateTimeField()
    settled_at = models.DateTimeField(null=True, blank=True)
    period_start = models.DateTimeField(null=True, blank=True)  # the billing period it pays
    quote = models.ForeignKey(Quote, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders")
    gateway_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    gateway_ref = models.CharField(max_length=40, blank=True)  # the gateway's charge/refund id
    card_brand = models.CharField(max_length=32, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    failure_code = models.CharField(max_length=40, blank=True)
    failure_message = models.CharField(max_length=200, blank=True)
    reason = models.TextField(blank=True)  # support orders: why staff issued it

    class Meta:
        indexes = [models.Index(fields=["account", "-created_at"]), models.Index(fields=["status"])]


class Book(models.TextChoices):
    """Ledger accounts (POLICY.md section 8). Debit positive, credit negative."""

    GATEWAY = "gateway"  # cash at the payment gateway: + received by card, - returned
    CUSTOMER_CREDIT = "customer_credit"  # per customer; negative balance = what camcare owes
    SALES = "sales"  # negative = service sold, net of proration credits
    RECEIVABLE = "receivable"  # per customer; positive = an unpaid renewal
    ADJUSTMENTS = "adjustments"  # goodwill credits and refunds issued by support


class LedgerEntry(models.Model):
    """Append-only. The entries of one posting sum to zero; a correction is a new posting."""

    posting = models.CharField(max_length=24, db_index=True)
    at = models.DateTimeField()
    book = models.CharField(max_length=16, choices=Book.choices)
    account = models.ForeignKey("accounts.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries")
    amount = models.BigIntegerField()  # signed minor units
    currency = models.CharField(max_length=3)
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries")
    memo = models.CharField(max_length=200)

    class Meta:
        indexes = [models.Index(fields=["account", "book"])]


class SandboxCharge(models.Model):
    """The sandbox gateway's own record of a charge (as a real gateway keeps on its side)."""

    id = models.CharField(primary_key=True, max_length=32)
    idempotency_key = models.CharField(max_length=200, unique=True)
    token = models.CharField(max_length=64)
    amount = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    succeeded = models.BooleanField()
    decline_code = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)


class SandboxRefund(models.Model):
    id = models.CharField(primary_key=True, max_length=32)
    idempotency_key = models.CharField(max_length=200, unique=True)
    charge = models.ForeignKey(SandboxCharge, on_delete=models.PROTECT, related_name="refunds")
    amount = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
