"""Shared test helpers: sample configs, variants of them, and reading synthesized stacks.

Two sets of configs, so that adding a project never breaks a test:

- ``ALL_CONFIG_KEYS``: every project config in the config dir, whatever exists
  (the samples and each real project). The generic tests run over all of them:
  loading, validation, synthesis, Terraform's parser, checkov, hygiene.
- ``SAMPLE_KEYS``: the samples (``project-sample-<env>``) only. Tests that pin
  figures (snapshots, cost sums, counts) use these.

``ALGOINFRA_TEST_CONFIG_DIR`` points the suite at another config dir
(tests/test_estate.py runs the suite on the repo's configs plus a new project).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from algoinfra import config as cfg

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = Path(os.environ.get("ALGOINFRA_TEST_CONFIG_DIR") or ROOT / "configs")
BACKEND = ROOT / "backend.tf.json"
SAMPLE_PROJECT = "project-sample"
ALL_CONFIG_KEYS = tuple(p.name.removesuffix(cfg.CONFIG_SUFFIX) for p in cfg.list_configs(CONFIG_DIR))
SAMPLE_KEYS = tuple(f"{SAMPLE_PROJECT}-{env}" for env in cfg.ENVS if f"{SAMPLE_PROJECT}-{env}" in ALL_CONFIG_KEYS)


# What must never reach an operator's terminal from the project's own commands.
NOISE = {
    "CDKTF telemetry": "checkpoint-api.hashicorp.com",
    "name lookup": "ENOTFOUND",
    "jsii's unsupported-Node banner": "This software is currently running on node",
    "end-of-life banner": "end-of-life",
    "Node deprecation warning": "DeprecationWarning",
    "cdktf's NODE_OPTIONS warning": "without a setting for --max-old-space-size",
}
# What the project sets itself (Makefile, .npmrc, aws_bindings) or a selection.
_PROJECT_SET = ("CHECKPOINT_DISABLE", "JSII_NODE", "NODE_OPTIONS", "TF_CLI_CONFIG_FILE", "CDKTF_OUTDIR")
_SELECTION = ("Project", "Env", "REGION", "INFRA_CONFIG_DIR", "ALGOINFRA_TEST_CONFIG_DIR")


def machine_env() -> dict[str, str]:
    """The operator's shell on a fresh machine: none of the project's variables, node_modules/.bin not on PATH."""
    drop = (*_PROJECT_SET, *_SELECTION)
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("JSII_SILENCE")}
    node_bin = ROOT / "node_modules" / ".bin"
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if Path(p) != node_bin)
    return env


def noise(text: str) -> list[str]:
    """The kinds of noise found in a command's output."""
    return [what for what, fragment in NOISE.items() if fragment in text]


def sample_path(key: str) -> Path:
    return CONFIG_DIR / f"{key}{cfg.CONFIG_SUFFIX}"


def sample_data(key: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(sample_path(key).read_text())
    return data


def variant_dir(
    tmp: Path, key: str = "project-sample-dev", mutate: Callable[[dict[str, Any]], Any] | None = None
) -> Path:
    """A config dir holding the platform file and one sample config, optionally changed."""
    tmp.mkdir(parents=True, exist_ok=True)
    for shared in (cfg.PLATFORM_FILE, cfg.ACCOUNTS_FILE):
        shutil.copy(CONFIG_DIR / shared, tmp / shared)
    data = sample_data(key)
    if mutate is not None:
        mutate(data)
    (tmp / f"{key}{cfg.CONFIG_SUFFIX}").write_text(yaml.safe_dump(data, sort_keys=False))
    return tmp


def add_account(config_dir: Path, account_id: str, **settings: Any) -> None:
    """List ``account_id`` in the dir's accounts file (a project config's account must be listed)."""
    path = config_dir / cfg.ACCOUNTS_FILE
    accounts = yaml.safe_load(path.read_text())
    accounts["accounts"][account_id] = {"name": f"test account {account_id}", **settings}
    path.write_text(yaml.safe_dump(accounts))


def load_variant(tmp: Path, key: str = "project-sample-dev", mutate: Callable[[dict[str, Any]], Any] | None = None):
    d = variant_dir(tmp, key, mutate)
    return cfg.load_file(d / f"{key}{cfg.CONFIG_SUFFIX}", backend_path=BACKEND)


def load_sample(key: str) -> cfg.ProjectConfig:
    return cfg.load_file(sample_path(key), backend_path=BACKEND)


def read_stacks(outdir: Path) -> dict[str, dict[str, Any]]:
    """Stack id -> parsed cdk.tf.json of one synthesized config."""
    return {p.parent.name: json.loads(p.read_text()) for p in sorted((outdir / "stacks").glob("*/cdk.tf.json"))}


def resources(stack: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return dict(stack.get("resource", {}).get(rtype, {}))


def data_sources(stack: dict[str, Any], dtype: str) -> dict[str, dict[str, Any]]:
    return dict(stack.get("data", {}).get(dtype, {}))


def one(stack: dict[str, Any], rtype: str) -> dict[str, Any]:
    found = resources(stack, rtype)
    assert len(found) == 1, f"expected one {rtype}, found {sorted(found)}"
    return next(iter(found.values()))


def ref_name(expr: str) -> str:
    """``${aws_x.name.attr}`` or ``${data.aws_x.name.attr}`` -> ``name``."""
    assert expr.startswith("${") and expr.endswith("}"), expr
    parts = expr[2:-1].split(".")
    return parts[2] if parts[0] == "data" else parts[1]


def walk_strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield k
            yield from walk_strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk_strings(v)


def background_process(args: list[str], *, env: dict[str, str], tmp: Path, merge_output: bool) -> subprocess.Popen[str]:
    """A child in its own session (conftest starts the long ones once collection is done); at exit it is
    killed with its whole group if still running, and ``tmp`` (its working files) is removed."""
    proc = subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge_output else subprocess.PIPE,
        text=True,
        start_new_session=True,
    )

    def stop() -> None:
        if proc.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    atexit.register(stop)
    return proc
