"""The janitor of the payment sequence (payments.py): claims a crash left between the
gateway call and the final transaction are settled from their pending orders.

A claim is stale after STALE_CLAIM of real time without news: a single payment takes
seconds, and a billing run's batch refreshes its claims every gateway_pool.HEARTBEAT while its
gateway calls are in flight, so only the claims of a dead process (a killed worker, a
crash) grow stale. A killed billing run converges: its unclaimed subscriptions are billed
by the next run, its claims by this, each renewal charged once (its idempotency key), a
charge the gateway never saw made now (renewals.settle_claimed_bill).
"""

from __future__ import annotations

from datetime import timedelta

from camcare import clock
from camcare.billing.actions import payments
from camcare.billing.actions.changes import settle_claimed_change
from camcare.billing.actions.renewals import settle_claimed_bill
from camcare.billing.actions.support_money import settle_claimed_support
from camcare.billing.models import Purpose, Subscription

# Real time after which the reconciler settles a claim: many heartbeats (gateway_pool.HEARTBEAT,
# one minute), so a live batch's claims never look stale.
STALE_CLAIM = timedelta(minutes=10)

SETTLERS = {
    Purpose.CHANGE: settle_claimed_change,
    Purpose.RENEWAL: settle_claimed_bill,
    Purpose.SUPPORT: settle_claimed_support,
}


def reconcile_pending(*, older_than: timedelta = STALE_CLAIM) -> int:
    """Settle every claim older than `older_than` (real time): ask the gateway about each of
    its pending orders by idempotency key (a charge it never saw failed; a refund is made
    again with its key, which cannot refund twice), then run the claim's own step 3.
    A claim with no pending order moved no money: it is released, changing nothing."""
    cutoff = clock.real_now() - older_than
    settled = 0
    for subscription in Subscription.objects.select_related("account").exclude(claimed_by="").filter(claimed_at__lte=cutoff):
        payment = payments.resume(subscription)
        if not payment.orders:
            payments.finish(payment, {}, lambda p, results: payments.release(p, changed=False))
        else:
            SETTLERS[payment.orders[0].purpose](payment)
        settled += 1
    return settled
