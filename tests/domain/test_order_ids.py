"""Order IDs: short, unambiguous, not guessable (POLICY.md section 7)."""

import re

from camcare.domain.order_ids import CROCKFORD, new_error_reference, new_order_id, normalize_code

ORDER_ID = re.compile(r"^ORD-[0-9A-HJKMNP-TV-Z]{10}$")


def test_it_writes_ord_and_ten_crockford_characters():
    for _ in range(2000):
        assert ORDER_ID.match(new_order_id())


def test_it_never_uses_the_ambiguous_letters():
    assert len(CROCKFORD) == len(set(CROCKFORD)) == 32
    assert not set("ILOU") & set(CROCKFORD)


def test_it_makes_unique_ids_over_many():
    ids = [new_order_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)


def test_it_uses_every_character_of_the_alphabet():
    # Not guessable: the characters come from the whole alphabet, not a fixed pattern.
    seen = set("".join(new_order_id()[4:] for _ in range(2000)))
    assert seen == set(CROCKFORD)


def test_it_writes_error_references_the_same_way():
    assert re.match(r"^ERR-[0-9A-HJKMNP-TV-Z]{10}$", new_error_reference())


def test_it_reads_a_typed_code_the_crockford_way():
    assert normalize_code(" ord-ab0i l-o1 ") == "ORD-AB01101"
    assert normalize_code("ord-0123456789") == "ORD-0123456789"
    assert normalize_code("nodash") == "NODASH"
