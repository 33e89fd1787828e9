"""The direct dependencies of the CDK Terrain build, one requirement a line (make lock-terrain).

They are pyproject.toml's ``[project].dependencies`` with the CDKTF packages
replaced as ``[tool.algoinfra.terrain.replace]`` says, so a dependency added to
the project reaches the Terrain build by itself. ``make lock-terrain`` installs
them into a fresh ``.venv-terrain`` and pins everything in
``requirements-terrain.lock``; a test checks the lock pins each one.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def canonical(name: str) -> str:
    """A distribution name as pip compares them: ``PyYAML`` -> ``pyyaml``, ``a_b`` -> ``a-b``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    return canonical(re.split(r"[\s\[<>=!~;@]", requirement.strip(), maxsplit=1)[0])


def terrain_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """pyproject's dependencies, each CDKTF package replaced by its CDK Terrain counterpart."""
    data = tomllib.loads(pyproject.read_text())
    dependencies: list[str] = data["project"]["dependencies"]
    replace = {canonical(k): v for k, v in data["tool"]["algoinfra"]["terrain"]["replace"].items()}
    names = {requirement_name(d) for d in dependencies}
    stale = sorted(set(replace) - names)
    if stale:
        raise ValueError(f"{pyproject.name}: tool.algoinfra.terrain.replace: {stale[0]} is not a dependency")
    return [replace.get(requirement_name(d), d) for d in dependencies]


def main() -> int:
    try:
        print("\n".join(terrain_requirements()))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
