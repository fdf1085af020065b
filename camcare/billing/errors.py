"""Typed refusals of billing actions; the API and the portal turn them into messages."""

# HTTP status of each refusal code (API.md, "Refusals of a change").
STATUS = {
    "invalid_state": 422,
    "unknown_plan": 422,
    "unknown_camera": 422,
    "invalid_cycle": 422,
    "too_many_premium_cameras": 422,
    "too_many_cameras": 422,
    "invalid_card_token": 422,
    "invalid_amount": 422,
    "invalid_time": 422,
    "managed_in_app_store": 409,
    "past_due": 409,
    "quote_stale": 409,
    "change_in_progress": 409,
    "nothing_scheduled": 409,
    "payment_method_required": 402,
    "payment_failed": 402,
}


class BillingRefusal(Exception):
    def __init__(self, code: str, message: str, *, extra: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = STATUS.get(code, 409)
        self.extra = extra or {}
