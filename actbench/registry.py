"""One registry for every kind of plug-in: activations, tasks, engines, executors, report
and export formats.

A registry maps lower-case names (and aliases) to entries, in registration order. An
entry is either the object itself or an import path ``"package.module:attribute"``
loaded on first use, so that listing names (``actbench --help``, ``actbench tasks``)
never imports what the entries need to run (torch, matplotlib). An unknown name is a
one-line error naming the close matches.

Adding an entry, whatever the kind:

    from actbench.run.executors import EXECUTORS
    EXECUTORS.add("slurm", "mypkg.slurm:SlurmExecutor")     # loaded when first asked for

    @FORMATS.register("html")                               # or as a decorator
    class HtmlWriter: ...

Each registry's module says what its entries must provide.
"""

from __future__ import annotations

import difflib
import importlib
import re
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from actbench.errors import ActbenchError, UsageError

T = TypeVar("T")

# What a registered name may be, and how a message says so (activation names allow less).
NAMES = (re.compile(r"[a-z0-9][a-z0-9_.-]*"), "letters, digits, '_', '-' and '.'")


class Registry(Generic[T]):
    """Names -> entries of one kind, case-insensitive, with aliases and a did-you-mean.

    kind: what an entry is, for messages ("task", "engine").
    error: the exception an unknown name raises (a UsageError by default).
    listing: what the message says when no name is close, with {names} for the list.
    cutoff: difflib's similarity cutoff for suggestions (long hyphenated names want less).
    names: the pattern every name and alias must match, and its description for messages.
    """

    def __init__(
        self,
        kind: str,
        *,
        error: type[ActbenchError] = UsageError,
        listing: str = "choose from: {names}",
        cutoff: float = 0.6,
        names: tuple[re.Pattern[str], str] = NAMES,
    ):
        self.kind = kind
        self._error = error
        self._listing = listing
        self._cutoff = cutoff
        self._names = names
        self._entries: dict[str, T | str] = {}  # primary name -> entry or its import path
        self._lookup: dict[str, str] = {}  # every name and alias -> primary name

    def add(self, name: str, entry: T | str, *, aliases: tuple[str, ...] = ()) -> None:
        """Register ``entry`` (or its import path) under ``name``; a taken or malformed name
        is a ValueError: a programming mistake, not a user's."""
        names = [name.lower(), *(alias.lower() for alias in aliases)]
        pattern, allowed = self._names
        for each in names:
            if not pattern.fullmatch(each):
                raise ValueError(f"invalid {self.kind} name {each!r}: use {allowed}")
            if each in self._lookup:
                raise ValueError(f"{self.kind} name {each!r} is already registered")
        self._entries[names[0]] = entry
        for each in names:
            self._lookup[each] = names[0]

    def register(self, name: str, *, aliases: tuple[str, ...] = ()) -> Callable[[T], T]:
        """``add`` as a decorator; the decorated object comes back unchanged."""

        def decorator(entry: T) -> T:
            self.add(name, entry, aliases=aliases)
            return entry

        return decorator

    def primary(self, name: str) -> str:
        """The registered name for ``name`` or one of its aliases; the error if unknown."""
        key = name.strip().lower()
        if key not in self._lookup:
            raise self._error(self.unknown_message(name.strip()))
        return self._lookup[key]

    def get(self, name: str) -> T:
        """The entry for ``name`` (an alias works too), imported on first use."""
        primary = self.primary(name)
        entry = self._entries[primary]
        if isinstance(entry, str):
            module, _, attribute = entry.partition(":")
            entry = getattr(importlib.import_module(module), attribute)
            self._entries[primary] = entry
        return entry  # type: ignore[return-value]

    def names(self) -> list[str]:
        """Primary names in registration order."""
        return list(self._entries)

    def aliases(self, name: str) -> list[str]:
        primary = self.primary(name)
        return [alias for alias, target in self._lookup.items() if target == primary and alias != primary]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.strip().lower() in self._lookup

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def unknown_message(self, name: str) -> str:
        """``unknown task 'minst'; did you mean: mnist, mnist-mini?``, or the listing.

        Suggested: the names ``name`` is a prefix of ("cifar" names a family), in
        registration order, then difflib's closest names and aliases (typos), best first.
        """
        key = name.lower()
        prefixed = [n for n in self._entries if key and n.startswith(key)]
        similar = difflib.get_close_matches(key, sorted(self._lookup), n=3, cutoff=self._cutoff)
        close = list(dict.fromkeys([*prefixed, *similar]))
        if close:
            return f"unknown {self.kind} {name!r}; did you mean: {', '.join(close)}?"
        return f"unknown {self.kind} {name!r}; " + self._listing.format(names=", ".join(self._entries))
