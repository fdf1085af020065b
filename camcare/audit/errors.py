"""Error references (POLICY.md section 7): every error a user sees is stored under one."""

import logging

from django.db import IntegrityError, transaction

from camcare import clock
from camcare.audit.models import ErrorReport
from camcare.domain.order_ids import new_error_reference

log = logging.getLogger("camcare.errors")


def record_error(*, request=None, account=None, status: int, code: str, message: str, detail: str = "") -> str:
    """Store the error and return its reference (ERR-...), the code the user can quote."""
    if account is None and request is not None:
        user = getattr(request, "user", None)
        account = getattr(request, "auth_account", None) or (user if user is not None and user.is_authenticated else None)
    path = request.get_full_path()[:500] if request is not None else ""
    for _ in range(3):
        reference = new_error_reference()
        try:
            # A savepoint of its own: the report must survive even when the caller's
            # transaction is about to roll back, and must not poison it if it fails.
            with transaction.atomic():
                ErrorReport.objects.create(
                    reference=reference,
                    at=clock.real_now(),
                    account=account,
                    status=status,
                    code=code,
                    message=message[:500],
                    path=path,
                    detail=detail,
                )
            break
        except IntegrityError:
            continue
    log.info("error %s %s %s %s", reference, status, code, path)
    return reference
