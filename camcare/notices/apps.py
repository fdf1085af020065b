from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "camcare.notices"
    label = "notices"
