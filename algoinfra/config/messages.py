"""pydantic's validation errors, said the way this tool says them: one line, file and dotted field.

Only the first error is reported (pydantic's order: fields in model order,
unknown keys after them), so the same file always gives the same line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from algoinfra.config.types import PATTERN_WHAT, Invalid, echo
from algoinfra.errors import ConfigError

UNKNOWN_KEY = "unknown key (check the spelling against the README's config reference)"

# Errors pydantic adds as a consequence of another one.
_CONSEQUENCES = {"default_factory_not_called"}

_KINDS = {
    "string_type": "a string",
    "int_type": "an integer",
    "bool_type": "true or false",
    "tuple_type": "a list",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "float_type": "a number",
}

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_.:/@+=-]{1,64}$")


def field_name(loc: tuple[str | int, ...]) -> str:
    """``("network", "subnets", "workload", "ap-northeast-1a")`` -> ``network.subnets.workload.ap-northeast-1a``.

    List positions are left out (the message names the item; an integer is a
    position unless pydantic marks it as a mapping key); keys that are not
    plain words are quoted and truncated so the line stays one line.
    """
    parts: list[str] = []
    for n, part in enumerate(loc):
        is_key = n + 1 < len(loc) and loc[n + 1] == "[key]"
        if part == "[key]" or (isinstance(part, int) and not is_key):
            continue
        text = str(part)
        parts.append(text if _PLAIN_KEY.fullmatch(text) else echo(part))
    return ".".join(parts)


def _got(error: ErrorDetails) -> str:
    return f", got {echo(error['input'])}"


def phrase(error: ErrorDetails) -> str:
    """The message of one pydantic error, without pydantic's wording."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return UNKNOWN_KEY
    if kind == "value_error" and isinstance(ctx.get("error"), Invalid):
        return str(ctx["error"].message)
    if kind in _KINDS:
        if error["input"] is None and kind in ("model_type", "dict_type"):
            if not error["loc"]:
                return "must be a mapping, got nothing (the file is empty)"
            return "must be a mapping, got nothing (remove the empty key or give its settings)"
        return f"must be {_KINDS[kind]}{_got(error)}"
    if kind == "literal_error":
        return f"must be {ctx['expected']}{_got(error)}"
    if kind == "string_pattern_mismatch":
        what = PATTERN_WHAT.get(ctx["pattern"], f"a string matching {ctx['pattern']}")
        return f"must be {what}{_got(error)}"
    if kind in ("greater_than_equal", "greater_than"):
        return f"must be at least {ctx.get('ge', ctx.get('gt'))}{_got(error)}"
    if kind in ("less_than_equal", "less_than"):
        return f"must be at most {ctx.get('le', ctx.get('lt'))}{_got(error)}"
    if kind == "too_short":
        return f"must list at least {ctx['min_length']} item{'s' if ctx['min_length'] != 1 else ''}"
    if kind == "too_long":
        return f"must list at most {ctx['max_length']} items, got {ctx['actual_length']}"
    if kind == "string_too_long":
        return f"must be at most {ctx['max_length']} characters, got {len(error['input'])}"
    if kind == "string_too_short":
        return f"must be at least {ctx['min_length']} characters{_got(error)}"
    return f"{error['msg']}{_got(error)}"


def to_config_error(path: Path | str, exc: ValidationError, *, prefix: tuple[str, ...] = ()) -> ConfigError:
    """The first error of ``exc`` as a :class:`ConfigError` of ``path``, fields under ``prefix``."""
    errors = [e for e in exc.errors() if e["type"] not in _CONSEQUENCES] or exc.errors()
    first = errors[0]
    loc: tuple[Any, ...] = prefix + tuple(first["loc"])
    error = (first.get("ctx") or {}).get("error")
    if isinstance(error, Invalid):
        loc += error.at
    message = phrase(first)
    if loc and loc[-1] == "[key]":
        message = f"as a key: {message}"
    return ConfigError(path, field_name(loc) or "(top level)", message)
