"""CDK Terrain builds the same stacks as CDKTF (make test-terrain; deselected from make test).

Every sample config is synthesized with CDKTF (this session's fast path) and
with CDK Terrain (``ALGOINFRA_CDK=terrain .venv-terrain/bin/python main.py
--all-configs``, as an operator runs it). Exactly the keys that carry the
framework's and the provider's versions are normalized; every other byte of
every stack and manifest, pretty-printed, must be the same.
"""

from __future__ import annotations

import ast
import difflib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from algoinfra import aws_bindings
from tests.helpers import ROOT
from tests.test_terrain_seam import SOURCES, framework_imports

pytestmark = pytest.mark.terrain

TERRAIN_PYTHON = ROOT / ".venv-terrain" / "bin" / "python"
# (file name, path of the key) -> (CDKTF's value, CDK Terrain's value): the only differences allowed.
VERSION_KEYS = {
    ("cdk.tf.json", ("//", "metadata", "version")): ("0.21.0", "0.24.0"),
    ("cdk.tf.json", ("terraform", "required_providers", "aws", "version")): ("6.25.0", "6.69.1"),
    ("manifest.json", ("version",)): ("0.21.0", "0.24.0"),
}
NORMALIZED = "<version>"


def normalize(name: str, text: str, side: int) -> str:
    """Pretty JSON with the version keys of ``name`` checked and replaced; ``side`` 0 is CDKTF, 1 Terrain."""
    data: dict[str, Any] = json.loads(text)
    for (file_name, keys), values in VERSION_KEYS.items():
        if file_name != name:
            continue
        node = data
        for key in keys[:-1]:
            node = node[key]
        assert node[keys[-1]] == values[side], f"{name}: {'.'.join(keys)} is {node[keys[-1]]!r}, not {values[side]!r}"
        node[keys[-1]] = NORMALIZED
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


