"""The OpenAPI document: served at /api/v1/openapi.json and committed as docs/openapi.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from camcare.api.management.commands.export_openapi import render_openapi

COMMITTED = Path(settings.BASE_DIR) / "docs" / "openapi.json"


def test_it_keeps_the_committed_document_equal_to_the_served_one(anon_api):
    served = anon_api.get("openapi.json")
    assert served.status_code == 200
    assert json.loads(COMMITTED.read_text(encoding="utf-8")) == served.json(), (
        "docs/openapi.json is out of date: run `python manage.py export_openapi`")


def test_it_commits_the_document_in_its_canonical_form():
    """Sorted keys, indent 2, a trailing newline: a re-export of an unchanged API is no diff."""
    text = COMMITTED.read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    call_command("export_openapi", "--check")


def test_it_exports_the_document_to_the_given_file(tmp_path):
    target = tmp_path / "openapi.json"
    call_command("export_openapi", "--output", str(target))
    assert target.read_text(encoding="utf-8") == render_openapi()


@pytest.mark.parametrize("content", [None, "{}\n"], ids=["missing", "different"])
def test_it_fails_the_check_when_the_file_is_not_current(content, tmp_path, capsys):
    target = tmp_path / "openapi.json"
    if content is not None:
        target.write_text(content, encoding="utf-8")
    with pytest.raises(CommandError) as refused:
        call_command("export_openapi", "--check", "--output", str(target))
    assert refused.value.returncode == 1
    assert "export_openapi" in str(refused.value)
    assert "+++ served" in capsys.readouterr().err
    assert target.exists() == (content is not None)  # --check never writes


def test_it_documents_the_error_body_and_the_bearer_scheme():
    schema = json.loads(render_openapi())
    assert {"code", "message", "reference"} <= set(schema["components"]["schemas"]["ErrorOut"]["properties"])
    assert schema["components"]["securitySchemes"]["TokenAuth"] == {"type": "http", "scheme": "bearer"}
    refusals = schema["paths"]["/api/v1/subscription"]["put"]["responses"]
    assert {"200", "402", "409", "422"} <= set(refusals)


def test_it_documents_a_401_on_every_route_that_needs_credentials():
    paths = json.loads(render_openapi())["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            if operation.get("security"):
                assert "401" in operation["responses"], (method, path)
    assert "security" not in paths["/api/v1/plans"]["get"]


def _operations():
    for path, operations in json.loads(render_openapi())["paths"].items():
        for method, operation in operations.items():
            yield method.upper(), path, operation


ERROR_BODY = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}


def test_it_documents_every_error_with_the_error_body():
    for method, path, operation in _operations():
        for status, answer in operation["responses"].items():
            if status.startswith("4"):
                assert answer["content"] == ERROR_BODY, (method, path, status)


def test_it_documents_invalid_json_and_its_kin_on_every_operation_that_takes_json():
    """What schemathesis found answered but undocumented: 400 invalid_json."""
    taking_json = [(m, p, o) for m, p, o in _operations() if "application/json" in o.get("requestBody", {}).get("content", {})]
    assert len(taking_json) >= 8
    for method, path, operation in taking_json:
        assert {"400", "413", "415", "422"} <= set(operation["responses"]), (method, path)
        assert "invalid_json" in operation["responses"]["400"]["description"], (method, path)


def test_it_documents_a_404_on_every_operation_with_an_id_in_its_path():
    for method, path, operation in _operations():
        if "{" in path:
            assert "404" in operation["responses"], (method, path)


def test_it_documents_a_413_on_every_operation_that_reads_a_body():
    for method, path, operation in _operations():
        if method in {"POST", "PUT", "PATCH", "DELETE"}:
            assert "413" in operation["responses"], (method, path)


def test_it_documents_the_idempotency_key_on_every_authenticated_write_but_signing_in():
    for method, path, operation in _operations():
        named = {parameter["name"] for parameter in operation.get("parameters", ())}
        takes_key = (method in {"POST", "PUT", "PATCH", "DELETE"} and bool(operation.get("security"))
                     and path not in {"/api/v1/accounts", "/api/v1/tokens"})
        assert ("Idempotency-Key" in named) == takes_key, (method, path)
        if takes_key:
            assert {"409", "422"} <= set(operation["responses"]), (method, path)


def test_it_documents_the_csrf_refusal_on_every_write_a_portal_session_may_make():
    for method, path, operation in _operations():
        session = any("PortalSessionAuth" in requirement for requirement in operation.get("security", ()))
        if session and method != "GET":
            assert "403" in operation["responses"], (method, path)
