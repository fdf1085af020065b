from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "camcare.audit"
    label = "audit"
