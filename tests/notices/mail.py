"""A real SMTP server on loopback (aiosmtpd) for the notices' tests, and readers of what it
received: the text and HTML parts, and every link in them."""

from __future__ import annotations

import email
import re
import socket

from django.conf import settings


class Inbox:
    """An aiosmtpd handler that keeps every message, or refuses them while `refusing`."""

    def __init__(self):
        self.messages = []
        self.refusing = False

    async def handle_DATA(self, server, session, envelope):
        if self.refusing:
            return "451 try again later"
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def of_kind(self, subject_part: str) -> list:
        return [message for message in self.messages if subject_part in message["Subject"]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def parts(message) -> dict[str, str]:
    """{content type: decoded body} of a message's text and HTML parts."""
    return {part.get_content_type(): part.get_payload(decode=True).decode() for part in message.walk()
            if not part.is_multipart()}


def html_links(html: str) -> list[str]:
    return re.findall(r'href="([^"]*)"', html)


def text_links(text: str) -> list[str]:
    return re.findall(r"\bhttps?://\S+", text)


def assert_links_absolute(message) -> None:
    """Every link of both parts starts at settings.SITE_URL (POLICY.md section 15)."""
    body = parts(message)
    links = html_links(body["text/html"]) + text_links(body["text/plain"])
    assert links, "a notice has at least its one button"
    for link in links:
        assert link.startswith(settings.SITE_URL + "/"), link


def buttons(html: str) -> list[tuple[str, str]]:
    """(href, label) of each button (the _button.html partial's link)."""
    return re.findall(r'<a href="([^"]*)" style="display:inline-block;padding:13px 24px;[^"]*">([^<]*)</a>', html)
