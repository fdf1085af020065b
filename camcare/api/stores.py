"""The app stores' notification calls (API.md, "Additions"): public, each trusted only
through what it carries, the signed payload (Apple) or the push's OIDC token (Google).

Answers: 200 once applied or already seen (the stores stop sending it); 400 (Apple) or
401 (Google) when it does not verify, nothing changed; 503 with Retry-After when it could
not be applied now (another change holds the account, or the store's API is down), nothing
changed, and the store sends it again. A body that is no JSON object of the call's shape
is refused first, as on every JSON route (400 invalid_json, 415, 422 invalid_request).
"""

from __future__ import annotations

from typing import Literal

from ninja import Field, Router, Schema
from pydantic import ConfigDict

from camcare.api.base import ApiError
from camcare.api.schemas import ErrorOut, RequestBody
from camcare.billing.actions.store_entitlements import StoreSyncBusy
from camcare.stores import apple, google
from camcare.stores.entitlements import NotVerified, Received, StoreUnavailable

router = Router(tags=["stores"], auth=None)

RETRY_AFTER_S = "60"


class StoreBody(RequestBody):
    """A store's body: NUL-free like every body, but fields the store adds are let through
    (a store's format grows without asking)."""

    model_config = ConfigDict(extra="ignore")


class AppleNotificationIn(StoreBody):
    signedPayload: str = Field(min_length=1, max_length=1_000_000, description="App Store Server Notification V2 (JWS)")


class PubSubMessageIn(StoreBody):
    data: str = Field(max_length=1_000_000, description="base64 of the DeveloperNotification JSON")
    messageId: str = Field(min_length=1, max_length=255)
    publishTime: str | None = Field(default=None, max_length=64)
    attributes: dict[str, str] | None = None


class PubSubPushIn(StoreBody):
    message: PubSubMessageIn
    subscription: str | None = Field(default=None, max_length=1000)


class NotificationOut(Schema):
    notification: str = Field(description="The store's id of the notification (notificationUUID / Pub/Sub messageId)")
    outcome: Literal["applied", "duplicate", "stale", "unlinked", "ignored"] = Field(
        description="applied; duplicate: seen before, nothing done again; stale: older than the state applied; "
                    "unlinked: kept, it names no known account; ignored: nothing to apply")


NOT_NOW = "`store_sync_unavailable`: not applied now (another change holds the account, or the store's API is down); "\
          "nothing changed; sent again after Retry-After"
INVALID_JSON = "`invalid_json`: the body is not UTF-8 JSON, or nests too deep"


def _error(description: str) -> dict:
    """An error's OpenAPI answer: its description, and the error body (ninja's would say only
    "Bad Request")."""
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}


def _answer(received: Received) -> dict:
    return {"notification": received.notification.message_id or "", "outcome": received.outcome}


def _not_now(exc: Exception) -> ApiError:
    return ApiError(503, "store_sync_unavailable", f"The notification could not be applied now ({exc}); "
                    "nothing was changed. Send it again later.", headers={"Retry-After": RETRY_AFTER_S})


@router.post("/stores/apple/notifications", response={200: NotificationOut, 400: ErrorOut, 503: ErrorOut},
             summary="App Store Server Notification V2", openapi_extra={"responses": {
                 "400": _error(f"`invalid_signed_payload`: it does not verify, nothing changed; or {INVALID_JSON}"),
                 "503": _error(NOT_NOW)}})
def apple_notification(request, payload: AppleNotificationIn):
    try:
        return _answer(apple.receive_notification(payload.signedPayload))
    except NotVerified as refused:
        raise ApiError(400, "invalid_signed_payload",
                       f"The signedPayload does not verify ({refused.reason}); nothing was changed.") from refused
    except (StoreSyncBusy, StoreUnavailable) as exc:
        raise _not_now(exc) from exc


@router.post("/stores/google/notifications",
             response={200: NotificationOut, 401: ErrorOut, 422: ErrorOut, 503: ErrorOut},
             summary="Google Play Real-time Developer Notification (Pub/Sub push)", openapi_extra={"responses": {
                 "401": _error("`unauthorized`: the push's OIDC token does not verify; nothing changed"),
                 "422": _error("`invalid_request` (not a push) or `invalid_notification` (a verified push whose "
                               "data is no DeveloperNotification)"),
                 "503": _error(NOT_NOW)}})
def google_notification(request, payload: PubSubPushIn):
    try:
        return _answer(google.receive_push(request.headers.get("Authorization", ""), payload.dict()))
    except NotVerified as refused:
        raise ApiError(401, "unauthorized", f"The push's OIDC token does not verify ({refused.reason}); "
                       "nothing was changed.") from refused
    except ValueError as exc:
        raise ApiError(422, "invalid_notification", f"{exc}; nothing was changed.") from exc
    except (StoreSyncBusy, StoreUnavailable) as exc:
        raise _not_now(exc) from exc
