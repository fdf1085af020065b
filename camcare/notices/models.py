from django.db import models


class Notice(models.Model):
    """One e-mail for one event. `key` names the event (e.g. "receipt:ORD-..."): unique, so
    the same event never makes a second notice, however often it is recorded."""

    key = models.CharField(max_length=120, unique=True)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=32)  # the template: notices/<kind>.txt and .html
    context = models.JSONField(default=dict)  # plain values only: rendered at send time
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    # Set while one sender holds it (real time); a sender that died is taken over after
    # SENDING_TIMEOUT, which is the only way a notice can go out twice.
    sending_since = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["sent_at", "next_attempt_at"])]
