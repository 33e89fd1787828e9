"""tfplugin6 messages for the stand-in: the schema response and diagnostics.

The generated stubs come from the ``tf`` package on PyPI (``tf.gen``). They
predate two fields Terraform 1.15 reads, which are added to the encoded
messages as raw protobuf fields (parsers keep unknown fields and write them
out again):

- ``Schema.Attribute.write_only`` (field 11, protocol 6.8);
- ``GetProviderSchema.Response.ephemeral_resource_schemas`` (field 8, 6.7).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tf.gen import tfplugin_pb2 as pb

from algoinfra.rehearse import schema as sch

_NESTING = {
    "single": pb.Schema.NestedBlock.SINGLE,
    "group": pb.Schema.NestedBlock.GROUP,
    "list": pb.Schema.NestedBlock.LIST,
    "set": pb.Schema.NestedBlock.SET,
    "map": pb.Schema.NestedBlock.MAP,
}
_OBJECT_NESTING = {
    "single": pb.Schema.Object.SINGLE,
    "list": pb.Schema.Object.LIST,
    "set": pb.Schema.Object.SET,
    "map": pb.Schema.Object.MAP,
}
_WRITE_ONLY = bytes([11 << 3 | 0, 1])  # field 11, varint, true
_EPHEMERAL_FIELD = 8


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (a message or bytes) as raw bytes."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _attribute(name: str, raw: dict[str, Any]) -> Any:
    attr = pb.Schema.Attribute(
        name=name,
        description=raw.get("description", ""),
        required=bool(raw.get("required")),
        optional=bool(raw.get("optional")),
        computed=bool(raw.get("computed")),
        sensitive=bool(raw.get("sensitive")),
        deprecated=bool(raw.get("deprecated")),
        description_kind=pb.MARKDOWN if raw.get("description_kind") == "markdown" else pb.PLAIN,
    )
    if "nested_type" in raw:
        nested = raw["nested_type"]
        attr.nested_type.CopyFrom(
            pb.Schema.Object(
                attributes=[_attribute(n, a) for n, a in sorted(nested["attributes"].items())],
                nesting=_OBJECT_NESTING[nested.get("nesting_mode", "single")],
            )
        )
    else:
        attr.type = json.dumps(raw["type"], separators=(",", ":")).encode()
    if raw.get("write_only"):
        attr.MergeFromString(_WRITE_ONLY)
    return attr


def _block(raw: dict[str, Any]) -> Any:
    return pb.Schema.Block(
        attributes=[_attribute(n, a) for n, a in sorted(raw.get("attributes", {}).items())],
        block_types=[
            pb.Schema.NestedBlock(
                type_name=n,
                block=_block(b.get("block", {})),
                nesting=_NESTING[b["nesting_mode"]],
                min_items=int(b.get("min_items", 0)),
                max_items=int(b.get("max_items", 0)),
            )
            for n, b in sorted(raw.get("block_types", {}).items())
        ],
        description=raw.get("description", ""),
        deprecated=bool(raw.get("deprecated")),
    )


def schema_message(raw: dict[str, Any]) -> Any:
    """A ``tfplugin6.Schema`` from one schema of the JSON document."""
    return pb.Schema(version=int(raw.get("version", 0)), block=_block(raw.get("block", {})))


def provider_schema_response(path: Path = sch.SCHEMA_FILE) -> bytes:
    """The encoded ``GetProviderSchema.Response`` for the whole schema file (about 1 s to build)."""
    doc = sch.document(path)
    response = pb.GetProviderSchema.Response(
        provider=schema_message(doc["provider"]),
        # Terraform may then fetch the schema once per command instead of once per provider start.
        server_capabilities=pb.ServerCapabilities(get_provider_schema_optional=True),
    )
    for name, raw in doc.get("resource_schemas", {}).items():
        response.resource_schemas[name].CopyFrom(schema_message(raw))
    for name, raw in doc.get("data_source_schemas", {}).items():
        response.data_source_schemas[name].CopyFrom(schema_message(raw))
    encoded: bytes = response.SerializeToString()
    # A map entry has the shape of ResourceSchemasEntry: key = 1, value = 2.
    for name, raw in sorted(doc.get("ephemeral_resource_schemas", {}).items()):
        entry = pb.GetProviderSchema.Response.ResourceSchemasEntry(key=name, value=schema_message(raw))
        encoded += field(_EPHEMERAL_FIELD, entry.SerializeToString())
    return encoded


def error(summary: str, detail: str = "", attribute: list[str] | None = None) -> Any:
    """An error diagnostic, optionally pointing at an attribute path."""
    diag = pb.Diagnostic(severity=pb.Diagnostic.ERROR, summary=summary, detail=detail)
    for step in attribute or []:
        diag.attribute.steps.add(attribute_name=step)
    return diag
