"""The server's admin key: what a teacher (or a study's owner) types to act for the whole server.

One key per server process: ``$GANLAB_ADMIN_KEY`` when set (so that several replicas share it), else a
random one made at start and printed in the terminal, like Jupyter's token. Publishing a run to the class
and the server overview need it; where the app listens on loopback only, the person at the keyboard is
the admin and no key is asked (``required()``).
"""

from __future__ import annotations

import hmac
import os
import secrets

ADMIN_KEY_ENV = "GANLAB_ADMIN_KEY"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class AdminKeyError(PermissionError):
    """Said to the person: the admin key was missing or wrong."""


class AdminKey:
    """The key and whether it is asked for (``listening_on``: the address the server binds)."""

    def __init__(self, key: str | None = None, *, listening_on: str = "127.0.0.1") -> None:
        self.key = key or os.environ.get(ADMIN_KEY_ENV, "").strip() or secrets.token_urlsafe(12)
        self.listening_on = listening_on

    @property
    def required(self) -> bool:
        return self.listening_on not in LOOPBACK_HOSTS

    def check(self, given: str | None, *, what: str) -> None:
        """Raise AdminKeyError unless ``given`` is the key (or no key is required here)."""
        if not self.required:
            return
        if not given or not hmac.compare_digest(str(given).strip().encode(), self.key.encode()):
            raise AdminKeyError(f"{what} needs the server's admin key (printed in the terminal where the app started)")
