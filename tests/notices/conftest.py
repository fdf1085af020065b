import pytest
from aiosmtpd.controller import Controller

from tests.billing.conftest import at, cameras, card  # noqa: F401 (fixtures)
from tests.notices.mail import Inbox, free_port


@pytest.fixture
def smtp(settings):
    """A real SMTP server on loopback that the notices are sent to (settings.MAILERS)."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.MAILERS = {"default": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {"host": controller.hostname, "port": controller.port, "use_tls": False},
    }}
    yield inbox
    controller.stop()
