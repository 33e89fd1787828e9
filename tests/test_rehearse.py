"""The rehearsal: Terraform's own init, validate, plan, apply, empty re-plan and destroy on every
sample config, against the stand-in provider that serves the real hashicorp/aws 6.25.0 schema.

The full cycle of every config is about a minute of both cores' work. It starts in a background
process group once collection is done (tests/conftest.py), when its test is selected, so it overlaps the rest of the suite (which runs on
one core); the test below waits for it. It is killed at exit if the session ends first.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from algoinfra.rehearse.rehearsal import Rehearsal, RehearsalFailed
from algoinfra.rehearse.terraform import Terraform, install
from tests.helpers import ROOT


class _Background:
    """``main.py --all-configs`` into a temporary dir, then ``python -m algoinfra.rehearse`` on it."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="test-rehearse-"))
        self.out = self.tmp / "cdktf.out"
        self.report = self.tmp / "report.json"
        self.logs: list[str] = []
        self.returncode: int | None = None
        self.started = time.time()
        self.before: dict[str, bytes] = {}
        self.after: dict[str, bytes] = {}
        self._proc: subprocess.Popen[str] | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        atexit.register(self.stop)

    def _step(self, *args: str, env: dict[str, str]) -> int:
        self._proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group: stop() ends Terraform and the providers too
        )
        out, _ = self._proc.communicate()
        self.logs.append(out)
        return self._proc.returncode

    def _run(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("Project", "Env", "REGION")}
        env.update(INFRA_CONFIG_DIR=str(ROOT / "configs"), CDKTF_OUTDIR=str(self.out))
        code = self._step("main.py", "--all-configs", env=env)
        self.before = _files(self.out)
        if code == 0:
            code = self._step(
                "-m", "algoinfra.rehearse", str(self.out), "--jobs", "2", "--json", str(self.report), env=env
            )
        self.after = _files(self.out)
        self.returncode = code

    def wait(self, timeout: float = 900) -> dict[str, Any]:
        self._thread.join(timeout)
        assert self.returncode is not None, "the rehearsal did not finish in time"
        report: dict[str, Any] = json.loads(self.report.read_text()) if self.report.is_file() else {}
        report["returncode"] = self.returncode
        report["output"] = "".join(self.logs)
        return report

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            # The rehearsal cleans up on SIGTERM; whatever is left after that is killed with its group.
            with contextlib.suppress(OSError):
                self._proc.terminate()
            try:
                self._proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(OSError):
                    os.killpg(self._proc.pid, signal.SIGKILL)
        import shutil

        shutil.rmtree(self.tmp, ignore_errors=True)


