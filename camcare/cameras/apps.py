from django.apps import AppConfig


class CamerasConfig(AppConfig):
    name = "camcare.cameras"
    label = "cameras"
