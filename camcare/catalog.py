"""The catalog in force, loaded from settings.CATALOG_PATH; below the apps, since cameras
(history windows) and billing (prices) both read it."""

from functools import lru_cache
from pathlib import Path

from django.conf import settings

from camcare.domain.catalog import Catalog


@lru_cache(maxsize=4)
def _load(path: Path, mtime_ns: int) -> Catalog:
    return Catalog.load(path)


def get_catalog() -> Catalog:
    """The validated catalog; reloaded when the file changes (a new price applies to new
    lines at once and to existing lines from their next renewal)."""
    path = Path(settings.CATALOG_PATH)
    return _load(path, path.stat().st_mtime_ns)
