"""The audit log and error reports. Their tables keep the names they had in `support`."""

from django.db import models


class AuditEvent(models.Model):
    """Who did what to which account; written in the transaction of the change it records."""

    at = models.DateTimeField()
    actor = models.ForeignKey("accounts.Account", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    account = models.ForeignKey("accounts.Account", null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events")
    action = models.CharField(max_length=64)
    detail = models.JSONField(default=dict)

    class Meta:
        db_table = "support_auditevent"
        indexes = [models.Index(fields=["account", "-at"], name="support_aud_account_ee54c5_idx")]
        ordering = ["-at", "-id"]


class ErrorReport(models.Model):
    """Every error a user sees, under the reference code shown to them (ERR-...)."""

    reference = models.CharField(max_length=16, unique=True)
    at = models.DateTimeField()
    account = models.ForeignKey("accounts.Account", null=True, blank=True, on_delete=models.SET_NULL, related_name="error_reports")
    status = models.PositiveSmallIntegerField()
    code = models.CharField(max_length=64)
    message = models.CharField(max_length=500)
    path = models.CharField(max_length=500)
    detail = models.TextField(blank=True)  # traceback of a 500, never shown to the user

    class Meta:
        db_table = "support_errorreport"
