from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "camcare.portal"
    label = "portal"
