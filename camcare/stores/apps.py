from django.apps import AppConfig


class StoresConfig(AppConfig):
    name = "camcare.stores"
    verbose_name = "App Store and Google Play subscriptions"
    default_auto_field = "django.db.models.BigAutoField"
