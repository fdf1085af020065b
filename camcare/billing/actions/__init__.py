"""Every write to billing state (POLICY.md; ARCHITECTURE.md "Money and concurrency"), one
module per area, like zulip's zerver/actions/. Every movement of money goes through the one
payment sequence of payments.py."""

from camcare.billing.actions.changes import (
    cancel_subscription,
    change_plan,
    drop_scheduled_change,
    preview_cancel,
    preview_change,
    remove_camera,
)
from camcare.billing.actions.imports import import_store_subscription
from camcare.billing.actions.payment_methods import save_payment_method
from camcare.billing.actions.reconciler import reconcile_pending
from camcare.billing.actions.reminders import send_due_reminders
from camcare.billing.actions.renewals import renew, retry_unpaid_bill, run_billing, run_due
from camcare.billing.actions.replace_camera import replace_camera
from camcare.billing.actions.stops import stop_at_period_end
from camcare.billing.actions.store_entitlements import (
    apply_store_entitlement,
    expire_store_subscriptions,
)
from camcare.billing.actions.support_money import issue_support_credit, issue_support_refund
from camcare.billing.actions.test_clocks import advance_test_clock

__all__ = [
    "advance_test_clock",
    "cancel_subscription",
    "change_plan",
    "drop_scheduled_change",
    "apply_store_entitlement",
    "expire_store_subscriptions",
    "import_store_subscription",
    "issue_support_credit",
    "issue_support_refund",
    "preview_cancel",
    "preview_change",
    "reconcile_pending",
    "remove_camera",
    "renew",
    "replace_camera",
    "retry_unpaid_bill",
    "run_billing",
    "run_due",
    "save_payment_method",
    "send_due_reminders",
    "stop_at_period_end",
]
