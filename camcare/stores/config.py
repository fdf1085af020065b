"""The stores' settings: each is read when used, from Django's settings if set there
(tests override them so), else from the environment (README, "App-store subscriptions").

A setting left empty refuses every notification of its store rather than trusting one:
no root certificate means no Apple payload verifies, no service account means no
Google push does.
"""

from __future__ import annotations

import os
from pathlib import Path

from appstoreserverlibrary.models.Environment import Environment
from django.conf import settings
from django.utils.module_loading import import_string

GOOGLE_OAUTH2_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"  # Google's ID-token signing certs
GOOGLE_PLAY_API_URL = "https://androidpublisher.googleapis.com"


def _value(name: str, env: str, default: str = ""):
    return getattr(settings, name, os.environ.get(env, default))


def _flag(name: str, env: str, default: bool) -> bool:
    value = _value(name, env, "1" if default else "0")
    return value if isinstance(value, bool) else str(value).lower() in {"1", "true", "yes", "on"}


# ---------------------------------------------------------------- Apple


def apple_bundle_id() -> str:
    return _value("STORES_APPLE_BUNDLE_ID", "CAMCARE_APPLE_BUNDLE_ID", "com.camcare.app")


def apple_app_id() -> int | None:
    """The app's Apple ID (a number), required by the Production environment."""
    value = _value("STORES_APPLE_APP_ID", "CAMCARE_APPLE_APP_ID", "")
    return int(value) if str(value).strip() else None


def apple_environment() -> Environment:
    """Production or Sandbox: a notification of the other one does not verify."""
    return Environment(_value("STORES_APPLE_ENVIRONMENT", "CAMCARE_APPLE_ENVIRONMENT", "Production"))


def apple_root_certificates() -> list[bytes]:
    """Apple's root certificates (DER), from files: a list in settings, or paths joined by
    os.pathsep in CAMCARE_APPLE_ROOT_CERTIFICATES (e.g. AppleRootCA-G3.cer from
    https://www.apple.com/certificateauthority/)."""
    value = _value("STORES_APPLE_ROOT_CERTIFICATES", "CAMCARE_APPLE_ROOT_CERTIFICATES", "")
    paths = value.split(os.pathsep) if isinstance(value, str) else list(value)
    return [Path(path).read_bytes() for path in paths if str(path).strip()]


def apple_online_checks() -> bool:
    """OCSP revocation checks of the signing chain, online: on unless turned off (tests)."""
    return _flag("STORES_APPLE_ONLINE_CHECKS", "CAMCARE_APPLE_ONLINE_CHECKS", True)


# ---------------------------------------------------------------- Google


def google_package_name() -> str:
    return _value("STORES_GOOGLE_PACKAGE_NAME", "CAMCARE_GOOGLE_PACKAGE_NAME", "com.camcare.app")


def google_push_audience() -> str:
    """The audience the Pub/Sub push subscription puts in its OIDC token: by default the
    endpoint's URL on this site."""
    default = settings.SITE_URL.rstrip("/") + "/api/v1/stores/google/notifications"
    return _value("STORES_GOOGLE_PUSH_AUDIENCE", "CAMCARE_GOOGLE_PUSH_AUDIENCE", default)


def google_push_service_account() -> str:
    """The e-mail of the service account the push subscription signs its tokens as."""
    return _value("STORES_GOOGLE_PUSH_SERVICE_ACCOUNT", "CAMCARE_GOOGLE_PUSH_SERVICE_ACCOUNT", "")


def google_certs_url() -> str:
    return _value("STORES_GOOGLE_CERTS_URL", "CAMCARE_GOOGLE_CERTS_URL", GOOGLE_OAUTH2_CERTS_URL)


def google_play_api_url() -> str:
    return _value("STORES_GOOGLE_PLAY_API_URL", "CAMCARE_GOOGLE_PLAY_API_URL", GOOGLE_PLAY_API_URL).rstrip("/")


def google_play_credentials() -> str:
    """Path of the service-account key (JSON) that may read the app's purchases."""
    return _value("STORES_GOOGLE_PLAY_CREDENTIALS", "CAMCARE_GOOGLE_PLAY_CREDENTIALS", "")


def google_play_session():
    """The HTTP session the Play Developer API is called through: a callable's answer,
    named by its dotted path (tests name a fake transport)."""
    path = _value("STORES_GOOGLE_PLAY_SESSION", "CAMCARE_GOOGLE_PLAY_SESSION",
                  "camcare.stores.google_play.authorized_session")
    return import_string(path)()
