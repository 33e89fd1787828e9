"""The one seam between the code and its CDK framework (cheap checks, part of ``make test``).

The comparison of real Terrain output is in test_terrain.py (``make test-terrain``).
"""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from algoinfra import aws_bindings
from scripts.terrain_deps import canonical, requirement_name, terrain_requirements
from tests.helpers import ROOT

# Every module of the app and its tools; tests may name what they check.
SOURCES = sorted(
    [
        ROOT / "main.py",
        *(ROOT / "algoinfra").rglob("*.py"),
        *(ROOT / "stacks").rglob("*.py"),
        *(ROOT / "scripts").rglob("*.py"),
    ]
)
FRAMEWORK_PREFIXES = ("cdktf", "cdktn")


def framework_imports(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            if name.startswith(FRAMEWORK_PREFIXES):
                yield node.lineno, name


def test_every_framework_import_goes_through_the_seam() -> None:
    """Code imports only the CDKTF module names the seam maps; none names CDK Terrain's."""
    seen, wrong = 0, []
    for path in SOURCES:
        for line, name in framework_imports(path):
            seen += 1
            if name.split(".")[0] not in aws_bindings.TERRAIN_MODULES:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: import {name}")
    assert seen > 50  # the stacks and components do import the framework
    assert wrong == []


def test_only_the_seam_names_cdk_terrain_modules() -> None:
    terrain = set(aws_bindings.TERRAIN_MODULES.values())
    naming = [
        str(path.relative_to(ROOT))
        for path in SOURCES
        if any(t in path.read_text() for t in terrain) and path.name != "aws_bindings.py"
    ]
    assert naming == []


@pytest.fixture
def alias() -> Iterator[str]:
    """An alias of the stdlib package ``email``, removed afterwards."""
    name = "algoinfra_test_alias"
    before = list(sys.meta_path)
    aws_bindings.install_aliases({name: "email"})
    yield name
    sys.meta_path[:] = before
    for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
        del sys.modules[key]


def test_alias_serves_the_same_module_objects(alias: str) -> None:
    import email.mime.text

    aliased = importlib.import_module(f"{alias}.mime.text")
    assert aliased is email.mime.text  # one module, two names: nothing is loaded twice
    assert sys.modules[alias] is sys.modules["email"]
    assert sys.modules[f"{alias}.mime"] is sys.modules["email.mime"]
    message = importlib.import_module(f"{alias}.message")
    assert message.Message is importlib.import_module("email.message").Message
    assert aliased.__name__ == "email.mime.text"  # relative imports inside keep their own names


def test_alias_leaves_missing_modules_missing(alias: str) -> None:
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(f"{alias}.no_such_module")
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("algoinfra_test_alias_other")


def test_install_aliases_is_idempotent(alias: str) -> None:
    count = len(sys.meta_path)
    aws_bindings.install_aliases({alias: "email"})
    assert len(sys.meta_path) == count


def test_terrain_cannot_follow_cdktf_in_one_process() -> None:
    assert aws_bindings.mode() == "fast"  # this session loaded CDKTF
    with pytest.raises(aws_bindings.FrameworkError, match="cannot follow"):
        aws_bindings.load(framework="terrain")
    with pytest.raises(ValueError, match="unknown CDK framework"):
        aws_bindings.load(framework="cdk")


def run_main(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("Project", "Env", "REGION", "INFRA_CONFIG_DIR")}
    out = tmp_path / "out"
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py")],
        env={**clean, **env, "CDKTF_OUTDIR": str(out)},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("terrian", "error: ALGOINFRA_CDK: 'terrian' is none of cdktf, terrain"),
        # This Python (.venv) has CDKTF only: selecting Terrain here is a one-line error, not a traceback.
        ("terrain", "error: ALGOINFRA_CDK=terrain: CDK Terrain is not installed in this Python (no cdktn)"),
    ],
)
def test_bad_framework_choice_exits_2_with_one_line(tmp_path: Path, value: str, fragment: str) -> None:
    result = run_main({"ALGOINFRA_CDK": value}, tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(fragment), result.stderr
    assert list(tmp_path.iterdir()) == []


def read_lock(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonical(name)] = version
    return pins


def test_terrain_lock_pins_every_direct_dependency() -> None:
    """requirements-terrain.lock derives from pyproject's dependencies: none is missing or pinned apart."""
    lock = read_lock(ROOT / "requirements-terrain.lock")
    requirements = terrain_requirements()
    assert {"cdktn", "cdktn-provider-aws", "constructs"} <= {requirement_name(r) for r in requirements}
    for requirement in requirements:
        name, _, version = requirement.partition("==")
        assert version, f"{requirement}: pin it with =="
        assert lock.get(canonical(name)) == version, f"requirements-terrain.lock: {requirement} (run make lock-terrain)"
    assert not [name for name in lock if name.startswith("cdktf")]  # no CDKTF package behind the alias


def test_terrain_requirements_refuse_a_stale_replacement(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\ndependencies = ["cdktf==1", "pyyaml==2"]\n'
        '[tool.algoinfra.terrain.replace]\ncdktf = "cdktn==3"\ncdktf-gone = "x==4"\n'
    )
    with pytest.raises(ValueError, match="cdktf-gone is not a dependency"):
        terrain_requirements(pyproject)
    pyproject.write_text(
        '[project]\ndependencies = ["CDKTF==1", "pydantic==2"]\n[tool.algoinfra.terrain.replace]\ncdktf = "cdktn==3"\n'
    )
    assert terrain_requirements(pyproject) == ["cdktn==3", "pydantic==2"]
