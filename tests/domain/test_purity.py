"""The domain core stays plain Python: no Django anywhere in camcare.domain (ARCHITECTURE.md)."""

import json
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import camcare.domain

DOMAIN_DIR = Path(camcare.domain.__file__).resolve().parent
ROOT = DOMAIN_DIR.parents[1]


def domain_modules() -> list[str]:
    return ["camcare.domain"] + [
        f"camcare.domain.{info.name}" for info in pkgutil.iter_modules([str(DOMAIN_DIR)])
    ]


def test_it_finds_every_domain_module():
    assert {"camcare.domain.money", "camcare.domain.periods", "camcare.domain.catalog",
            "camcare.domain.pricing", "camcare.domain.order_ids"} <= set(domain_modules())


def test_it_imports_the_domain_without_loading_django():
    # A fresh interpreter: this test process has Django loaded already. -I ignores PYTHON*
    # variables (DJANGO_SETTINGS_MODULE is harmless without them) and user site-packages.
    script = (
        "import importlib, json, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        f"for name in {domain_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))))\n"
    )
    done = subprocess.run([sys.executable, "-I", "-c", script], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_it_finds_no_django_import_in_the_domain_sources():
    pattern = re.compile(r"^\s*(import\s+django\b|from\s+django\b)", re.MULTILINE)
    offenders = [
        path.name for path in sorted(DOMAIN_DIR.rglob("*.py"))
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
    assert len(list(DOMAIN_DIR.rglob("*.py"))) >= 6
