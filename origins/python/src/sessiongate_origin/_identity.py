"""Who the edge says is making the request."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

__all__ = ["Identity"]

# Rust's split_ascii_whitespace, as the edge and the Rust verifier split.
_ASCII_WHITESPACE = re.compile(r"[ \t\n\x0c\r]+")


@dataclass(frozen=True)
class Identity:
    """A verified assertion: who the edge says is making the request."""

    #: The user id the login named (for a machine client, its token's
    #: ``sub``), exactly as the edge sent it.
    sub: str
    #: A short public id of the session (not usable as a session).
    sid: str
    #: ``"session"`` for a person's session, ``"bearer"`` for a machine
    #: client's access token.
    kind: str = "session"
    #: The user's email address when the login named one, else ``None``.
    email: Optional[str] = None
    #: The groups the login named the user in; empty for none.
    groups: Tuple[str, ...] = ()
    #: The session's string claims (roles, tenant, ...).
    claims: Dict[str, str] = field(default_factory=dict)
    #: A machine client's ``client_id``; ``None`` for a session.
    client_id: Optional[str] = None
    #: A machine client's scopes, space-separated; ``None`` for a session.
    scope: Optional[str] = None
    #: When the user last entered credentials (Unix seconds): ask for a
    #: fresh login before sensitive actions if this is too long ago.
    auth_time: int = 0
    #: Whether the session is bound to a key of the user's device (DBSC).
    device_bound: bool = False
    #: When the edge issued the assertion (Unix seconds).
    iat: int = 0
    #: When the assertion expires (Unix seconds).
    exp: int = 0

    @property
    def is_bearer(self) -> bool:
        """Whether this is a machine client rather than a person's session."""
        return self.kind == "bearer"

    @property
    def scopes(self) -> Tuple[str, ...]:
        """The scopes of a machine client's token; ``()`` for a session."""
        if self.scope is None:
            return ()
        return tuple(s for s in _ASCII_WHITESPACE.split(self.scope) if s)

    def has_scope(self, scope: str) -> bool:
        """Whether this is a machine client whose token carries ``scope``
        (a whole scope: ``"deploy"`` is not in ``"deploy:write"``)."""
        return scope in self.scopes

    def in_group(self, group: str) -> bool:
        """Whether the user is in ``group`` (an exact match)."""
        return group in self.groups
