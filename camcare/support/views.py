"""The support console: find an account by e-mail, Order ID or error reference, see its
whole history, and issue a refund or a credit with a reason. Every staff action, a look
at an account included, is audited."""

from functools import wraps

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from camcare.accounts.models import Account
from camcare.audit.events import audit
from camcare.audit.models import AuditEvent, ErrorReport
from camcare.billing import actions, selectors
from camcare.billing.errors import BillingRefusal
from camcare.billing.models import Order
from camcare.domain.order_ids import normalize_code


def staff_only(view):
    """Staff see the console; anyone else gets the same 404 as for a page that does not exist."""

    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if not request.user.is_staff:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


def find_accounts(query: str) -> tuple[list[Account], ErrorReport | None, Order | None]:
    """Accounts matching an e-mail (exact, else partial), an Order ID or an error reference."""
    query = query.strip()
    code = normalize_code(query)
    if code.startswith("ORD-"):
        order = Order.objects.select_related("account").filter(order_id=code).first()
        return ([order.account] if order else []), None, order
    if code.startswith("ERR-"):
        report = ErrorReport.objects.select_related("account").filter(reference=code).first()
        return ([report.account] if report and report.account else []), report, None
    exact = list(Account.objects.filter(email__iexact=query))
    if exact or not query:
        return exact, None, None
    return list(Account.objects.filter(email__icontains=query).order_by("email")[:50]), None, None


@staff_only
def search(request):
    query = request.GET.get("q", "")
    accounts, report, order = find_accounts(query) if query.strip() else ([], None, None)
    if query.strip():
        audit(actor=request.user, account=accounts[0] if len(accounts) == 1 else None,
              action="support.searched", query=query[:200], found=len(accounts))
    return render(request, "support/search.html", {"query": query, "accounts": accounts, "report": report, "order": order})


class CreditForm(forms.Form):
    amount = forms.IntegerField(min_value=1, max_value=1_000_000, label="Amount (cents)")
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class RefundForm(forms.Form):
    order_id = forms.CharField(max_length=20, label="Charge Order ID")
    amount = forms.IntegerField(min_value=1, max_value=1_000_000, label="Amount (cents)")
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


def _account_page(request, owner, credit_form=None, refund_form=None):
    orders = list(selectors.orders_of(owner))
    for order in orders:
        order.refundable = selectors.refundable_of(order)
    context = {
        "owner": owner,
        "summary": selectors.subscription_summary(owner),
        "cameras": owner.cameras.all(),
        "orders": orders,
        "credit_history": selectors.credit_history(owner),
        "events": AuditEvent.objects.filter(account=owner).select_related("actor")[:200],
        "errors": ErrorReport.objects.filter(account=owner).order_by("-at")[:50],
        "card": selectors.payment_method_of(owner),
        "credit_form": credit_form or CreditForm(),
        "refund_form": refund_form or RefundForm(),
    }
    return render(request, "support/account.html", context)


@staff_only
def account(request, account_id):
    owner = get_object_or_404(Account, pk=account_id)
    audit(actor=request.user, account=owner, action="support.viewed_account")
    return _account_page(request, owner)


def _issue(request, owner, form, issue, done: str):
    """Run a support money action; a refusal becomes a form error (None), success a redirect."""
    try:
        order = issue()
    except BillingRefusal as exc:
        form.add_error(None, exc.message)
        return None
    messages.success(request, done.format(order=order))
    return redirect("support:account", account_id=owner.pk)


@staff_only
@require_POST
def credit(request, account_id):
    owner = get_object_or_404(Account, pk=account_id)
    form = CreditForm(request.POST)
    if form.is_valid():
        done = _issue(request, owner, form, lambda: actions.issue_support_credit(
            account=owner, amount=form.cleaned_data["amount"], reason=form.cleaned_data["reason"], actor=request.user,
        ), "Credit {order.order_id} added.")
        if done:
            return done
    return _account_page(request, owner, credit_form=form)


@staff_only
@require_POST
def refund(request, account_id):
    owner = get_object_or_404(Account, pk=account_id)
    form = RefundForm(request.POST)
    if form.is_valid():
        charge = Order.objects.filter(account=owner, kind="charge", order_id=normalize_code(form.cleaned_data["order_id"])).first()
        if charge is None:
            form.add_error("order_id", "No charge with this Order ID on this account.")
        else:
            done = _issue(request, owner, form, lambda: actions.issue_support_refund(
                charge=charge, amount=form.cleaned_data["amount"], reason=form.cleaned_data["reason"], actor=request.user,
            ), "Refund {order.order_id} of " + charge.order_id + " sent to the card.")
            if done:
                return done
    return _account_page(request, owner, refund_form=form)
