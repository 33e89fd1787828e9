"""JSON Schemas and the README's config reference, both generated from the models.

``python -m algoinfra.config.schema`` (``make schemas``) writes
``schemas/<name>.schema.json`` (deterministic bytes) and rewrites the reference
tables between the ``<!-- config-reference:<name> -->`` markers of README.md;
``--check`` only says whether they are current. Tests compare both with what
the models generate, so neither can drift from the loader.
"""

from __future__ import annotations

import json
import sys
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from annotated_types import Ge, Le
from pydantic.fields import FieldInfo
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import PydanticUndefined

from algoinfra.config.models import AccountsFile, PlatformFile, ProjectFile
from algoinfra.config.types import Model

ROOT = Path(__file__).resolve().parent.parent.parent
SCHEMA_DIR = ROOT / "schemas"
README = ROOT / "README.md"
DIALECT = "https://json-schema.org/draft/2020-12/schema"

# schema name -> (model, the files it describes)
SCHEMAS: Mapping[str, tuple[type[Model], str]] = {
    "project-config": (ProjectFile, "configs/<project>-<env>-algorithm-server-infra.yml"),
    "platform": (PlatformFile, "configs/platform.yml"),
    "accounts": (AccountsFile, "configs/accounts.yml"),
}


class _Generator(GenerateJsonSchema):
    """pydantic's generator without the per-field titles (noise in an editor's hover)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def schema_of(name: str) -> dict[str, Any]:
    model, files = SCHEMAS[name]
    body = model.model_json_schema(schema_generator=_Generator)
    return {
        "$schema": DIALECT,
        **body,
        "title": f"{files} (algorithm-server-infra)",
    }


def schema_path(name: str) -> Path:
    return SCHEMA_DIR / f"{name}.schema.json"


def render_schema(name: str) -> str:
    return json.dumps(schema_of(name), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------
# The README's reference tables
# ---------------------------------------------------------------------------


def _yaml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "unset"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{}" if not value else json.dumps(dict(value))
    return str(value)


def _model_in(annotation: Any) -> tuple[type[Model] | None, str]:
    """The model a field holds (directly, optional, or as mapping values), and the key placeholder."""
    if isinstance(annotation, type) and issubclass(annotation, Model):
        return annotation, ""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (Mapping, dict) and len(args) == 2:
        inner, _ = _model_in(args[1])
        return inner, "<key>"
    for arg in args:
        if isinstance(arg, type) and issubclass(arg, Model):
            return arg, ""
    return None, ""


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    if info.default is None:
        return "unset"
    if info.default is not PydanticUndefined:
        return f"`{_yaml(info.default)}`"
    extra = info.json_schema_extra
    if isinstance(extra, dict) and "default" in extra:
        return f"`{_yaml(extra['default'])}`"
    return "derived"


def _bounds(info: FieldInfo) -> str:
    low = next((m.ge for m in info.metadata if isinstance(m, Ge)), None)
    high = next((m.le for m in info.metadata if isinstance(m, Le)), None)
    return f" ({low}-{high})" if low is not None and high is not None else ""


def rows(model: type[Model], prefix: str = "") -> Iterator[tuple[str, str, str]]:
    """(dotted key, default, rule) of every leaf field, in model order."""
    keys = {"accounts": "<account id>", "environments": "<env>"}
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        inner, placeholder = _model_in(info.annotation)
        if inner is not None:
            if info.description and info.default is None:  # an optional block: say so on its own row
                yield key, "unset", info.description
            sub = f"{key}.{keys.get(name, placeholder)}." if placeholder else f"{key}."
            yield from rows(inner, sub)
            continue
        yield key, _default(info), (info.description or "") + _bounds(info)


def reference_table(name: str) -> str:
    model, _ = SCHEMAS[name]
    lines = ["| key | default | rule |", "|---|---|---|"]
    for key, default, rule in rows(model):
        lines.append(f"| `{key}` | {default} | {rule.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- config-reference:{name} (generated by make schemas) -->\n", f"<!-- /config-reference:{name} -->\n"


def readme_with_tables(text: str) -> str:
    """``text`` (the README) with every reference table replaced by the generated one."""
    for name in SCHEMAS:
        start, end = _markers(name)
        if start not in text or end not in text:
            raise SystemExit(f"README.md: markers for {name} are missing ({start.strip()} ... {end.strip()})")
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = head + start + reference_table(name) + end + tail
    return text


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale: list[str] = []
    for name in SCHEMAS:
        path, text = schema_path(name), render_schema(name)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(str(path.relative_to(ROOT)))
            if not check:
                path.parent.mkdir(exist_ok=True)
                path.write_text(text, encoding="utf-8")
    readme = README.read_text(encoding="utf-8")
    updated = readme_with_tables(readme)
    if updated != readme:
        stale.append("README.md")
        if not check:
            README.write_text(updated, encoding="utf-8")
    verb = "out of date" if check else "written"
    print(f"{verb}: {', '.join(stale)}" if stale else "schemas and README reference are current")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
