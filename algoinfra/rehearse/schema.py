"""The schema the stand-in serves: hashicorp/aws 6.25.0, as ``terraform providers schema -json`` prints it.

The file beside this module is data, not code. Regenerate it where the real
provider can be installed: ``make provider-schema`` (scripts/provider_schema.py).
"""

from __future__ import annotations

import functools
import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

PROVIDER_SOURCE = "registry.terraform.io/hashicorp/aws"
PROVIDER_VERSION = "6.25.0"
SCHEMA_FILE = Path(__file__).with_name(f"aws-provider-{PROVIDER_VERSION}.schema.json.gz")
# A directory of one JSON file per type (written by split()), so a provider process reads only what it uses.
SPLIT_DIR_ENV = "ALGOINFRA_STANDIN_SCHEMA_DIR"

Kind = Literal["resource", "data", "ephemeral"]
_SECTIONS: dict[Kind, str] = {
    "resource": "resource_schemas",
    "data": "data_source_schemas",
    "ephemeral": "ephemeral_resource_schemas",
}


@dataclass(frozen=True)
class Attribute:
    """One attribute: its cty type (JSON form) and how Terraform may set it."""

    type: Any
    required: bool = False
    optional: bool = False
    computed: bool = False
    sensitive: bool = False
    write_only: bool = False


@dataclass(frozen=True)
class NestedBlock:
    """A nested block type: ``nesting`` is single, group, list, set or map."""

    nesting: str
    block: Block
    min_items: int = 0
    max_items: int = 0


@dataclass(frozen=True)
class Block:
    """A block: its attributes and nested block types."""

    attributes: dict[str, Attribute]
    blocks: dict[str, NestedBlock]


@dataclass(frozen=True)
class Schema:
    """A resource, data source, ephemeral resource or provider schema."""

    version: int
    block: Block


@functools.cache
def document(path: Path = SCHEMA_FILE) -> dict[str, Any]:
    """The provider's section of the schema file (``provider``, ``resource_schemas``...)."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    section: dict[str, Any] = data["provider_schemas"][PROVIDER_SOURCE]
    return section


def raw(kind: Kind, type_name: str, path: Path = SCHEMA_FILE) -> dict[str, Any] | None:
    """One type's schema as in the file (from the split directory when there is one)."""
    split_dir = os.environ.get(SPLIT_DIR_ENV)
    if split_dir and path == SCHEMA_FILE:
        one = Path(split_dir) / kind / f"{type_name}.json"
        if not one.is_file():
            return None
        found: dict[str, Any] = json.loads(one.read_text())
        return found
    section: dict[str, dict[str, Any]] = document(path).get(_SECTIONS[kind], {})
    return section.get(type_name)


@functools.cache
def lookup(kind: Kind, type_name: str, path: Path = SCHEMA_FILE) -> Schema | None:
    """The schema of one resource type (``kind`` "resource"), data source ("data") or ephemeral resource."""
    found = raw(kind, type_name, path)
    return None if found is None else _parse_schema(found)


def split(target: Path, path: Path = SCHEMA_FILE) -> None:
    """Write one JSON file per type under ``target/<kind>/`` (for :envvar:`ALGOINFRA_STANDIN_SCHEMA_DIR`)."""
    doc = document(path)
    for kind, section in _SECTIONS.items():
        (target / kind).mkdir(parents=True, exist_ok=True)
        for name, raw in doc.get(section, {}).items():
            (target / kind / f"{name}.json").write_text(json.dumps(raw, separators=(",", ":")))


def type_names(kind: Kind, path: Path = SCHEMA_FILE) -> list[str]:
    return sorted(document(path).get(_SECTIONS[kind], {}))


def _parse_schema(raw: dict[str, Any]) -> Schema:
    return Schema(version=int(raw.get("version", 0)), block=_parse_block(raw.get("block", {})))


def _parse_block(raw: dict[str, Any]) -> Block:
    return Block(
        attributes={name: _parse_attribute(a) for name, a in raw.get("attributes", {}).items()},
        blocks={
            name: NestedBlock(
                nesting=b["nesting_mode"],
                block=_parse_block(b.get("block", {})),
                min_items=int(b.get("min_items", 0)),
                max_items=int(b.get("max_items", 0)),
            )
            for name, b in raw.get("block_types", {}).items()
        },
    )


def _parse_attribute(raw: dict[str, Any]) -> Attribute:
    ty = raw["type"] if "type" in raw else nested_type(raw["nested_type"])
    return Attribute(
        type=ty,
        required=bool(raw.get("required")),
        optional=bool(raw.get("optional")),
        computed=bool(raw.get("computed")),
        sensitive=bool(raw.get("sensitive")),
        write_only=bool(raw.get("write_only")),
    )


def nested_type(raw: dict[str, Any]) -> Any:
    """The cty type of a nested attribute type (protocol 6 ``nested_type``)."""
    obj = ["object", {name: a.get("type") or nested_type(a["nested_type"]) for name, a in raw["attributes"].items()}]
    mode = raw.get("nesting_mode", "single")
    return obj if mode == "single" else [mode, obj]


def block_type(block: Block) -> Any:
    """The cty object type a block's value has."""
    attrs: dict[str, Any] = {name: a.type for name, a in block.attributes.items()}
    for name, nb in block.blocks.items():
        inner = block_type(nb.block)
        attrs[name] = inner if nb.nesting in ("single", "group") else [nb.nesting, inner]
    return ["object", attrs]
