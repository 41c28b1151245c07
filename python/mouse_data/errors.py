"""The exceptions mouse_data raises: all derive from ``mouse_data.Error`` and from the builtin
exception they always were, so ``except ValueError`` (KeyError, IndexError, TypeError, OSError)
keeps working and ``except mouse_data.Error`` catches everything of ours.

C++ errors map one to one: ``InvalidArgument`` -> :class:`InvalidArgumentError`,
``FormatError`` -> :class:`FormatError`, ``TypeError`` -> :class:`WrongTypeError`,
``KeyError`` -> :class:`MissingKeyError`, ``IndexError`` -> :class:`OutOfRangeError`,
``IoError`` -> :class:`IoError`, any other -> :class:`InternalError`. This module imports
nothing of the package, so the extension can look the classes up while it initialises.
"""

from __future__ import annotations


class Error(Exception):
    """Base class of every exception mouse_data raises."""


class InvalidArgumentError(Error, ValueError):
    """An argument or a value outside what it may be (a ValueError)."""


class FormatError(Error, ValueError):
    """Corrupt, truncated or unsupported data; the message names the file, the byte offset when
    known, and what was expected versus found (a ValueError)."""


class WrongTypeError(Error, TypeError):
    """An argument or a value of a type that does not fit (a TypeError)."""


class MissingKeyError(Error, KeyError):
    """An unknown split, config, column or key (a KeyError). ``str()`` is the message as
    written, not quoted as KeyError's is."""

    def __str__(self) -> str:
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


class OutOfRangeError(Error, IndexError):
    """An index outside its range (an IndexError)."""


class IoError(Error, OSError):
    """A file or network operation failed (an OSError)."""


class NotFoundError(IoError, FileNotFoundError):
    """A path that does not exist (a FileNotFoundError)."""


class MissingDependencyError(Error, ImportError):
    """An optional package an option needs is not installed (an ImportError)."""


class InternalError(Error, RuntimeError):
    """Any other failure of the core (a RuntimeError)."""


class UsedAfterForkError(Error, RuntimeError):
    """An object whose threads belong to another process was used in a forked child: create
    it in the child instead (a RuntimeError)."""


__all__ = [
    "Error",
    "FormatError",
    "InternalError",
    "InvalidArgumentError",
    "IoError",
    "MissingDependencyError",
    "MissingKeyError",
    "NotFoundError",
    "OutOfRangeError",
    "UsedAfterForkError",
    "WrongTypeError",
]
