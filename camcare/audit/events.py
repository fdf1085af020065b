from camcare import clock
from camcare.audit.models import AuditEvent


def audit(*, actor, account, action: str, at=None, **detail) -> AuditEvent:
    """Record an action; call it inside the transaction of the change it records."""
    return AuditEvent.objects.create(
        at=at or clock.real_now(), actor=actor if getattr(actor, "pk", None) else None,
        account=account, action=action, detail=detail,
    )
