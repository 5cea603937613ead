"""The one type for a password or token: a string that never prints.

Why a module of its own, at the bottom of the layers: the sandbox's generated credentials, the
targets' endpoints (admin token, AMQP URL and DSNs with embedded passwords) and the GitHub token
are all secrets, and each layer must be able to wrap one without importing a higher layer.
`repr()`, `str()`, f-strings, dataclass reprs and log lines show `***`; the code that really needs
the value (a connection handed to a client, a config file written 0600) calls `reveal()` — a
greppable word for the few places that do.
"""

from __future__ import annotations

import secrets


class Secret:
    """A string that does not print."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def redact(self, text: str) -> str:
        """`text` with every occurrence of the value replaced by `***` (for error messages)."""
        return text.replace(self._value, "***") if self._value else text

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and secrets.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(self._value)
