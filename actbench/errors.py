"""The library's own error types.

The library raises these; the CLI alone turns them into one line on stderr and an exit
code, so no user ever sees a traceback for a mistake they can fix.
"""


class ActbenchError(Exception):
    """A failure the user can act on. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class UsageError(ActbenchError):
    """Bad input: an unknown name, an ill-typed parameter, an invalid option value."""

    exit_code = 2


class SpecError(UsageError):
    """An activation spec string that does not name a valid activation."""


class DataError(ActbenchError):
    """Dataset files missing, unreadable or failing their checksum."""


def describe_exception(exc: BaseException, limit: int = 200) -> str:
    """An exception as one line for a message or the store: "RuntimeError: boom", its
    first line only, at most ``limit`` characters of it."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    text = text[:limit] + ("..." if len(text) > limit else "")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
