"""Order IDs and error references as support staff type them: loosely (POLICY.md section 7)."""

import pytest

from camcare.domain.order_ids import code_candidates, new_error_reference, new_order_id

TYPED = {
    "as printed": "ORD-0JSV12345A",
    "lower case": "ord-0jsv12345a",
    "a space for the dash": "ORD 0JSV12345A",
    "spaces inside": " ORD 0JSV 1234 5A ",
    "no dash": "ORD0JSV12345A",
    "no dash, lower case": "ord0jsv12345a",
    "a zero for the prefix's O": "0RD-0JSV12345A",
    "a zero and no dash": "0rd0jsv12345a",
    "O and L read as 0 and 1": "ORD-OJSVl2345A",
    "two dashes": "ORD--0JSV-12345A",
}


@pytest.mark.parametrize("typed", TYPED.values(), ids=TYPED.keys())
def test_it_reads_an_order_id_typed_loosely(typed):
    assert code_candidates(typed) == ["ORD-0JSV12345A"]


def test_it_reads_an_error_reference_the_same_way():
    for typed in ("ERR-7K2M9Q4T1B", "err 7k2m9q4t1b", "ERR7K2M9Q4TlB"):
        assert code_candidates(typed) == ["ERR-7K2M9Q4T1B"]


def test_it_offers_both_kinds_for_the_ten_characters_alone():
    assert code_candidates("0jsv12345a") == ["ORD-0JSV12345A", "ERR-0JSV12345A"]


def test_it_reads_every_new_code_back_as_itself():
    for code in [new_order_id() for _ in range(200)] + [new_error_reference() for _ in range(200)]:
        assert code in code_candidates(code.lower().replace("-", " "))


NOT_CODES = {
    "an e-mail": "owner@example.com",
    "too short": "ORD-0JSV1234",
    "too long": "ORD-0JSV12345AB",
    "another prefix": "ABC-0JSV12345A",
    "U is no Crockford character": "ORD-0JSV12345U",
    "punctuation": "ORD-0JSV1234!A",
    "not ASCII": "ORD-0JSV12345Å",
    "Arabic-Indic digits": "ORD-٠JSV12345A",
    "empty": "",
    "a NUL": "ORD-0JSV1234\x00A",
}


@pytest.mark.parametrize("typed", NOT_CODES.values(), ids=NOT_CODES.keys())
def test_it_reads_no_code_in_other_text(typed):
    assert code_candidates(typed) == []
