"""Previews shown between "preview" and "confirm", kept in the session by quote id.

The preview page is a GET of /change/preview/<quote>/ (reload-safe); what it shows is
the preview's result as priced (POLICY.md section 9: confirming applies exactly it).
"""

from __future__ import annotations

SESSION_KEY = "portal_previews"
KEEP = 5  # the newest previews kept per session; older ones must be previewed again


def remember(request, quote_id: str, *, kind: str, result: dict, cameras: dict[str, str], cycle: str | None) -> None:
    stored = [item for item in request.session.get(SESSION_KEY, []) if item["quote"] != quote_id]
    stored.append({"quote": quote_id, "kind": kind, "result": result, "cameras": cameras, "cycle": cycle})
    request.session[SESSION_KEY] = stored[-KEEP:]


def recall(request, quote_id: str) -> dict | None:
    for item in request.session.get(SESSION_KEY, []):
        if item["quote"] == quote_id:
            return item
    return None
