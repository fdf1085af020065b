from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "camcare.accounts"
    label = "accounts"
