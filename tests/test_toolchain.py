"""The project's own toolchain: Node 22 from node_modules for jsii and the cdktf CLI, no CDKTF telemetry.

The machines have Node 20, which jsii no longer supports (a large banner on every
run), and no route to checkpoint-api.hashicorp.com (CDKTF's telemetry prints
getaddrinfo ENOTFOUND after every command). These tests run the commands the
README gives with the machine's own PATH and none of the variables the project
sets, so they fail if either text comes back. `make synth`'s path (main.py under
the Makefile) is checked the same way by tests/test_plan.py's `make plan` run.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from algoinfra import aws_bindings
from tests.helpers import ROOT, machine_env, noise

NODE_BIN = ROOT / "node_modules" / ".bin"


def test_node_22_is_pinned_and_installed() -> None:
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["node"]
    assert pinned.split(".")[0] == "22" and pinned.count(".") == 2, "pin an exact Node 22 LTS release"
    locked = json.loads((ROOT / "package-lock.json").read_text())["packages"]["node_modules/node"]["version"]
    assert locked == pinned
    version = subprocess.run([str(NODE_BIN / "node"), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"v{pinned}"


def test_jsii_runs_on_the_project_node() -> None:
    # The session's bindings were loaded by conftest through aws_bindings.load().
    assert aws_bindings.PROJECT_NODE == NODE_BIN / "node"
    assert os.environ["JSII_NODE"] == str(aws_bindings.PROJECT_NODE)
    assert "--disable-warning=DEP0044" in os.environ["NODE_OPTIONS"].split()


def test_npx_runs_the_project_node_with_telemetry_off() -> None:
    result = subprocess.run(
        ["npx", "node", "-e", "console.log(process.version, process.env.CHECKPOINT_DISABLE)"],
        env=machine_env(),
        cwd=ROOT / "docs",  # any directory of the repository
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    version, checkpoint = result.stdout.split()
    assert version.startswith("v22.") and checkpoint == "1"


def test_an_operators_own_checkpoint_setting_wins() -> None:
    result = subprocess.run(
        ["npx", "node", "-e", "console.log(JSON.stringify(process.env.CHECKPOINT_DISABLE))"],
        env={**machine_env(), "CHECKPOINT_DISABLE": ""},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.strip() == '""', result.stderr


def test_plain_npx_cdktf_list_is_quiet(tmp_path: Path) -> None:
    result = subprocess.run(
        ["npx", "cdktf", "list", "--output", str(tmp_path / "out")],
        env=machine_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "algorithm-server-infra" in result.stdout
    assert noise(result.stdout + result.stderr) == []


@pytest.mark.parametrize(("variable", "expected"), [("CHECKPOINT_DISABLE", "1"), ("node", "v22.")])
def test_make_puts_the_project_toolchain_first(variable: str, expected: str) -> None:
    probe = "node --version" if variable == "node" else f"echo $${variable}"
    result = subprocess.run(
        ["make", "--no-print-directory", "-s", "--eval", f"probe:\n\t@{probe}", "probe"],
        env=machine_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(expected)
