"""Finding an account: by its login e-mail, an Order ID or an error reference, each typed
as people type them (domain.order_ids.code_candidates reads the codes loosely)."""

from __future__ import annotations

from dataclasses import dataclass, field

from camcare.accounts.models import Account
from camcare.audit.models import ErrorReport
from camcare.billing.models import Order, OrderKind
from camcare.domain.order_ids import code_candidates

# Longer than any e-mail (254), Order ID or reference: such a query matches nothing.
MAX_QUERY = 320
PARTIAL_MATCHES = 50


@dataclass
class Found:
    accounts: list[Account] = field(default_factory=list)
    report: ErrorReport | None = None  # the error reference the query named
    order: Order | None = None  # the Order ID the query named


def unsearchable(query: str) -> bool:
    """True for text no account, order or reference can hold (PostgreSQL cannot even
    compare a NUL)."""
    return len(query) > MAX_QUERY or "\x00" in query


def find_accounts(query: str) -> Found:
    """The account an Order ID or error reference names, else the accounts whose e-mail is
    the query (any case), else those whose e-mail contains it (at most 50)."""
    query = query.strip()
    if not query or unsearchable(query):
        return Found()
    found = _by_code(code_candidates(query))
    if found is not None:
        return found
    exact = list(Account.objects.filter(email__iexact=query))
    if exact:
        return Found(exact)
    return Found(list(Account.objects.filter(email__icontains=query).order_by("email")[:PARTIAL_MATCHES]))


def _by_code(candidates: list[str]) -> Found | None:
    """The order or report one of `candidates` names (one indexed query each: both columns
    are unique); None when none does, so that the query is tried as an e-mail too."""
    if not candidates:
        return None
    order = Order.objects.select_related("account").filter(order_id__in=candidates).first()
    if order is not None:
        return Found([order.account], order=order)
    report = ErrorReport.objects.select_related("account").filter(reference__in=candidates).first()
    if report is not None:
        return Found([report.account] if report.account else [], report=report)
    return None


def charge_of(owner: Account, typed: str) -> Order | None:
    """The account's charge that the typed Order ID names, read loosely like a search."""
    candidates = [code for code in code_candidates(typed) if code.startswith("ORD-")]
    if not candidates or unsearchable(typed):
        return None
    return Order.objects.filter(account=owner, kind=OrderKind.CHARGE, order_id__in=candidates).first()
