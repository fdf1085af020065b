"""The support console: find an account by e-mail, Order ID or error reference, see its
whole history, and issue a refund or a credit with a reason. Every staff action, a look
at an account included, is audited."""

import re
from functools import wraps
from uuid import uuid4

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from camcare.accounts.models import Account
from camcare.audit.events import audit
from camcare.audit.models import AuditEvent, ErrorReport
from camcare.billing import actions, selectors
from camcare.billing.errors import BillingRefusal
from camcare.billing.models import Order
from camcare.domain.order_ids import normalize_code


def staff_only(view):
    """Staff see the console; anyone else, signed in or not, gets the same 404 as for a page
    that does not exist (a redirect to sign in would tell that the console is here)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_staff:  # an anonymous visitor is no staff either
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


# Longer than any e-mail (254), Order ID or reference: such a query matches nothing.
MAX_QUERY = 320


def _unsearchable(query: str) -> bool:
    """True for text no account, order or reference can hold (PostgreSQL cannot even
    compare a NUL)."""
    return len(query) > MAX_QUERY or "\x00" in query


def find_accounts(query: str) -> tuple[list[Account], ErrorReport | None, Order | None]:
    """Accounts matching an e-mail (exact, else partial), an Order ID or an error reference."""
    query = query.strip()
    if _unsearchable(query):
        return [], None, None
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
              action="support.searched", query=query[:200].replace("\x00", "\ufffd"), found=len(accounts))
    return render(request, "support/search.html", {"query": query, "accounts": accounts, "report": report, "order": order})


REQUEST_KEY = re.compile(r"[0-9a-f]{32}")


class OneTimeForm(forms.Form):
    """A money form with a hidden key made when the page is rendered: the action runs once
    per key, so a form sent twice (a double click, a reload, the back button) acts once."""

    request_key = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {"request_key": uuid4().hex})
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        if not REQUEST_KEY.fullmatch(cleaned.get("request_key") or ""):
            self._renew_key()
            raise forms.ValidationError("This form was not sent from its page: check it and send it again.")
        return cleaned

    def _renew_key(self) -> None:
        """The form is shown again with a key of its own, so that sending it then works."""
        self.data = self.data.copy()
        self.data[self.add_prefix("request_key")] = uuid4().hex


class CreditForm(OneTimeForm):
    amount = forms.IntegerField(min_value=1, max_value=1_000_000, label="Amount (cents)")
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id="credit_%s", **kwargs)  # the refund form is on the same page


class RefundForm(OneTimeForm):
    order_id = forms.CharField(max_length=20, label="Charge Order ID")
    amount = forms.IntegerField(min_value=1, max_value=1_000_000, label="Amount (cents)")
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id="refund_%s", **kwargs)


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


def _owner(account_id: str) -> Account:
    """The account of the path, or 404 (an id with a NUL is none: PostgreSQL cannot look
    one up)."""
    owner = None if "\x00" in account_id else Account.objects.filter(pk=account_id).first()
    if owner is None:
        raise Http404("No such account.")
    return owner


@staff_only
def account(request, account_id):
    owner = _owner(account_id)
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
    owner = _owner(account_id)
    form = CreditForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        done = _issue(request, owner, form, lambda: actions.issue_support_credit(
            account=owner, amount=data["amount"], reason=data["reason"], actor=request.user,
            request_key=data["request_key"],
        ), "Credit {order.order_id} added.")
        if done:
            return done
    return _account_page(request, owner, credit_form=form)


def _charge_of(owner: Account, typed: str) -> Order | None:
    return Order.objects.filter(account=owner, kind="charge", order_id=normalize_code(typed)).first()


@staff_only
@require_POST
def refund(request, account_id):
    owner = _owner(account_id)
    form = RefundForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        charge = _charge_of(owner, data["order_id"])
        if charge is None:
            form.add_error("order_id", "No charge with this Order ID on this account.")
        else:
            done = _issue(request, owner, form, lambda: actions.issue_support_refund(
                charge=charge, amount=data["amount"], reason=data["reason"], actor=request.user,
                request_key=data["request_key"],
            ), "Refund {order.order_id} of " + charge.order_id + " sent to the card.")
            if done:
                return done
    return _account_page(request, owner, refund_form=form)
