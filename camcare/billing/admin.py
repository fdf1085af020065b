"""Read-only admin views for superusers. Money is never edited here: corrections are new
orders and ledger postings made through camcare.billing.actions (the support console)."""

from django.contrib import admin

from camcare.billing.models import LedgerEntry, Order, Subscription, SubscriptionLine


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(ReadOnly):
    list_display = ["order_id", "account", "kind", "status", "amount", "credit_used", "created_at"]
    search_fields = ["order_id", "account__email"]
    list_filter = ["kind", "status", "purpose"]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnly):
    list_display = ["posting", "at", "book", "account", "amount", "currency", "memo"]
    search_fields = ["posting", "account__email", "order__order_id"]


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnly):
    list_display = ["account", "channel", "status", "cycle", "period_start", "period_end", "version"]
    search_fields = ["account__email"]


@admin.register(SubscriptionLine)
class SubscriptionLineAdmin(ReadOnly):
    list_display = ["subscription", "plan", "camera_key", "cycle", "unit_price", "paid", "credited", "ended_at"]
