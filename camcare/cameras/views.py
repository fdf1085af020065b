"""Portal pages of the cameras app: register a camera, a camera's clips with playback,
and the ZIP of a camera's clips before a cut-off (POLICY.md section 6: "download first";
the ZIP of a whole quoted change is the portal's, which reads the quote)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from camcare.audit.errors import record_error
from camcare.cameras import erasure, holds, services
from camcare.cameras.errors import CameraRefusal
from camcare.cameras.forms import RegisterCameraForm
from camcare.cameras.zipstream import safe_folder, zip_response
from camcare.domain.periods import parse_instant

CLIPS_PER_PAGE = 50
FIELD_OF_REFUSAL = {
    "invalid_name": "name", "invalid_model": "model", "invalid_serial": "serial",
    "camera_already_registered": "serial",
}


def _refuse(request, status: int, code: str, message: str):
    reference = record_error(request=request, status=status, code=code, message=message)
    return render(request, "portal/error.html", {"status": status, "message": message, "reference": reference}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def register(request):
    """The device token is shown on the answer to the POST and never again, so that
    answer is not a redirect and is not cached."""
    form = RegisterCameraForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            camera, token = services.register_camera(request.user, data["name"], data["model"], data["serial"])
        except CameraRefusal as exc:
            form.add_error(FIELD_OF_REFUSAL.get(exc.code), exc.message)
        else:
            response = render(request, "cameras/registered.html", {"camera": camera, "device_token": token})
            response["Cache-Control"] = "no-store"
            return response
    return render(request, "cameras/register.html", {"form": form}, status=422 if form.errors else 200)


def _is_id(text: str) -> bool:
    """False for text no id holds: one with a NUL, which PostgreSQL cannot even compare."""
    return "\x00" not in text


def _owned_camera(request, camera_id: str):
    camera = services.camera_of(request.user, camera_id) if _is_id(camera_id) else None
    if camera is None:
        raise Http404("No such camera.")
    return camera


@login_required
@require_GET
def clips(request, camera_id: str):
    """The camera's clips, newest first, with a player for the chosen one (`?play=`).
    Held clips are neither listed nor playable: only their count and erasure date show."""
    camera = _owned_camera(request, camera_id)
    page = Paginator(services.visible_clips(camera), CLIPS_PER_PAGE).get_page(request.GET.get("page"))
    playing = None
    play = request.GET.get("play", "")
    if play and _is_id(play):
        playing = services.visible_clips(camera).filter(id=play).first()
    return render(request, "cameras/clips.html", {
        "camera": camera,
        "page": page,
        "playing": playing,
        "history_days": services.history_days(camera.plan),
        "held": _held(request.user, camera),
    })


def _held(account, camera) -> dict | None:
    """{"clips", "until"} of the camera's held clips, or None (holds.held_summary)."""
    summary = holds.held_summary(account).get(camera.id)
    return {"clips": summary[0], "until": summary[1]} if summary else None


def _stamp(instant: datetime) -> str:
    return f"{instant:%Y-%m-%dT%H-%M-%SZ}"


@login_required
@require_GET
def download_doomed(request, camera_id: str):
    """`?before=<ISO instant>`: one ZIP of the camera's clips recorded before it, i.e.
    exactly what an erasure with that cut-off removes (the preview's `recorded_before`)."""
    camera = _owned_camera(request, camera_id)
    try:
        before = parse_instant(request.GET.get("before", ""))
    except ValueError:
        return _refuse(request, 400, "invalid_before", "The link is incomplete: it needs ?before=<instant>, like 2026-11-12T10:00:00Z.")
    doomed = erasure.clips_before(camera.id, before).select_related("camera").iterator(chunk_size=200)
    return zip_response(doomed, f"camcare-{safe_folder(camera.name)}-before-{_stamp(before)}.zip")


def download_url(camera_id: str, before: datetime | str) -> str:
    """The ZIP link of one erasure of a preview (`recorded_before` as ISO or datetime)."""
    value = before if isinstance(before, str) else f"{before:%Y-%m-%dT%H:%M:%SZ}"
    return reverse("cameras:download_doomed", kwargs={"camera_id": camera_id}) + "?" + urlencode({"before": value})
