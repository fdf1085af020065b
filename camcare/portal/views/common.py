"""What the billing pages share: the account's cameras and plans as people read them."""

from __future__ import annotations

from camcare.billing.channels import STORE_NAMES, STORE_STEPS
from camcare.billing.models import Channel, OrderKind
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


def describe_lines(result: dict, cameras: dict[str, Camera], catalog) -> list[dict]:
    """Result lines (API shape) with the camera's name and the plan's name, in the order
    of the cameras (account-wide lines last), each camera's credit before its charge."""
    order = {camera_id: index for index, camera_id in enumerate(cameras)}
    lines = sorted(result.get("lines", []), key=lambda line: (
        order.get(line.get("camera"), len(order)), line["kind"] != OrderKind.CREDIT))
    rows = []
    for line in lines:
        camera = cameras.get(line.get("camera") or "")
        rows.append({
            **line,
            "plan_name": plan_name(catalog, line.get("plan")),
            "camera_name": camera.name if camera else (f"All cameras on {plan_name(catalog, line.get('plan'))}" if not line.get("camera") else "A removed camera"),
        })
    return rows


def describe_erasures(result: dict, cameras: dict[str, Camera]) -> list[dict]:
    rows = []
    for erasure in result.get("erasures", []):
        camera = cameras.get(erasure.get("camera") or "")
        rows.append({
            **erasure,
            "camera_name": camera.name if camera else erasure.get("camera"),
            "download_url": download_url(erasure["camera"], erasure["recorded_before"]) if erasure.get("clips") else "",
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

