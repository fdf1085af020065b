"""Write the OpenAPI document of API v1 to docs/openapi.json (or check it is current).

The committed file is the contract's published form (API.md); a test keeps it equal to
what /api/v1/openapi.json serves, and `--check` lets CI say so before the tests run.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from ninja.responses import NinjaJSONEncoder

from camcare.api.v1 import api

DEFAULT_PATH = Path(settings.BASE_DIR) / "docs" / "openapi.json"


def render_openapi() -> str:
    """The document as committed: sorted keys, indent 2, a trailing newline."""
    schema = api.get_openapi_schema()
    return json.dumps(schema, cls=NinjaJSONEncoder, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


class Command(BaseCommand):
    help = "Export the API v1 OpenAPI document to docs/openapi.json (--check: fail if it differs)."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="exit 1 if the committed file is not current")
        parser.add_argument("--output", type=Path, default=DEFAULT_PATH, help="where the document lives")

    def handle(self, *args, check: bool, output: Path, **options):
        text = render_openapi()
        if check:
            self._check(output, text)
            return
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        self.stdout.write(f"wrote {output}")

    def _check(self, output: Path, text: str) -> None:
        committed = output.read_text(encoding="utf-8") if output.exists() else ""
        if committed == text:
            self.stdout.write(f"{output} is current")
            return
        diff = difflib.unified_diff(committed.splitlines(), text.splitlines(), str(output), "served", lineterm="", n=1)
        shown = "\n".join(list(diff)[:40])
        self.stderr.write(f"{shown}\n")
        raise CommandError(f"{output} is out of date: run `python manage.py export_openapi` and commit it.", returncode=1)
