from django.db import models

from camcare import ids


class Camera(models.Model):
    id = models.CharField(primary_key=True, max_length=24, default=ids.camera_id, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="cameras")
    name = models.CharField(max_length=100)
    model = models.CharField(max_length=100, blank=True)
    # Trimmed and upper-cased; one account at a time may hold a serial.
    serial = models.CharField(max_length=100, unique=True)
    # The camera's plan code in the account's desired state (POLICY.md section 2).
    # Billing state: written only by camcare.billing.actions.
    plan = models.CharField(max_length=32, default="free")
    # SHA-256 of the device token (the token itself is shown once, at registration).
    device_token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.serial})"


# File extension of each stored container type (the bytes are sniffed at upload).
EXTENSIONS = {"video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm", "video/x-matroska": "mkv"}


def clip_upload_path(clip: "Clip", filename: str) -> str:
    """clips/<account>/<camera>/<clip>.<ext>: one folder per camera, so the orphan sweep
    can list a camera's files and erasing a camera empties one folder."""
    extension = EXTENSIONS.get(clip.content_type, "mp4")
    return f"clips/{clip.camera.account_id}/{clip.camera_id}/{clip.id}.{extension}"


class ClipQuerySet(models.QuerySet):
    """The one place that says which clips an owner can reach (POLICY.md section 6)."""

    def visible(self):
        """Clips that may be listed, played, downloaded or counted by an erasure preview:
        not being erased (tombstoned) and not held. Every such query starts here."""
        return self.filter(erasing_since__isnull=True, held_until__isnull=True)

    def held(self):
        """Held clips not being erased: shown only as a count with their erasure date."""
        return self.filter(erasing_since__isnull=True, held_until__isnull=False)


class Clip(models.Model):
    id = models.CharField(primary_key=True, max_length=24, default=ids.clip_id, editable=False)
    # No index of its own: (camera, recorded_at) below serves every lookup by camera, and
    # each index is one more b-tree that every upload and every erasure writes.
    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="clips", db_index=False)
    recorded_at = models.DateTimeField()  # start of the recording; its age counts from here
    duration_s = models.PositiveIntegerField()
    size = models.PositiveBigIntegerField()  # bytes
    content_type = models.CharField(max_length=100, default="video/mp4")
    file = models.FileField(upload_to=clip_upload_path, max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    # Tombstone: set when erasure starts. A clip with it set is gone for the user; the
    # file and the row are removed next, and a crash in between is finished by the sweep.
    erasing_since = models.DateTimeField(null=True, blank=True)
    # Held (POLICY.md section 6, camcare.cameras.holds): the window shrank without the
    # owner's choice (a lapse, a trial ended unpaid). Until this instant the clip is kept
    # but unreachable; a paid period starting before it brings it back, else it is erased.
    held_until = models.DateTimeField(null=True, blank=True)

    objects = ClipQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["camera", "recorded_at"]),
            # Tombstones only (partial): tiny, and an upload never writes to it.
            models.Index(fields=["erasing_since"], condition=models.Q(erasing_since__isnull=False),
                         name="clip_tombstones"),
            # Held clips only (partial), like the tombstones: the hold summary per camera
            # and the sweep's "hold ended" pass read it; an upload never writes to it.
            models.Index(fields=["camera", "held_until"], condition=models.Q(held_until__isnull=False),
                         name="clip_holds"),
        ]
        ordering = ["-recorded_at", "id"]
