from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "camcare.billing"
    label = "billing"
