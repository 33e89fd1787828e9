"""Terraform values on the wire: cty's msgpack encoding, with unknowns.

Terraform sends and expects ``DynamicValue.msgpack``: objects and maps are
msgpack maps, lists, sets and tuples are arrays, numbers are ints or floats,
and an unknown value is a msgpack extension (type 0; refined unknowns use
other types, so every extension reads as unknown). A value of the
``"dynamic"`` pseudo-type travels as ``[type JSON, value]`` and is passed
through untouched.

Values are plain Python data here (``dict``, ``list``, ``str``, ``int``,
``float``, ``bool``, ``None``) with :data:`UNKNOWN` for an unknown.
"""

from __future__ import annotations

import json
from typing import Any, Final

import msgpack


class Unknown:
    """The one unknown value (``(known after apply)``)."""

    _instance: Unknown | None = None

    def __new__(cls) -> Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = Unknown()
_UNKNOWN_EXT = msgpack.ExtType(0, b"\x00")  # packs as d4 00 00


def decode(data: bytes) -> Any:
    """msgpack bytes from Terraform -> Python value (:data:`UNKNOWN` for any extension)."""
    if not data:
        return None
    return msgpack.unpackb(data, raw=False, strict_map_key=False, ext_hook=lambda _code, _data: UNKNOWN)


def encode(value: Any) -> bytes:
    """Python value -> msgpack bytes for Terraform."""
    packed: bytes = msgpack.packb(value, use_bin_type=True, default=_default)
    return packed


def _default(obj: Any) -> Any:
    if obj is UNKNOWN:
        return _UNKNOWN_EXT
    raise TypeError(f"cannot encode {type(obj).__name__} as a Terraform value")


def is_known(value: Any) -> bool:
    """True when the value holds no unknown anywhere inside."""
    if value is UNKNOWN:
        return False
    if isinstance(value, dict):
        return all(is_known(v) for v in value.values())
    if isinstance(value, list):
        return all(is_known(v) for v in value)
    return True


def type_of_json(raw: bytes) -> Any:
    """A cty type from its JSON form (``"string"``, ``["list", "string"]``, ``["object", {...}]``)."""
    return json.loads(raw)


def zero(ty: Any) -> Any:
    """A known, non-null value of a cty type: what a fresh AWS object would report when nothing is set."""
    if ty == "string":
        return ""
    if ty == "number":
        return 0
    if ty == "bool":
        return False
    if ty == "dynamic":
        return None
    kind = ty[0]
    if kind in ("list", "set", "tuple") and kind != "tuple":
        return []
    if kind == "tuple":
        return [zero(t) for t in ty[1]]
    if kind == "map":
        return {}
    if kind == "object":
        return {name: zero(t) for name, t in ty[1].items()}
    raise ValueError(f"unknown cty type {ty!r}")
