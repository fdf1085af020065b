"""The console's template helpers."""

from django import template

from camcare.support.roles import ROLE_NAMES, role_of

register = template.Library()


@register.simple_tag(takes_context=True)
def console_role(context) -> str:
    """ "agent" or "billing admin": the signed-in staff member's role."""
    request = context.get("request")
    role = role_of(request.user) if request is not None else None
    return ROLE_NAMES.get(role, "")


LONGEST_ID = 24  # characters: any id camcare puts in a path (acc_..., ORD-..., cam_...) is shorter


@register.filter
def redacted_path(path: str) -> str:
    """An error's path without what may be a secret in it: no query string, and no segment
    longer than an id (a password-reset token, a pasted device token)."""
    segments = str(path or "").split("?", 1)[0].split("/")
    return "/".join(segment if len(segment) <= LONGEST_ID else "…" for segment in segments)