@pytest.fixture(scope="module")
def terrain_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert TERRAIN_PYTHON.exists(), "no .venv-terrain: run make test-terrain (it sets it up)"
    out = tmp_path_factory.mktemp("terrain") / "cdktf.out"
    env = {k: v for k, v in os.environ.items() if k not in ("Project", "Env", "REGION", "INFRA_CONFIG_DIR")}
    result = subprocess.run(
        [str(TERRAIN_PYTHON), "main.py", "--all-configs"],
        env={**env, "ALGOINFRA_CDK": "terrain", "CDKTF_OUTDIR": str(out)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr  # no warning, no fallback
    return out


def files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_terrain_writes_the_same_files(synth_root: Path, terrain_root: Path) -> None:
    cdktf, terrain = files(synth_root), files(terrain_root)
    assert sorted(terrain) == sorted(cdktf)
    assert len([n for n in cdktf if n.endswith("/cdk.tf.json")]) >= 20


def test_every_stack_is_identical_but_for_the_version_strings(synth_root: Path, terrain_root: Path) -> None:
    cdktf, terrain = files(synth_root), files(terrain_root)
    diffs = []
    for name in sorted(cdktf.keys() & terrain.keys()):
        base = Path(name).name
        a, b = normalize(base, cdktf[name], 0), normalize(base, terrain[name], 1)
        if a != b:
            diffs.extend(
                difflib.unified_diff(
                    a.splitlines(), b.splitlines(), f"cdktf/{name}", f"terrain/{name}", n=2, lineterm=""
                )
            )
    assert diffs == [], "\n".join(diffs[:80])


def keyword_arguments(module: Path) -> dict[str, tuple[set[str], set[str]]]:
    """Class name -> (required, optional) keyword arguments of its constructor, read from the generated source."""
    found = {}
    for node in ast.parse(module.read_text()).body:
        if isinstance(node, ast.ClassDef):
            for fn in node.body:
                if isinstance(fn, ast.FunctionDef) and fn.name == "__init__":
                    pairs = list(zip(fn.args.kwonlyargs, fn.args.kw_defaults, strict=True))
                    found[node.name] = (
                        {a.arg for a, d in pairs if d is None},
                        {a.arg for a, d in pairs if d is not None},
                    )
    return found


def package_dir(python: str, package: str) -> Path:
    code = f"import importlib.util; print(next(iter(importlib.util.find_spec({package!r}).submodule_search_locations)))"
    return Path(subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout.strip())


def test_provider_classes_we_import_keep_their_arguments() -> None:
    """Every class of every provider submodule the code imports: no argument lost, none newly required."""
    cdktf_pkg = package_dir(sys.executable, aws_bindings.PACKAGE)
    terrain_pkg = package_dir(str(TERRAIN_PYTHON), aws_bindings.TERRAIN_MODULES[aws_bindings.PACKAGE])
    submodules = {
        name.split(".")[1]
        for path in SOURCES
        for _, name in framework_imports(path)
        if name.startswith(aws_bindings.PACKAGE + ".")
    }
    assert len(submodules) > 30
    checked, broken = 0, []
    for sub in sorted(submodules):
        before, after = (keyword_arguments(pkg / sub / "__init__.py") for pkg in (cdktf_pkg, terrain_pkg))
        checked += len(before)
        broken += [f"{sub}.{problem}" for problem in compare_arguments(before, after)]
    assert checked > 300
    assert broken == []


def compare_arguments(
    before: dict[str, tuple[set[str], set[str]]], after: dict[str, tuple[set[str], set[str]]]
) -> list[str]:
    """What breaks code written against ``before``: a class gone, an argument lost, an argument newly required."""
    broken = []
    for cls, (required, optional) in before.items():
        if cls not in after:
            broken.append(f"{cls}: gone")
            continue
        new_required, new_optional = after[cls]
        if lost := (required | optional) - (new_required | new_optional):
            broken.append(f"{cls}: lost {sorted(lost)}")
        if now := new_required - required:
            broken.append(f"{cls}: now requires {sorted(now)}")
    return broken


def test_argument_comparison_catches_each_break(tmp_path: Path) -> None:
    before, after = tmp_path / "before.py", tmp_path / "after.py"
    before.write_text(
        "class A:\n    def __init__(self, *, a, b=None, c=None): ...\nclass B:\n    def __init__(self, *, x): ...\n"
    )
    after.write_text("class A:\n    def __init__(self, *, b, c=None, d=None): ...\n")
    assert keyword_arguments(before) == {"A": ({"a"}, {"b", "c"}), "B": ({"x"}, set())}
    assert compare_arguments(keyword_arguments(before), keyword_arguments(after)) == [
        "A: lost ['a']",
        "A: now requires ['b']",
        "B: gone",
    ]
    assert compare_arguments(keyword_arguments(before), keyword_arguments(before)) == []


def test_normalize_changes_only_the_version_keys() -> None:
    """The comparison can fail: the versions are checked, and any other difference stays visible."""
    stack = {
        "//": {"metadata": {"version": "0.21.0", "stackName": "s"}},
        "terraform": {"required_providers": {"aws": {"version": "6.25.0", "source": "hashicorp/aws"}}},
    }
    terrain = json.loads(json.dumps(stack))
    terrain["//"]["metadata"]["version"] = "0.24.0"
    terrain["terraform"]["required_providers"]["aws"]["version"] = "6.69.1"
    assert normalize("cdk.tf.json", json.dumps(stack), 0) == normalize("cdk.tf.json", json.dumps(terrain), 1)
    terrain["terraform"]["required_providers"]["aws"]["source"] = "aws"
    assert normalize("cdk.tf.json", json.dumps(stack), 0) != normalize("cdk.tf.json", json.dumps(terrain), 1)
    with pytest.raises(AssertionError, match=r"metadata\.version is '0\.21\.0', not '0\.24\.0'"):
        normalize("cdk.tf.json", json.dumps(stack), 1)  # CDKTF's versions where Terrain's are expected
