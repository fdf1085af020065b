"""The console's pages as a test reads them: ids, labels and the forms they are in, and a
money form's fields with the one-time key its page was rendered with."""

from __future__ import annotations

from html.parser import HTMLParser


class Page(HTMLParser):
    """The elements of a page with an id, the labels, and the form each one is in."""

    def __init__(self, html: str):
        super().__init__()
        self.form = None
        self.ids: list[tuple[str, str | None]] = []  # (id, form action)
        self.labels: list[tuple[str, str | None]] = []  # (for, form action)
        self.inputs: dict[str, dict] = {}  # id -> attributes
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.form = attrs.get("action")
        if "id" in attrs:
            self.ids.append((attrs["id"], self.form))
        if tag == "input" and "id" in attrs:
            self.inputs[attrs["id"]] = attrs
        if tag == "label" and "for" in attrs:
            self.labels.append((attrs["for"], self.form))

    def handle_endtag(self, tag):
        if tag == "form":
            self.form = None


def account_page(client, owner) -> Page:
    return Page(client.get(f"/support/accounts/{owner.pk}/").content.decode())


def sent_from_page(client, owner, form: str, **fields) -> dict:
    """The form's fields with the one-time key its page was rendered with."""
    return {**fields, "request_key": account_page(client, owner).inputs[f"{form}_request_key"]["value"]}


class _Forms(HTMLParser):
    """Each form of a page: its action and its named inputs' values."""

    def __init__(self, html: str):
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append((attrs.get("action") or "", {}))
        elif tag == "input" and self.forms and attrs.get("name"):
            self.forms[-1][1][attrs["name"]] = attrs.get("value") or ""


def first_form(html: str, action_end: str) -> dict[str, str]:
    """The fields of the page's first form whose action ends with `action_end`."""
    return next(fields for action, fields in _Forms(html).forms if action.endswith(action_end))
