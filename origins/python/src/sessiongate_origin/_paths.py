"""Matching the paths a middleware lets through unverified."""

from __future__ import annotations

from typing import Iterable, Tuple


class PathSkipper:
    """``skip_paths``: an entry ending in ``*`` matches every path that
    starts with what precedes the ``*`` (``"/static/*"``, ``"/public*"``);
    any other entry matches that path exactly (``"/healthz"``)."""

    def __init__(self, skip_paths: Iterable[str] = ()) -> None:
        if isinstance(skip_paths, str):
            raise TypeError("skip_paths is a list of paths, not one string")
        exact = []
        prefixes = []
        for entry in skip_paths:
            if not isinstance(entry, str) or not entry.startswith("/"):
                raise ValueError(f"a skip path starts with '/': {entry!r}")
            if entry.endswith("*"):
                prefixes.append(entry[:-1])
            else:
                exact.append(entry)
        self.exact = frozenset(exact)
        self.prefixes: Tuple[str, ...] = tuple(prefixes)

    def __call__(self, path: str) -> bool:
        return path in self.exact or path.startswith(self.prefixes)
