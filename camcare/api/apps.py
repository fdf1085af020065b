from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "camcare.api"
    label = "api"
