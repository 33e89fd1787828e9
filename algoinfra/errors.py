"""The one error type that bad input raises."""

from __future__ import annotations

from pathlib import Path


class ConfigError(Exception):
    """A configuration problem, reported as one line: ``<file>: <field>: <message>``."""

    def __init__(self, path: Path | str, field: str, message: str) -> None:
        self.path = str(path)
        self.field = field
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        path = _short(self.path)
        where = f"{path}: {self.field}" if self.field else path
        return f"{where}: {self.message}"


def _short(path: str) -> str:
    """The path relative to the working directory when it is below it (configs/x.yml)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return path
