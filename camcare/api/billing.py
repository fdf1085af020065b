"""Payment method, subscription changes, credit and orders (API.md)."""

from ninja import Router

from camcare.api.base import caller, not_found
from camcare.api.schemas import (
    CancelIn,
    CardIn,
    CardOut,
    ChangeIn,
    ChangeOut,
    CreditOut,
    ErrorOut,
    OrderOut,
    PreviewOut,
    StateIn,
    StopIn,
    SubscriptionOut,
)
from camcare.billing import actions, selectors
from camcare.catalog import get_catalog

router = Router(tags=["billing"])

REFUSALS = {402: ErrorOut, 409: ErrorOut, 422: ErrorOut}


@router.put("/payment-method", response={200: CardOut, **REFUSALS})
def save_payment_method(request, payload: CardIn):
    account = caller(request)
    method = actions.save_payment_method(account=account, token=payload.token, actor=account,
                                         exp_month=payload.exp_month, exp_year=payload.exp_year)
    return {"brand": method.brand, "last4": method.last4}


@router.get("/subscription", response=SubscriptionOut)
def get_subscription(request):
    return selectors.subscription_summary(caller(request))


@router.post("/subscription/preview", response={200: PreviewOut, **REFUSALS})
def preview(request, payload: StateIn):
    account = caller(request)
    result = actions.preview_change(account=account, cameras=payload.cameras, cycle=payload.cycle,
                                    trial=payload.trial, actor=account)
    # Rendered as it is rather than validated into PreviewOut and dumped again (ninja's way for
    # a dict, which cost about a third of the pricing): to_api builds exactly PreviewOut's
    # fields in its order, and tests/api/test_preview_answer.py holds the two answers equal.
    # The NinjaAPI this router is mounted on, imported here: v1 imports this module.
    from camcare.api.v1 import api

    return api.create_response(request, result.to_api(), status=200)


@router.put("/subscription", response={200: ChangeOut, **REFUSALS})
def change(request, payload: ChangeIn):
    account = caller(request)
    result = actions.change_plan(account=account, cameras=payload.cameras, cycle=payload.cycle,
                                 quote_id=payload.quote, trial=payload.trial, actor=account)
    return result.to_api()


@router.post("/subscription/cancel", response={200: ChangeOut, **REFUSALS})
def cancel(request, payload: CancelIn):
    account = caller(request)
    result = actions.cancel_subscription(account=account, quote_id=payload.quote, actor=account)
    return result.to_api()


@router.post("/subscription/stop", response={200: ChangeOut, **REFUSALS})
def stop(request, payload: StopIn):
    """Every camera to free at the period end; nothing is charged now (POLICY.md section 13)."""
    account = caller(request)
    return actions.stop_at_period_end(account=account, actor=account).to_api()


@router.delete("/subscription/scheduled-change", response={200: SubscriptionOut, **REFUSALS})
def drop_scheduled_change(request):
    account = caller(request)
    actions.drop_scheduled_change(account=account, actor=account)
    return selectors.subscription_summary(account)


@router.get("/credit", response=CreditOut)
def credit(request):
    account = caller(request)
    return {"balance": selectors.credit_balance(account), "currency": get_catalog().currency,
            "entries": selectors.credit_history(account)}


@router.get("/orders", response=list[OrderOut])
def list_orders(request):
    return [selectors.order_to_api(order) for order in selectors.orders_of(caller(request))]


@router.get("/orders/{order_id}", response={200: OrderOut, 404: ErrorOut})
def get_order(request, order_id: str):
    order = selectors.find_order(caller(request), order_id)
    if order is None:
        raise not_found("order")
    return selectors.order_to_api(order)
