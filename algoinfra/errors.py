"""The one error type that bad input raises, and how user values may appear in a message.

Every message is one line of bounded length, whatever the input: values, keys
and paths come from users (a key with a newline, a 300 MB value, a path with a
terminal escape), so they are echoed through :func:`shown` (quoted, escaped,
truncated), and :meth:`ConfigError.__str__` escapes and bounds the whole line
again as a last defence.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

# How much of a user value a message echoes: enough to recognise it.
SHOWN_LIMIT = 80
# Bounds of the parts of a message line, and of the line itself.
PATH_LIMIT = 160
FIELD_LIMIT = 160
MESSAGE_LIMIT = 480
LINE_LIMIT = 800

_ELLIPSIS = "…"
_SIMPLE_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+\Z")


class ConfigError(Exception):
    """A configuration problem, reported as one line: ``<file>: <field>: <message>``."""

    def __init__(self, path: Path | str, field: str, message: str) -> None:
        self.path = str(path)
        self.field = field
        self.message = message
        super().__init__(str(self))

    def location(self) -> str:
        """The first part of the line: the file, relative to the working directory when below it."""
        return shown_path(self.path)

    def __str__(self) -> str:
        parts = [self.location()]
        if self.field:
            parts.append(one_line(self.field, FIELD_LIMIT))
        parts.append(one_line(self.message, MESSAGE_LIMIT))
        return one_line(": ".join(parts), LINE_LIMIT)


class VariableError(ConfigError):
    """A bad environment variable, reported as ``<VARIABLE>: <message>``."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(variable, "", message)

    @property
    def variable(self) -> str:
        return self.path

    def location(self) -> str:
        return one_line(self.path, FIELD_LIMIT)


def shown(value: object, limit: int = SHOWN_LIMIT) -> str:
    """``value`` as a message may echo it: strings quoted and escaped (newlines, control
    and invisible characters), containers abridged, at most about ``limit`` characters.

    Never expensive: a 300 MB string or a deeply nested list costs no more than a short one.
    """
    if isinstance(value, str):
        return _shown_text(value, limit)
    if isinstance(value, Path):
        return _shown_text(str(value), limit)
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        # str() of an int beyond 4,300 digits raises; a long one is noise anyway.
        if value.bit_length() > 3 * limit:
            digits = math.floor(value.bit_length() * math.log10(2)) + 1
            return f"<an integer of about {digits} digits>"
        return _truncated(repr(value), limit)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bytes | bytearray):
        return _truncated(repr(bytes(value[: limit + 1])), limit)
    if isinstance(value, dict | list | tuple | set | frozenset):
        out: list[str] = []
        _abridge(value, out, limit, depth=0)
        return _truncated("".join(out), limit)
    return f"<{type(value).__name__}>"


def field_path(*parts: str | int) -> str:
    """A place in a document for a message: ``network.vpc_cidr``, ``routed_cidrs[2]``,
    ``tags['Cost Center']`` (keys that are not plain names are quoted and escaped by :func:`shown`)."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _SIMPLE_KEY_RE.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{shown(part, 40)}]"
    return out


def one_line(text: str, limit: int = LINE_LIMIT) -> str:
    """``text`` with every character that is not printable escaped (``\\n``, ``\\x1b``,
    ``\\u2028``), cut to ``limit`` characters with an ellipsis. Idempotent."""
    head = text[: limit + 1]
    if not head.isprintable():
        head = "".join(c if c.isprintable() else _escape(c) for c in head)
    if len(text) > limit or len(head) > limit:
        return head[: limit - 1] + _ELLIPSIS
    return head


def shown_path(path: str | os.PathLike[str]) -> str:
    """A path for a message: relative to the working directory when it is below it, escaped,
    long ones cut from the left (the file name is the informative end). Never raises: a
    path that cannot be resolved (a symlink loop, a vanished working directory) is shown as given.
    """
    text = os.fspath(path)
    try:
        cwd = os.getcwd()
        for candidate in (os.path.abspath(text), os.path.realpath(text)):
            rel = os.path.relpath(candidate, cwd)
            if rel != os.pardir and not rel.startswith(os.pardir + os.sep):
                text = rel
                break
    except (OSError, ValueError, RuntimeError):
        pass
    if text.isprintable() and len(text) <= PATH_LIMIT:
        return text
    escaped = "".join(c if c.isprintable() else _escape(c) for c in text[-4 * PATH_LIMIT :])
    if len(text) > PATH_LIMIT or len(escaped) > PATH_LIMIT:
        return _ELLIPSIS + escaped[-(PATH_LIMIT - 1) :]
    return escaped


def _escape(char: str) -> str:
    if char == " ":
        return char
    return char.encode("unicode_escape").decode("ascii")


def _shown_text(text: str, limit: int) -> str:
    # repr escapes newlines, control characters, non-printable and lone surrogates.
    quoted = repr(text[:limit])
    if len(quoted) <= limit and len(text) <= limit:
        return quoted
    keep = limit
    while keep > 0 and len(quoted) > limit:
        keep = keep * limit // (len(quoted) + 1)
        quoted = repr(text[:keep])
    return f"{quoted}{_ELLIPSIS} ({len(text)} characters)"


def _truncated(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + _ELLIPSIS


def _abridge(value: object, out: list[str], budget: int, depth: int) -> int:
    """Append a short rendering of ``value`` to ``out``; returns the budget left."""
    if budget <= 0:
        return 0
    if depth > 3 or not isinstance(value, dict | list | tuple | set | frozenset):
        text = "…" if depth > 3 else shown(value, max(8, min(budget, SHOWN_LIMIT)))
        out.append(text)
        return budget - len(text)
    opening, closing = ("{", "}") if isinstance(value, dict | set | frozenset) else ("[", "]")
    out.append(opening)
    budget -= 1
    items = iter(value.items()) if isinstance(value, dict) else iter(value)
    for index, item in enumerate(items):
        if budget <= 0:
            break
        if index:
            out.append(", ")
            budget -= 2
        if isinstance(value, dict):
            key, val = item
            budget = _abridge(key, out, budget, depth + 1)
            out.append(": ")
            budget = _abridge(val, out, budget - 2, depth + 1)
        else:
            budget = _abridge(item, out, budget, depth + 1)
    out.append(closing if budget > 0 else "…" + closing)
    return budget - 1
