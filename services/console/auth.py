"""Users, password hashes and lock-outs of the console: pure logic, no HTTP.

Users come from the environment (``CONSOLE_USERS``, typically from a Kubernetes Secret) as
``name:role:hash`` entries separated by commas; the hash is PBKDF2-SHA256 from the standard
library, written ``pbkdf2_sha256$<iterations>$<salt hex>$<digest hex>`` (make one with
``storesight console hash-password``). Nothing here logs or stores a password.

>>> h = hash_password("correct horse", iterations=1000)
>>> users = parse_users(f"ana:installer:{h},bo:viewer:{h}")
>>> users["ana"].role, verify_password("correct horse", users["bo"].password_hash)
('installer', True)
>>> verify_password("wrong", h)
False
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

ROLES = ("viewer", "installer")
ALGORITHM = "pbkdf2_sha256"
DEFAULT_ITERATIONS = 600_000  # OWASP's 2023 figure for PBKDF2-HMAC-SHA256
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@")


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str

    @property
    def can_edit(self) -> bool:
        return self.role == "installer"


def hash_password(password: str, iterations: int = DEFAULT_ITERATIONS, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"{ALGORITHM}${iterations}${salt.hex()}${digest.hex()}"


def verify_password(password: str, password_hash: str) -> bool:
    """Constant-time check; a malformed hash is simply a mismatch."""
    try:
        algorithm, iterations, salt, digest = password_hash.split("$")
        if algorithm != ALGORITHM:
            return False
        actual = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(iterations))
        return hmac.compare_digest(actual, bytes.fromhex(digest))
    except ValueError:
        return False


def parse_users(text: str) -> dict[str, User]:
    """``name:role:hash,...`` -> users by name; ValueError naming the bad entry (never its hash)."""
    users: dict[str, User] = {}
    for number, entry in enumerate((e.strip() for e in text.split(",")), start=1):
        if not entry:
            continue
        parts = entry.split(":")
        if len(parts) != 3:
            raise ValueError(f"CONSOLE_USERS entry {number}: expected name:role:hash")
        name, role, password_hash = parts
        if not name or set(name) - NAME_CHARS:
            raise ValueError(f"CONSOLE_USERS entry {number}: user names use letters, digits and . _ - @")
        if role not in ROLES:
            raise ValueError(f"CONSOLE_USERS entry {number} ({name}): role must be one of {', '.join(ROLES)}")
        if not password_hash.startswith(ALGORITHM + "$") or password_hash.count("$") != 3:
            raise ValueError(f"CONSOLE_USERS entry {number} ({name}): the hash is not from "
                             "'storesight console hash-password'")
        if name in users:
            raise ValueError(f"CONSOLE_USERS: user {name!r} is listed twice")
        users[name] = User(name, role, password_hash)
    return users


@dataclass
class LockoutPolicy:
    """``max_failures`` failed sign-ins within ``window_s`` lock the name for ``lock_s``.

    Keyed by the name typed, known or not, so a guesser learns nothing about which names exist.

    >>> now = [0.0]
    >>> guard = LockoutPolicy(max_failures=2, window_s=60, lock_s=300, clock=lambda: now[0])
    >>> guard.failed("ana"); guard.locked_for("ana")
    0.0
    >>> guard.failed("ana"); guard.locked_for("ana")
    300.0
    >>> now[0] = 301.0; guard.locked_for("ana")
    0.0
    """

    max_failures: int = 5
    window_s: float = 900.0
    lock_s: float = 900.0
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, list[float]] = field(default_factory=dict)
    _locked_until: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def locked_for(self, name: str) -> float:
        """Seconds the name stays locked (0.0 when it may sign in)."""
        with self._lock:
            return max(0.0, self._locked_until.get(name, 0.0) - self.clock())

    def failed(self, name: str) -> None:
        with self._lock:
            now = self.clock()
            recent = [t for t in self._failures.get(name, []) if now - t < self.window_s] + [now]
            if len(recent) >= self.max_failures:
                self._locked_until[name] = now + self.lock_s
                recent = []
            self._failures[name] = recent

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name, None)


def users_from_env(environ: dict[str, str] | None = None) -> dict[str, User]:
    return parse_users((environ if environ is not None else os.environ).get("CONSOLE_USERS", ""))
