"""Subscriptions bought outside the web portal (API.md): `app_store` ones are shown and
refused on the web; `legacy_app` ones behave like web ones from here on. This command-side
import stays for migrations from the old app."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import F

from camcare.audit.events import Event, audit
from camcare.billing import selectors
from camcare.billing.actions import trials
from camcare.billing.actions.common import as_refusal, subscription_for
from camcare.billing.channels import STORE_STEPS
from camcare.billing.errors import BillingRefusal
from camcare.billing.models import Channel, Subscription, SubscriptionLine
from camcare.cameras.models import Camera
from camcare.catalog import get_catalog
from camcare.domain.catalog import FREE
from camcare.domain.periods import Cycle, add_months, iso_z
from camcare.domain.pricing import PlanState, Status, lines_of, validate_state


def import_store_subscription(*, account, channel: str, plan: str, camera_ids: list[str], period_end: datetime,
                              store: str = "", cycle: str = "monthly", actor=None) -> Subscription:
    """The money was taken by the store or the old app, so no order or ledger entry is
    written; a legacy line counts as paid for its period (its unused part is credited on
    change), a store line as unpaid here (nothing of it is refundable on the web)."""
    catalog = get_catalog()
    if channel not in (Channel.APP_STORE, Channel.LEGACY_APP):
        raise BillingRefusal("invalid_state", "channel must be app_store or legacy_app")
    if channel == Channel.APP_STORE and store not in STORE_STEPS:
        raise BillingRefusal("invalid_state", "an app_store subscription needs store apple or google")
    if plan not in catalog or plan == FREE:
        raise BillingRefusal("unknown_plan", f"There is no paid plan {plan!r}.")
    owned = set(Camera.objects.filter(account=account, id__in=camera_ids).values_list("id", flat=True))
    if not camera_ids or owned != set(camera_ids):
        raise BillingRefusal("unknown_camera", "Every camera must belong to the account.")
    cycle_value = Cycle(cycle)
    state = PlanState(cycle_value, {**selectors.current_plans(account), **dict.fromkeys(camera_ids, plan)})
    with as_refusal():
        validate_state(state, catalog)
    period_start = add_months(period_end, -cycle_value.months)
    subscription = subscription_for(account)
    with transaction.atomic():
        if not Subscription.objects.filter(pk=subscription.pk, status=Status.NONE, claimed_by="").update(
            channel=channel, store=store if channel == Channel.APP_STORE else "", status=Status.ACTIVE,
            cycle=cycle_value.value, anchor=period_start, period_start=period_start, period_end=period_end,
            scheduled_cycle="", scheduled_stop=False, version=F("version") + 1,
        ):
            raise BillingRefusal("invalid_state", "The account already has a paid subscription.")
        Camera.objects.filter(account=account, id__in=camera_ids).update(plan=plan)
        SubscriptionLine.objects.bulk_create(
            SubscriptionLine(subscription=subscription, plan=key.plan, camera_key=key.camera or "", cycle=key.cycle.value,
                             unit_price=price, paid=price if channel == Channel.LEGACY_APP else 0,
                             period_start=period_start, started_at=period_start)
            for key, price in lines_of(state, catalog).items()
        )
        if channel == Channel.LEGACY_APP:  # a web-side paid line; a store's trials use up nothing here
            trials.mark_state_used(account, dict(state.cameras), at=period_start, trial=False)
        audit(actor=actor, account=account, action=Event.IMPORTED, channel=channel, store=store,
              plan=plan, cameras=camera_ids, period_end=iso_z(period_end),
              old={"status": Status.NONE.value}, new={"status": Status.ACTIVE.value, "plan": plan})
    return Subscription.objects.get(pk=subscription.pk)
