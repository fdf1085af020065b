"""Which account a purchase names: the account's public id, as it is (Google) or packed
into a UUID (Apple's appAccountToken must be one)."""

import uuid

import pytest

from camcare import ids
from camcare.stores.linking import (
    ALPHABET,
    account_for_token,
    account_id_from_token,
    apple_account_token,
)


def test_it_packs_an_account_id_into_a_uuid_and_back():
    account_id = ids.account_id()
    token = apple_account_token(account_id)
    assert uuid.UUID(token).version == 8 and token == token.lower()
    assert account_id_from_token(token) == account_id
    assert account_id_from_token(token.upper()) == account_id


def test_it_gives_each_account_its_own_token():
    first, second = ids.account_id(), ids.account_id()
    assert apple_account_token(first) != apple_account_token(second)


def test_it_reads_an_account_id_given_as_it_is():
    account_id = ids.account_id()
    assert account_id_from_token(f"  {account_id} ") == account_id


@pytest.mark.parametrize("token", [None, "", "acc_short", "ACC_0123456789ABCDEF", "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f",
                                   "00000000-0000-8000-8000-000000000000", "not a uuid", "acc_0123456789abcdei"])
def test_it_reads_no_account_from_anything_else(token):
    assert account_id_from_token(token) is None


def test_it_refuses_to_pack_what_is_not_an_account_id():
    with pytest.raises(ValueError):
        apple_account_token("cam_0123456789abcdef")


def test_it_uses_the_alphabet_of_the_ids():
    assert ALPHABET == ids._ALPHABET


def test_it_links_only_an_active_account(owner):
    assert account_for_token(apple_account_token(owner.pk)) == owner
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    assert account_for_token(owner.pk) is None
