"""Imports only run downwards (ARCHITECTURE.md): portal/api -> support -> billing -> cameras
-> accounts -> the shared helpers -> domain. A module may import its own package and any
layer below its own, never one beside or above it."""

import ast
from pathlib import Path

import camcare

ROOT = Path(camcare.__file__).resolve().parent

# Lower number = lower layer. Packages on one level may not import each other.
LAYERS = {
    "domain": 0,
    "clock": 1, "ids": 1, "tokens": 1, "catalog": 1, "display": 1,
    "audit": 2, "notices": 2,
    "accounts": 3,
    "cameras": 4,
    "billing": 5,
    "stores": 6,
    "support": 7,
    "portal": 8, "api": 8,
    "urls": 9, "settings": 9, "wsgi": 9, "gunicorn_conf": 9,
}


def imported_layers(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("camcare."):
            yield node.module.split(".")[1], node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("camcare."):
                    yield alias.name.split(".")[1], node.lineno


def upward_imports() -> list[str]:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if "migrations" in relative.parts or relative.name == "__init__.py" and len(relative.parts) == 1:
            continue
        here = relative.parts[0].removesuffix(".py")
        for there, line in imported_layers(path):
            if there != here and LAYERS[there] >= LAYERS[here]:
                found.append(f"{relative}:{line} imports camcare.{there}")
    return found


def test_it_knows_every_package():
    packages = {p.name.removesuffix(".py") for p in ROOT.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    assert packages - {"__init__"} <= set(LAYERS)


def test_it_imports_only_downwards():
    assert upward_imports() == []
