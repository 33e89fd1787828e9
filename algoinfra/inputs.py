"""Reading input files: the only place that opens YAML and JSON.

TEMPORARY stand-in with the signatures of the hardened reader from the
``inputs`` branch (regular files only, size cap, strict UTF-8, duplicate keys
refused, YAML 1.1 surprises and alias bombs refused), which replaces this
file at merge. Until then: plain ``yaml.safe_load`` / ``json.loads``, every
failure a :class:`ConfigError` naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from algoinfra.errors import ConfigError


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(path, "", "not UTF-8 text") from None


def read_yaml(path: Path) -> Any:
    text = _read_text(path)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(path, "", f"YAML syntax error: {where}{problem}") from None


def read_json(path: Path) -> Any:
    text = _read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(path, "", f"JSON syntax error: line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