def _terraform_files(root: Path) -> list[Path]:
    """Terraform's working files anywhere in the repository (virtualenvs and node_modules aside)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in (".git", ".venv", ".venv-checkov", "node_modules")]
        for name in [*dirnames, *filenames]:
            if name in (".terraform", ".terraform.lock.hcl", "tfplan") or name.endswith(
                (".tfstate", ".tfstate.backup")
            ):
                found.append(Path(dirpath) / name)
    return found


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


_BACKGROUND: _Background | None = None


def start_background() -> None:
    """Called by conftest once collection is done, when the test below is selected."""
    global _BACKGROUND
    if _BACKGROUND is None:
        _BACKGROUND = _Background()


def test_every_sample_config_rehearses_clean_from_init_to_destroy(synth_root: Path, sample_configs) -> None:
    start_background()
    assert _BACKGROUND is not None
    report = _BACKGROUND.wait()
    assert report["returncode"] == 0, report["output"]
    assert report["failures"] == []
    done = {(s["config"], s["stack"]): s for s in report["stacks"]}
    expected = {
        (key, p.parent.name) for key in sample_configs for p in (synth_root / key / "stacks").glob("*/cdk.tf.json")
    }
    assert set(done) == expected, "every stack of every config in configs/ is rehearsed"
    for (config, stack), s in done.items():
        assert s["planned"] > 0, (config, stack)
        assert s["planned"] == s["applied"] == s["destroyed"], (config, stack, s)
    lines = [line for line in report["output"].splitlines() if " planned " in line]
    assert len(lines) == len(expected), "one summary line per stack"
    assert _BACKGROUND.before and _BACKGROUND.after == _BACKGROUND.before, "the synthesized dir is never modified"
    strays = [p for p in _terraform_files(ROOT) if p.stat().st_mtime >= _BACKGROUND.started]
    assert strays == [], "the rehearsal writes nothing outside its temporary directories"


# --- Stacks Terraform rejects: each must fail, naming the stack, with Terraform's own diagnostic ---------------------


@pytest.fixture(scope="module")
def terraform() -> Any:
    with install() as tf:
        yield tf


def _first(stack: dict[str, Any], rtype: str) -> dict[str, Any]:
    bodies = stack["resource"][rtype]
    return bodies[sorted(bodies)[0]]


def _buildspec_interpolation(stacks: dict[str, Any]) -> str:
    source = _first(stacks["algorithm-service"], "aws_codebuild_project")["source"]
    assert "$${" in source["buildspec"]
    source["buildspec"] = source["buildspec"].replace("$${", "${", 1)  # the bug issue 13 found
    return "algorithm-service"


def _unknown_argument(stacks: dict[str, Any]) -> str:
    _first(stacks["algorithm-store"], "aws_s3_bucket")["bucket_name"] = "typo-of-bucket"
    return "algorithm-store"


def _missing_required_argument(stacks: dict[str, Any]) -> str:
    del _first(stacks["algorithm-service"], "aws_iam_role")["assume_role_policy"]
    return "algorithm-service"


def _bad_reference(stacks: dict[str, Any]) -> str:
    param = _first(stacks["algorithm-server-infra"], "aws_ssm_parameter")
    param["value"] = "${aws_vpc.no_such_vpc.id}"
    return "algorithm-server-infra"


def _too_many_blocks(stacks: dict[str, Any]) -> str:
    ce = _first(stacks["algorithm-compute-resource"], "aws_batch_compute_environment")
    resources = ce["compute_resources"]
    one = resources[0] if isinstance(resources, list) else resources
    ce["compute_resources"] = [one, copy.deepcopy(one)]  # max_items = 1 in the schema
    return "algorithm-compute-resource"


def _missing_remote_state_output(stacks: dict[str, Any]) -> str:
    """The compute stack cut down to its remote state of the network, reading an output the network does not have."""
    compute = stacks["algorithm-compute-resource"]
    remote = {
        name: body
        for name, body in compute["data"]["terraform_remote_state"].items()
        if body["config"]["key"].endswith("/algorithm-server-infra.tfstate")
    }
    (name,) = remote
    stacks["algorithm-compute-resource"] = {
        "terraform": compute["terraform"],
        "provider": compute["provider"],
        "data": {"terraform_remote_state": remote},
        "output": {"vpc": {"value": f"${{data.terraform_remote_state.{name}.outputs.renamed_output}}"}},
    }
    return "algorithm-compute-resource"


# case -> (mutation, the stacks rehearsed (what the broken one needs first), Terraform's summary, step)
BROKEN: dict[str, tuple[Callable[[dict[str, Any]], str], tuple[str, ...], str, str]] = {
    "interpolation in the buildspec": (
        _buildspec_interpolation,
        ("algorithm-service",),
        "Invalid expression",
        "validate",
    ),
    "unknown argument": (_unknown_argument, ("algorithm-store",), "Extraneous JSON object property", "validate"),
    "missing required argument": (
        _missing_required_argument,
        ("algorithm-service",),
        "Missing required argument",
        "validate",
    ),
    "bad reference": (_bad_reference, ("algorithm-server-infra",), "Reference to undeclared resource", "validate"),
    "too many blocks": (
        _too_many_blocks,
        ("algorithm-compute-resource",),
        "Too many compute_resources blocks",
        "validate",
    ),
    "remote-state output that does not exist": (
        _missing_remote_state_output,
        ("algorithm-server-infra", "algorithm-compute-resource"),
        "Unsupported attribute",
        "plan",
    ),
}


def _broken_outdir(synth_root: Path, target: Path) -> None:
    """One config per broken case, each with the dev sample's stacks it needs and one of them broken."""
    source = synth_root / "project-sample-dev"
    for i, (case, (mutate, keep, _summary, _step)) in enumerate(BROKEN.items()):
        stacks = {p.parent.name: json.loads(p.read_text()) for p in (source / "stacks").glob("*/cdk.tf.json")}
        broken = mutate(stacks)
        manifest = json.loads((source / "manifest.json").read_text())
        manifest["stacks"] = {
            name: {**s, "dependencies": [d for d in s["dependencies"] if d in keep]}
            for name, s in manifest["stacks"].items()
            if name in keep
        }
        config = target / f"case{i}-{broken}"
        for name in keep:
            (config / "stacks" / name).mkdir(parents=True)
            (config / "stacks" / name / "cdk.tf.json").write_text(json.dumps(stacks[name], indent=2))
        (config / "manifest.json").write_text(json.dumps(manifest))
        (config / "case.txt").write_text(case)


