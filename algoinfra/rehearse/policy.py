"""``aws_iam_policy_document``, rendered as the AWS provider renders it.

Same rules as the provider's data source (hashicorp/terraform-provider-aws,
internal/service/iam): statements in order, ``Effect`` defaulting to Allow,
a single action, resource or identifier as a string and several sorted in
reverse, principals and conditions as JSON objects with sorted keys, one
condition value as a string, ``&{`` turned into ``${``, source documents
merged first and override documents last (by ``Sid``), Go's JSON encoding
(two-space indent for ``json``, HTML characters escaped) and the id as the
CRC-32 of ``json``.
"""

from __future__ import annotations

import json
import zlib
from typing import Any


class PolicyError(ValueError):
    """What the provider reports as an error for this document."""


def _strings(values: list[str]) -> str | list[str]:
    """One value as a string; several sorted in reverse (the provider reads them from a set)."""
    if len(values) == 1:
        return values[0]
    return sorted(values, reverse=True)


def _vars(value: str | list[str], version: str) -> str | list[str]:
    items = [value] if isinstance(value, str) else value
    for item in items:
        if version == "2008-10-17" and "&{" in item:
            raise PolicyError(f"found &{{ sequence in ({item}), which is not supported in document version 2008-10-17")
    out = [item.replace("&{", "${") for item in items]
    return out[0] if isinstance(value, str) else out


def _principals(blocks: list[dict[str, Any]], version: str) -> Any:
    if len(blocks) == 1 and blocks[0]["type"] == "*" and list(blocks[0]["identifiers"] or []) == ["*"]:
        return "*"
    raw: dict[str, Any] = {}
    for block in blocks:
        identifiers = _vars(_strings(list(block["identifiers"] or [])), version)
        kind = block["type"]
        existing = raw.get(kind)
        if isinstance(identifiers, list):
            merged = [] if existing is None else ([existing] if isinstance(existing, str) else existing)
            raw[kind] = merged + sorted(identifiers, reverse=True)
        elif existing is None:
            raw[kind] = identifiers
        else:
            raw[kind] = ([existing] if isinstance(existing, str) else existing) + [identifiers]
    return raw


def _conditions(blocks: list[dict[str, Any]], version: str) -> dict[str, dict[str, Any]]:
    raw: dict[str, dict[str, list[str]]] = {}
    for block in blocks:
        values = _vars(list(block["values"] or []), version)
        raw.setdefault(block["test"], {}).setdefault(block["variable"], []).extend(values)
    return {test: {var: v[0] if len(v) == 1 else v for var, v in variables.items()} for test, variables in raw.items()}


def _statement(block: dict[str, Any], version: str) -> dict[str, Any]:
    stmt: dict[str, Any] = {}
    if block.get("sid"):
        stmt["Sid"] = block["sid"]
    stmt["Effect"] = block.get("effect") or "Allow"
    for key, name in (("actions", "Action"), ("not_actions", "NotAction")):
        if block.get(key):
            stmt[name] = _strings(list(block[key]))
    for key, name in (("resources", "Resource"), ("not_resources", "NotResource")):
        if block.get(key):
            stmt[name] = _vars(_strings(list(block[key])), version)
    for key, name in (("principals", "Principal"), ("not_principals", "NotPrincipal")):
        if block.get(key):
            stmt[name] = _principals(block[key], version)
    if block.get("condition"):
        stmt["Condition"] = _conditions(block["condition"], version)
    return stmt


def _merge(doc: dict[str, Any], new: dict[str, Any]) -> None:
    if new.get("Id"):
        doc["Id"] = new["Id"]
    if new.get("Version", "") > doc.get("Version", ""):
        doc["Version"] = new["Version"]
    statements: list[dict[str, Any]] = doc.setdefault("Statement", [])
    for stmt in new.get("Statement") or []:
        sid = stmt.get("Sid")
        same = [i for i, s in enumerate(statements) if sid and s.get("Sid") == sid]
        if same:
            statements[same[0]] = stmt
        else:
            statements.append(stmt)


def _parse(text: str, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise PolicyError(f"writing IAM Policy Document: merging {what}: {exc}") from exc
    if isinstance(doc.get("Statement"), dict):
        doc["Statement"] = [doc["Statement"]]
    for stmt in doc.get("Statement") or []:
        for key in ("Principal", "NotPrincipal"):
            if key in stmt:
                stmt[key] = _parsed_principals(stmt[key])
        if "Condition" in stmt:
            stmt["Condition"] = {
                test: {var: _parsed_condition(v) for var, v in variables.items()}
                for test, variables in stmt["Condition"].items()
            }
    return dict(doc)


def _parsed_principals(value: Any) -> Any:
    """A principal read from JSON, written back the way the provider writes it."""
    if isinstance(value, str):
        return "*"
    return {kind: ids if isinstance(ids, str) else sorted(ids, reverse=True) for kind, ids in value.items()}


def _parsed_condition(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


_ORDER = ("Version", "Id", "Statement")
_STMT_ORDER = (
    "Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal", "NotPrincipal", "Condition"
)  # fmt: skip


def _go_order(doc: dict[str, Any]) -> dict[str, Any]:
    """Field order of the provider's Go structs; maps (principals, conditions) sorted like Go's encoder."""
    out = {k: doc[k] for k in _ORDER if doc.get(k)}
    if "Statement" in out:
        out["Statement"] = [
            {k: _sorted(s[k]) for k in _STMT_ORDER if s.get(k) not in (None, "", [], {})} for s in out["Statement"]
        ]
    return out


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    return value


def _go_json(doc: dict[str, Any], *, indent: bool) -> str:
    text = json.dumps(doc, ensure_ascii=False, indent=2 if indent else None, separators=None if indent else (",", ":"))
    # Go's encoding/json escapes HTML characters and two line separators.
    for ch, esc in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def render(config: dict[str, Any]) -> dict[str, str]:
    """The data source's computed attributes (``json``, ``minified_json``, ``id``) from its configuration."""
    version = config.get("version") or "2012-10-17"
    merged: dict[str, Any] = {}
    seen: set[str] = set()
    for i, source in enumerate(config.get("source_policy_documents") or []):
        if source is None:
            continue
        doc = _parse(source, f"source document {i}")
        for j, stmt in enumerate(doc.get("Statement") or []):
            sid = stmt.get("Sid")
            if sid and sid in seen:
                raise PolicyError(
                    f"writing IAM Policy Document: merging source document {i}: duplicate Sid ({sid}) in "
                    f"source_policy_documents (statement {j}). Remove the Sid or ensure Sids are unique."
                )
            if sid:
                seen.add(sid)
        _merge(merged, doc)
    current: dict[str, Any] = {"Version": version}
    if config.get("policy_id"):
        current["Id"] = config["policy_id"]
    sids: set[str] = set()
    statements = []
    for block in config.get("statement") or []:
        sid = block.get("sid") or ""
        if sid and sid in sids:
            raise PolicyError(
                f"writing IAM Policy Document: duplicate Sid ({sid}). Remove the Sid or ensure the Sid is unique."
            )
        sids.add(sid)
        statements.append(_statement(block, version))
    current["Statement"] = statements
    _merge(merged, current)
    for i, override in enumerate(config.get("override_policy_documents") or []):
        if override is not None:
            _merge(merged, _parse(override, f"override document {i}"))
    doc = _go_order(merged)
    pretty = _go_json(doc, indent=True)
    return {"json": pretty, "minified_json": _go_json(doc, indent=False), "id": str(zlib.crc32(pretty.encode()))}
