"""The audit log: who did what to which account, with the values before and after."""

from __future__ import annotations

from enum import StrEnum

from camcare import clock
from camcare.audit.models import AuditEvent


class Event(StrEnum):
    """Every action the audit log records; the support timeline reads these names."""

    SUBSCRIPTION_SUBSCRIBE = "subscription.subscribe"
    SUBSCRIPTION_CANCEL = "subscription.cancel"
    SUBSCRIPTION_UPGRADE = "subscription.upgrade"
    SUBSCRIPTION_DOWNGRADE = "subscription.downgrade"
    SUBSCRIPTION_TO_ANNUAL = "subscription.to_annual"
    SUBSCRIPTION_SCHEDULE_ONLY = "subscription.schedule_only"
    SUBSCRIPTION_NOTHING = "subscription.nothing"
    SUBSCRIPTION_TRIAL = "subscription.trial"  # a free trial started (POLICY.md section 12)
    TRIAL_ENDED_UNPAID = "subscription.trial_ended_unpaid"  # no card at its end: to free, clips held
    CHANGE_PAYMENT_FAILED = "change.payment_failed"
    SCHEDULED_CHANGE_DROPPED = "subscription.scheduled_change_dropped"
    STOP_SCHEDULED = "subscription.stop_scheduled"  # renewal off: to free at the period end
    STOPPED = "subscription.stopped"  # the scheduled stop carried out at the period end
    RENEWED = "subscription.renewed"
    RENEWAL_FAILED = "subscription.renewal_failed"
    RETRY_FAILED = "subscription.retry_failed"
    UNPAID_BILL_PAID = "subscription.unpaid_bill_paid"
    LAPSED_TO_FREE = "subscription.lapsed_to_free"
    IMPORTED = "subscription.imported"
    PAYMENT_METHOD_SAVED = "payment_method.saved"
    CAMERA_REMOVED = "camera.removed"
    TEST_CLOCK_ADVANCED = "test_clock.advanced"
    SUPPORT_CREDIT = "support.credit"
    SUPPORT_REFUND = "support.refund"
    SUPPORT_SEARCHED = "support.searched"
    SUPPORT_VIEWED_ACCOUNT = "support.viewed_account"
    CAMERA_REPLACED = "camera.replaced"
    # The console's second factor (the account is the staff member's own) and its roles.
    SUPPORT_VERIFIED = "support.verified"
    SUPPORT_VERIFY_FAILED = "support.verify_failed"
    SUPPORT_DEVICE_ENROL_STARTED = "support.device_enrol_started"
    SUPPORT_DEVICE_ENROLLED = "support.device_enrolled"
    SUPPORT_REFUSED = "support.refused"
    SUPPORT_RECEIPT_RESENT = "support.receipt_resent"
    SUPPORT_PAYMENT_RETRIED = "support.payment_retried"
    # The zone the owner reads dates in (POLICY.md section 16); old and new are IANA names.
    ACCOUNT_TIME_ZONE_CHANGED = "account.time_zone_changed"


def audit(*, actor, account, action: Event | str, at=None, old=None, new=None, **detail) -> AuditEvent:
    """Record an action; call it inside the transaction of the change it records, so the row
    exists exactly when the change does. `old`/`new` are the values the action changed."""
    if old is not None or new is not None:
        detail.update(old=old, new=new)
    return AuditEvent.objects.create(**audit_row(actor=actor, account=account, action=action,
                                                 at=at or clock.real_now(), detail=detail))


def audit_row(*, actor, account, action: Event | str, at, detail: dict) -> dict:
    """The AuditEvent fields of one action, for `audit` or for a bulk INSERT (the billing
    run): an actor without a primary key (anonymous, the system) is recorded as nobody."""
    return {"at": at, "actor": actor if getattr(actor, "pk", None) else None, "account": account,
            "action": Event(action).value, "detail": detail}
