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
        where = f"{self.path}: {self.field}" if self.field else self.path
        return f"{where}: {self.message}"
