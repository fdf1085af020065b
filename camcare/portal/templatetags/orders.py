"""How an order reads in a list: what it was and whether money moved."""

from django import template

register = template.Library()

KIND_WORDS = {"charge": "Payment", "refund": "Refund", "credit": "Credit"}
STATUS_WORDS = {
    ("charge", "succeeded"): "Paid",
    ("charge", "failed"): "Declined: not charged",
    ("refund", "succeeded"): "Refunded",
    ("refund", "failed"): "Refund failed: added to your credit",
    ("credit", "succeeded"): "Added to your credit",
}


@register.filter
def kind_word(order) -> str:
    return KIND_WORDS.get(order.kind, order.kind)


@register.filter
def status_word(order) -> str:
    """A declined attempt says it charged nothing, so three declines never read as three payments."""
    if order.status == "pending":
        return "Being processed"
    return STATUS_WORDS.get((order.kind, order.status), order.get_status_display())
