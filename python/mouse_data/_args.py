"""Argument checks at the point of entry: each names the argument, and a wrong type also shows
the public signature, so that no raw extension signature reaches the user.

A bool is not an int here (``batch_size=True`` is an error); a float is an int only when it is
whole (``4.0`` is 4, ``2.5`` an error); NumPy scalars are their values.
"""

from __future__ import annotations

import inspect
import numbers
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .errors import InvalidArgumentError, WrongTypeError

_UINT64_MAX = (1 << 64) - 1


def signature(where: str, func: Callable[..., Any]) -> str:
    """``where(params)``: the parameters of ``func`` (without self and annotations)."""
    sig = inspect.signature(func)
    params = [p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()
              if p.name != "self"]
    return f"{where}{sig.replace(parameters=params, return_annotation=inspect.Signature.empty)}"


class Args:
    """The checks of one public callable: ``where`` names it in value errors, and its signature
    leads type errors."""

    def __init__(self, where: str, func: Callable[..., Any]) -> None:
        self.where = where
        self.func = func

    def type_error(self, name: str, expected: str, value: Any) -> WrongTypeError:
        got = "None" if value is None else f"{type(value).__name__} {_show(value)}"
        return WrongTypeError(f"{signature(self.where, self.func)}: {name} must be {expected}, "
                              f"got {got}")

    def value_error(self, name: str, expected: str, value: Any) -> InvalidArgumentError:
        return InvalidArgumentError(f"{self.where}: {name} must be {expected}, got {_show(value)}")

    def int(self, name: str, value: Any, *, minimum: int | None = None,
            maximum: int | None = None, none: bool = False) -> int | None:
        """An integer (or a whole float) within [minimum, maximum]; None when ``none``."""
        if value is None and none:
            return None
        expected = "an int" + (" or None" if none else "")
        if isinstance(value, bool) or _is_numpy_bool(value):
            raise self.type_error(name, expected + " (a bool is not an int here)", value)
        if isinstance(value, numbers.Integral):
            out = int(value)
        elif isinstance(value, numbers.Real):
            f = float(value)
            if not f.is_integer():
                raise self.value_error(name, "a whole number", value)
            out = int(f)
        else:
            raise self.type_error(name, expected, value)
        if minimum is not None and out < minimum:
            raise self.value_error(name, f">= {minimum}", value)
        if maximum is not None and out > maximum:
            raise self.value_error(name, f"<= {maximum}", value)
        return out

    def seed(self, name: str, value: Any) -> int | None:
        """None or an int in [0, 2**64)."""
        return self.int(name, value, minimum=0, maximum=_UINT64_MAX, none=True)

    def real(self, name: str, value: Any, *, minimum: float | None = None,
             none: bool = False) -> float | None:
        """A real number (not a bool) >= minimum; None when ``none``."""
        if value is None and none:
            return None
        if isinstance(value, bool) or _is_numpy_bool(value) or not isinstance(value, numbers.Real):
            raise self.type_error(name, "a number" + (" or None" if none else ""), value)
        out = float(value)
        if minimum is not None and not out >= minimum:
            raise self.value_error(name, f">= {minimum}", value)
        return out

    def bool(self, name: str, value: Any) -> bool:
        """True / False (NumPy bools and the ints 0 / 1 too)."""
        if isinstance(value, bool) or _is_numpy_bool(value):
            return bool(value)
        if isinstance(value, numbers.Integral) and int(value) in (0, 1):
            return bool(value)
        raise self.type_error(name, "a bool", value)

    def str(self, name: str, value: Any, *, none: bool = False) -> str | None:
        if value is None and none:
            return None
        if not isinstance(value, str):
            raise self.type_error(name, "a str" + (" or None" if none else ""), value)
        return value

    def choice(self, name: str, value: Any, options: Sequence[str]) -> str:
        """One of ``options``."""
        shown = ", ".join(repr(o) for o in options)
        if not isinstance(value, str):
            raise self.type_error(name, f"one of {shown}", value)
        if value not in options:
            raise self.value_error(name, f"one of {shown}", value)
        return value

    def path(self, name: str, value: Any, *, none: bool = False) -> str | None:
        """A str or os.PathLike, as a str."""
        if value is None and none:
            return None
        if not isinstance(value, (str, os.PathLike)):
            raise self.type_error(name, "a path (str or os.PathLike)" + (" or None" if none else ""),
                                  value)
        out = os.fspath(value)
        if not isinstance(out, str):
            raise self.type_error(name, "a str path", value)
        return out

    def names(self, name: str, value: Any, *, none: bool = True) -> list[str] | None:
        """A list of str; one str is a list of that one name (not of its letters)."""
        if value is None and none:
            return None
        if isinstance(value, str):
            return [value]
        if isinstance(value, (bytes, Mapping)) or not isinstance(value, (Sequence, set, frozenset)):
            raise self.type_error(name, "a str or a list of str" + (" or None" if none else ""),
                                  value)
        out = list(value)
        for i, item in enumerate(out):
            if not isinstance(item, str):
                raise self.type_error(f"{name}[{i}]", "a str", item)
        return out

    def instance(self, name: str, value: Any, cls: type | tuple[type, ...], expected: str, *,
                 none: bool = False) -> Any:
        if value is None and none:
            return None
        if not isinstance(value, cls):
            raise self.type_error(name, expected + (" or None" if none else ""), value)
        return value


def _is_numpy_bool(value: Any) -> bool:
    return type(value).__name__ == "bool_" and type(value).__module__ == "numpy"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
