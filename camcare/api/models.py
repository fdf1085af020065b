from django.db import models


class IdempotencyRecord(models.Model):
    """The first use of an Idempotency-Key by one caller (POLICY.md section 10), kept 24 h."""

    caller = models.CharField(max_length=64)  # "account:<id>" or "device:<camera id>"
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    body_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(db_index=True)  # real time: keys last 24 h of real time
    completed = models.BooleanField(default=False)  # False while the first use is running
    status_code = models.PositiveSmallIntegerField(null=True)
    content_type = models.CharField(max_length=100, blank=True)
    body = models.BinaryField(default=b"")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["caller", "key"], name="idempotency_caller_key")]
