"""What the billing pages share: the account's cameras and plans as people read them."""

from __future__ import annotations

from camcare.billing.channels import STORE_NAMES, STORE_STEPS
from camcare.billing.models import Channel
from camcare.cameras import services
from camcare.cameras.models import Camera
from camcare.cameras.views import download_url
from camcare.catalog import get_catalog


def cameras_of(account) -> list[Camera]:
    return list(services.cameras_of(account))


def plan_name(catalog, code: str | None) -> str:
    return catalog[code].name if code in catalog else (code or "")


def store_context(summary: dict) -> dict:
    """For an app-store subscription: which store, and the steps to cancel there."""
    store = summary.get("store") or ""
    return {
        "is_app_store": summary.get("channel") == Channel.APP_STORE,
        "store_name": STORE_NAMES.get(store, "the app store"),
        "store_steps": STORE_STEPS.get(store, []),
    }


def describe_erasures(result: dict, cameras: dict[str, Camera]) -> list[dict]:
    rows = []
    for erasure in result.get("erasures", []):
        camera = cameras.get(erasure.get("camera") or "")
        rows.append({
            **erasure,
            "camera_name": camera.name if camera else erasure.get("camera"),
            "download_url": (download_url(erasure["camera"], erasure["recorded_before"])
                             if erasure.get("clips") and not erasure.get("held") else ""),
        })
    return rows


def plan_rows(account) -> list[dict]:
    """Each camera with its plan and video-history window."""
    catalog = get_catalog()
    rows = []
    for camera in cameras_of(account):
        plan = catalog[camera.plan] if camera.plan in catalog else None
        rows.append({"camera": camera, "plan_name": plan.name if plan else camera.plan,
                     "history_days": plan.history_days if plan else None})
    return rows

