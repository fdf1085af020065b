"""Previews shown between "preview" and "confirm", kept in the session by quote id.

The preview page is a GET of /change/preview/<quote>/ (reload-safe); what it shows is
the preview's result as priced (POLICY.md section 9: confirming applies exactly it).
"""

from __future__ import annotations

from urllib.parse import urlencode

from camcare import clock
from camcare.billing import selectors
from camcare.billing.actions.changes import QUOTE_TTL
from camcare.portal import explain

SESSION_KEY = "portal_previews"
KEEP = 5  # the newest previews kept per session; older ones must be previewed again


def remember(request, result, *, kind: str, cameras: dict[str, str], cycle: str | None) -> dict:
    """Keep the preview `result` (a billing ChangeResult) with what its page explains."""
    account = request.user
    stored = {
        "quote": result.quote_id, "kind": kind, "result": result.to_api(), "cameras": cameras, "cycle": cycle,
        "facts": explain.facts(result, selectors.subscription_summary(account), selectors.current_plans(account)),
    }
    kept = [item for item in request.session.get(SESSION_KEY, []) if item["quote"] != result.quote_id]
    request.session[SESSION_KEY] = [*kept, stored][-KEEP:]
    return stored


def recall(request, quote_id: str) -> dict | None:
    for item in request.session.get(SESSION_KEY, []):
        if item["quote"] == quote_id and "facts" in item:
            return item
    return None


def is_stale(account, quote) -> bool:
    """The quote can no longer be executed (POLICY.md section 9): the subscription or its
    money changed since (its version moved), or the account's clock is past its 10 minutes.
    Confirming it would be refused; the page says so before the owner tries."""
    subscription = selectors.subscription_or_none(account)
    now = clock.now(account)
    moved = subscription is None or subscription.version != quote.version
    return moved or not quote.at <= now <= quote.at + QUOTE_TTL


def choices_query(cameras: dict[str, str], cycle: str | None) -> str:
    """The change form's fields for these choices, as a query string (its GET prefill)."""
    fields = {f"camera_{camera_id}": plan for camera_id, plan in cameras.items()}
    if cycle:
        fields["cycle"] = cycle
    return urlencode(fields)
