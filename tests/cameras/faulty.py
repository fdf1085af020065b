"""A local storage that dies half way through deleting files, like a process killed."""

from django.core.files.storage import FileSystemStorage


class PowerCut(Exception):
    pass


class CrashingStorage(FileSystemStorage):
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
