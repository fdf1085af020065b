"""A clip storage that dies half way through deleting files, like a process killed:
the local folder or S3, whichever the test runs on."""

from django.core.files.storage import FileSystemStorage
from storages.backends.s3 import S3Storage


class PowerCut(Exception):
    pass


class Crashing:
    """Deletes `deletes_before_crash` files, then raises PowerCut on every delete while
    armed (class attributes, so the test arms and disarms the storage Django built)."""

    deletes_before_crash: int | None = None
    deleted = 0

    def delete(self, name):
        cls = type(self)
        if cls.deletes_before_crash is not None and cls.deleted >= cls.deletes_before_crash:
            raise PowerCut(f"killed before deleting {name}")
        super().delete(name)
        cls.deleted += 1


class CrashingStorage(Crashing, FileSystemStorage):
    pass


class CrashingS3Storage(Crashing, S3Storage):
    pass


def crashing_twin(config: dict) -> tuple[type[Crashing], dict]:
    """The crashing class for the STORAGES entry `config`, and that entry using it."""
    crashing = CrashingS3Storage if config["BACKEND"].endswith(".S3Storage") else CrashingStorage
    return crashing, {**config, "BACKEND": f"{__name__}.{crashing.__name__}"}
