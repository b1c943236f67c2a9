"""PasswordHasher on argon2-cffi (argon2id, RFC 9106 parameters by default; the hash string carries its own
salt and parameters, so changing the parameters later only makes ``needs_rehash`` true for old hashes)."""
from __future__ import annotations

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError


class Argon2Hasher:
    def __init__(self, **parameters):
        """``parameters`` go to ``argon2.PasswordHasher`` (time_cost, memory_cost, parallelism...)."""
        self._ph = _Argon2(**parameters)

    def hash(self, password: str) -> str:
        return self._ph.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._ph.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._ph.check_needs_rehash(password_hash)
        except (InvalidHashError, ValueError):
            return True
