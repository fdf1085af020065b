"""The edges of catalog validation (POLICY.md section 1): the smallest valid values, the
shapes TOML can give a [[plan]] by mistake, and a catalog read the same on every server."""

import codecs
import locale
import sys

import pytest

from camcare.domain.catalog import Catalog, CatalogError
from camcare.domain.periods import Cycle
from tests.domain.catalog_texts import FREE

DAY = """
[[plan]]
code = "day"
name = "Day pass"
scope = "camera"
max_cameras = 1
history_days = 1
currency = "USD"
prices = { monthly = 99, annual = 999 }
"""


def test_it_accepts_a_plan_of_one_day_of_history():
    catalog = Catalog.from_toml(FREE + DAY)
    assert (catalog["day"].history_days, catalog["day"].price(Cycle.MONTHLY)) == (1, 99)


def test_it_refuses_a_single_plan_table_instead_of_plan_entries():
    # `plan = {...}` (or [plan]) is a table where [[plan]] entries are expected.
    with pytest.raises(CatalogError) as refused:
        Catalog.from_toml('plan = { code = "free", name = "Free" }\n')
    assert str(refused.value) == "the catalog needs [[plan]] entries"


def test_it_refuses_an_empty_list_of_plans():
    with pytest.raises(CatalogError) as refused:
        Catalog.from_toml("plan = []\n")
    assert str(refused.value) == "the catalog needs [[plan]] entries"


@pytest.fixture
def ascii_locale():
    """The C locale for LC_CTYPE, whose encoding is ASCII: what a server started with LANG=C
    (or an ISO-8859 locale) would read a file with, were the encoding left to the locale."""
    if sys.flags.utf8_mode:
        pytest.skip("Python's UTF-8 mode is on here: no locale can change how files are read")
    saved = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    yield
    locale.setlocale(locale.LC_CTYPE, saved)


def test_it_reads_the_catalog_as_utf8_whatever_the_locale(tmp_path, ascii_locale):
    assert codecs.lookup(locale.getencoding()).name == "ascii"  # else this test proves nothing
    path = tmp_path / "catalog.toml"
    path.write_text(FREE + DAY.replace("Day pass", "Prémium du jour"), encoding="utf-8")
    assert Catalog.load(path)["day"].name == "Prémium du jour"
