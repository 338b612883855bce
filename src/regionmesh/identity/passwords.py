"""Password hashing with Argon2id (argon2-cffi).

Why Argon2id: it is memory-hard (RFC 9106), and its encoded form carries its own parameters and
salt, so stored hashes stay verifiable after the cost is raised; :meth:`Passwords.needs_rehash`
tells the caller to upgrade a hash at the next successful login. Clear-text passwords are never
stored, returned or logged; they live only in the arguments of these functions.
"""

from __future__ import annotations

import contextlib
import logging

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

LOG = logging.getLogger(__name__)


class Passwords:
    """Hashes and verifies passwords; the cost parameters are injectable (cheap ones for tests)."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()  # RFC 9106 low-memory profile: t=3, m=64 MiB, p=4
        # Verified when a user does not exist, so a wrong name costs as long as a wrong password
        # (no user enumeration by timing).
        self._dummy = self._hasher.hash("not-a-password")

    @classmethod
    def cheap(cls) -> Passwords:
        """Minimal cost: for tests only, where hundreds of logins must stay fast."""
        return cls(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))

    def hash(self, password: str) -> str:
        if not isinstance(password, str) or not password:
            raise ValueError("a password must be a non-empty string")
        return self._hasher.hash(password)

    def verify(self, encoded: str | None, password: str) -> bool:
        """True when ``password`` matches ``encoded``; a missing hash never matches."""
        if not isinstance(password, str):
            return False
        if not encoded:
            self._burn(password)
            return False
        try:
            return self._hasher.verify(encoded, password)
        except VerificationError:
            return False
        except InvalidHashError:
            LOG.error("a stored password hash is not a valid Argon2 hash; the login is refused")
            return False

    def needs_rehash(self, encoded: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(encoded)
        except InvalidHashError:
            return True

    def _burn(self, password: str) -> None:
        with contextlib.suppress(VerificationError):
            self._hasher.verify(self._dummy, password)
