"""Argon2id password hashing: never clear text, verifiable, upgradable."""

from __future__ import annotations

import logging

import pytest
from argon2 import PasswordHasher

from regionmesh.identity.passwords import Passwords


@pytest.fixture
def passwords() -> Passwords:
    return Passwords.cheap()


def test_hash_is_argon2id_and_salted(passwords: Passwords) -> None:
    one, two = passwords.hash("s3cret-pw"), passwords.hash("s3cret-pw")
    assert one.startswith("$argon2id$") and two.startswith("$argon2id$")
    assert one != two  # a fresh salt each time
    assert "s3cret-pw" not in one


def test_verify(passwords: Passwords) -> None:
    encoded = passwords.hash("s3cret-pw")
    assert passwords.verify(encoded, "s3cret-pw")
    assert not passwords.verify(encoded, "S3cret-pw")
    assert not passwords.verify(encoded, "")
    assert not passwords.verify(None, "s3cret-pw")  # a user without a password never matches
    assert not passwords.verify(encoded, 42)  # type: ignore[arg-type]


def test_empty_password_is_refused(passwords: Passwords) -> None:
    with pytest.raises(ValueError):
        passwords.hash("")


def test_invalid_stored_hash_fails_closed_and_logs_no_secret(passwords: Passwords,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        assert not passwords.verify("plain-text-in-db", "plain-text-in-db")
    assert "plain-text-in-db" not in caplog.text
    assert "not a valid Argon2 hash" in caplog.text


def test_needs_rehash_when_cost_rises() -> None:
    cheap = Passwords.cheap()
    old = cheap.hash("pw-1")
    stronger = Passwords(PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1))
    assert stronger.needs_rehash(old)
    assert stronger.verify(old, "pw-1")  # parameters travel with the hash
    assert not stronger.needs_rehash(stronger.hash("pw-1"))
    assert stronger.needs_rehash("garbage")


def test_default_profile_is_rfc9106_low_memory() -> None:
    encoded = Passwords().hash("pw")
    assert "$m=65536,t=3,p=4$" in encoded
