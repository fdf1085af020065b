from django.db import models


class FormSubmission(models.Model):
    """One use of a billing form's `idempotency_key` (POLICY.md section 10, for the portal).

    The key is generated when the form is rendered; `fingerprint` holds what the form
    asked for (e.g. the quote id), so the same form sent again (double click, reload,
    back button) finds this row and is sent to its first result instead of acting twice.
    """

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)  # idempotency_key + ":" + fingerprint
    created_at = models.DateTimeField(db_index=True)  # real time; rows live 24 hours
    result_url = models.CharField(max_length=500, blank=True)  # "" while the first use runs

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "key"], name="portal_form_key_unique")]