@pytest.fixture(scope="module")
def broken_failures(synth_root: Path, terraform: Terraform, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    outdir = tmp_path_factory.mktemp("broken") / "out"
    _broken_outdir(synth_root, outdir)
    with pytest.raises(RehearsalFailed) as info:
        Rehearsal(terraform, tmp_path_factory.mktemp("broken-work"), jobs=2).run(outdir)
    by_case = {}
    for failure in info.value.failures:
        by_case[(outdir / failure.config / "case.txt").read_text()] = failure
    return by_case


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_stack_terraform_rejects_fails_naming_the_stack(case: str, broken_failures: dict[str, Any]) -> None:
    _mutate, _keep, summary, step = BROKEN[case]
    assert case in broken_failures, f"{case}: the rehearsal passed a stack Terraform rejects"
    failure = broken_failures[case]
    assert failure.stack == failure.config.split("-", 1)[1], "the failure names the broken stack"
    assert failure.step == step
    assert [d.summary for d in failure.diagnostics][:1] == [summary], failure.lines()
    diag = failure.diagnostics[0]
    assert diag.filename is not None and diag.filename.endswith(f"/stacks/{failure.stack}/cdk.tf.json")
    assert diag.line is not None and diag.line > 1
    assert diag.detail, "Terraform's detail is kept"
    assert all(line.startswith(f"{failure.config}/{failure.stack}: terraform {step}: ") for line in failure.lines())


def test_the_cli_exits_1_with_one_error_line_per_diagnostic(synth_root: Path, tmp_path: Path) -> None:
    outdir = tmp_path / "out"
    _broken_outdir(synth_root, outdir)
    # Only the cheapest case: one stack, fails at validate.
    for config in outdir.iterdir():
        if "unknown argument" not in (config / "case.txt").read_text():
            import shutil

            shutil.rmtree(config)
    result = subprocess.run(
        [sys.executable, "-m", "algoinfra.rehearse", str(outdir)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    path = outdir / "case1-algorithm-store" / "stacks" / "algorithm-store" / "cdk.tf.json"
    assert re.fullmatch(
        rf"error: case1-algorithm-store/algorithm-store: terraform validate: {re.escape(str(path))}:\d+: "
        r'Extraneous JSON object property: No argument or block type is named "bucket_name"\.',
        errors[0],
    ), errors[0]
    assert "Traceback" not in result.stderr


def test_the_cli_refuses_a_dir_without_synthesized_stacks(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "algoinfra.rehearse", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {tmp_path}: no manifest.json")
    assert "Traceback" not in result.stderr


# --- The buildspec: Terraform must read it as literal text ---------------------------------------------------------


def test_no_synthesized_buildspec_has_an_unescaped_interpolation(stacks) -> None:
    buildspecs = [
        body["source"]["buildspec"]
        for config in stacks.values()
        for stack in config.values()
        for body in stack.get("resource", {}).get("aws_codebuild_project", {}).values()
        if isinstance(body.get("source"), dict) and "buildspec" in body["source"]
    ]
    assert buildspecs, "no CodeBuild project was synthesized"
    for text in buildspecs:
        # "$${" is Terraform's escape for a literal "${"; any other "${" is an interpolation.
        assert re.search(r"(?<!\$)\$\{", text.replace("$${", "")) is None, text
        assert re.search(r"(?<!%)%\{", text.replace("%%{", "")) is None, text
        assert "$${REPOSITORY_URI%%/*}" in text


def test_the_repository_guards_against_a_stray_lock_file() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert not [p for p in tracked if p.endswith(".terraform.lock.hcl") or "/.terraform/" in p]
