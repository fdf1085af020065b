"""The two roles of the support console, and what each may do.

A role is a Django auth Group (created by migration 0003): membership is managed in the
admin like any other, needs no column on the account, and shows in the admin's user page.
- billing admin: the `billing-admin` group, or a superuser; may do everything.
- agent: every other staff account (`support-agent` names them explicitly): search, view,
  resend a receipt, retry a failed payment now, refund up to the agent limit.
No staff account is without a role, and none gets the admin's powers by accident: the
least role is the default.
"""

from __future__ import annotations

from enum import StrEnum

from django.conf import settings


class Role(StrEnum):
    AGENT = "support-agent"
    BILLING_ADMIN = "billing-admin"


ROLE_NAMES = {Role.AGENT: "agent", Role.BILLING_ADMIN: "billing admin"}


def role_of(user) -> Role | None:
    """The console role of `user`; None for anyone who is not staff. Read once per request
    (kept on the user object, which lives as long as the request)."""
    if not getattr(user, "is_staff", False) or not user.is_active:
        return None
    cached = getattr(user, "_console_role", None)
    if cached is None:
        is_admin = user.is_superuser or user.groups.filter(name=Role.BILLING_ADMIN).exists()
        cached = Role.BILLING_ADMIN if is_admin else Role.AGENT
        user._console_role = cached
    return cached


def may_issue_credit(role: Role | None) -> bool:
    return role is Role.BILLING_ADMIN


def refund_limit(role: Role | None) -> int | None:
    """Cents one refund may return, for `role`: None is no limit (what is left of the charge
    still caps it, in billing.actions)."""
    if role is Role.BILLING_ADMIN:
        return None
    return agent_refund_limit()


def agent_refund_limit() -> int:
    """Cents an agent may refund at once (settings.CAMCARE_AGENT_REFUND_LIMIT_CENTS, from
    the environment variable of that name, $50.00 by default). Read at each use, so a
    settings change applies at once."""
    return settings.CAMCARE_AGENT_REFUND_LIMIT_CENTS
