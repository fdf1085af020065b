from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "camcare.support"
    label = "support"
