"""The out dir after a synth holds exactly that synth, and never a working dir of another selection."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from algoinfra.synth import SynthError, synthesize

STACK = "algorithm-store"


def backend(key: str) -> dict[str, Any]:
    return {"s3": {"bucket": "state-bucket", "key": key, "region": "ap-northeast-1", "encrypt": True}}


def fake_build(files: dict[str, str | dict[str, Any]]):
    """A build that writes ``files`` (relative path -> text or JSON) and a manifest naming the stacks."""

    def build(_config: Any, outdir: Path) -> None:
        stacks = set()
        for rel, body in files.items():
            path = outdir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body if isinstance(body, str) else json.dumps(body))
            stacks.add(Path(rel).parts[1])
        (outdir / "manifest.json").write_text(json.dumps({"stacks": sorted(stacks)}))

    return build


def json_stack(key: str) -> dict[str, str | dict[str, Any]]:
    return {f"stacks/{STACK}/cdk.tf.json": {"terraform": {"backend": backend(key)}}}


def initialize(stack_dir: Path, key: str) -> None:
    """What `terraform init` records about the backend of a working dir."""
    record = stack_dir / ".terraform" / "terraform.tfstate"
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"version": 3, "backend": {"type": "s3", "config": backend(key)["s3"], "hash": 1}}))
    (stack_dir / ".terraform" / "providers").mkdir()


CONFIG = SimpleNamespace(key="project-a-dev")
KEY_A = "algorithm-server-infra/project-a/dev/ap-northeast-1/algorithm-store.tfstate"
KEY_B = "algorithm-server-infra/project-b/dev/ap-northeast-1/algorithm-store.tfstate"


def run(out: Path, files: dict[str, Any], lines: list[str] | None = None) -> None:
    report = lines.append if lines is not None else None
    synthesize([CONFIG], out, build=fake_build(files), per_config_dirs=False, report=report)


def test_a_working_dir_of_another_selection_is_removed_and_said(tmp_path: Path) -> None:
    out = tmp_path / "cdktf.out"
    run(out, json_stack(KEY_A))
    initialize(out / "stacks" / STACK, KEY_A)
    lines: list[str] = []
    run(out, json_stack(KEY_B), lines)
    assert not (out / "stacks" / STACK / ".terraform").exists()
    assert len(lines) == 1 and KEY_A in lines[0] and KEY_B in lines[0] and "no state was moved" in lines[0]
    assert json.loads((out / "stacks" / STACK / "cdk.tf.json").read_text())["terraform"]["backend"] == backend(KEY_B)


def test_the_same_selection_keeps_its_working_dir(tmp_path: Path) -> None:
    out = tmp_path / "cdktf.out"
    run(out, json_stack(KEY_A))
    initialize(out / "stacks" / STACK, KEY_A)
    lines: list[str] = []
    run(out, json_stack(KEY_A), lines)
    assert (out / "stacks" / STACK / ".terraform" / "providers").is_dir()
    assert lines == []


def test_any_other_backend_setting_means_a_fresh_init(tmp_path: Path) -> None:
    out = tmp_path / "cdktf.out"
    run(out, json_stack(KEY_A))
    initialize(out / "stacks" / STACK, KEY_A)
    changed = {"terraform": {"backend": {"s3": {**backend(KEY_A)["s3"], "dynamodb_table": "other-lock-table"}}}}
    run(out, {f"stacks/{STACK}/cdk.tf.json": changed}, [])
    assert not (out / "stacks" / STACK / ".terraform").exists()


def test_a_half_initialized_working_dir_is_left_alone(tmp_path: Path) -> None:
    out = tmp_path / "cdktf.out"
    run(out, json_stack(KEY_A))
    (out / "stacks" / STACK / ".terraform" / "providers").mkdir(parents=True)  # init without a backend record
    run(out, json_stack(KEY_B))
    assert (out / "stacks" / STACK / ".terraform" / "providers").is_dir()


def test_files_of_the_other_format_and_stale_stacks_go(tmp_path: Path) -> None:
    out = tmp_path / "cdktf.out"
    run(out, {**json_stack(KEY_A), "stacks/account-baseline/cdk.tf.json": {"terraform": {}}})
    hcl = {f"stacks/{STACK}/cdk.tf": 'terraform { backend "s3" {} }'}
    lines: list[str] = []
    run(out, hcl, lines)
    assert sorted(p.name for p in (out / "stacks").iterdir()) == [STACK]
    assert sorted(p.name for p in (out / "stacks" / STACK).iterdir()) == ["cdk.tf"]
    assert len(lines) == 2 and any("account-baseline" in line for line in lines)
    run(out, json_stack(KEY_A))
    assert sorted(p.name for p in (out / "stacks" / STACK).iterdir()) == ["cdk.tf.json"]


def test_only_stack_dirs_a_synth_wrote_are_removed(tmp_path: Path) -> None:
    """Whatever else sits in ``stacks/`` (a file, a dir without cdk.tf.json or cdk.tf, a symlink) stays."""
    out = tmp_path / "cdktf.out"
    run(out, {**json_stack(KEY_A), "stacks/account-baseline/cdk.tf.json": {"terraform": {}}})
    (out / "stacks" / "notes.txt").write_text("mine")
    (out / "stacks" / "mine").mkdir()
    (out / "stacks" / "mine" / "x.py").write_text("mine")
    (out / "stacks" / "link").symlink_to(out / "stacks" / "account-baseline")
    lines: list[str] = []
    run(out, json_stack(KEY_A), lines)
    assert sorted(p.name for p in (out / "stacks").iterdir()) == [STACK, "link", "mine", "notes.txt"]
    assert len(lines) == 1 and "account-baseline: not a stack of this synth" in lines[0], lines


def test_a_stale_stack_holding_state_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    out = tmp_path / "cdktf.out"
    run(out, {**json_stack(KEY_A), "stacks/terraform-state/cdk.tf.json": {}})
    (out / "stacks" / "terraform-state" / "terraform.tfstate").write_text("{}")
    before = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    with pytest.raises(SynthError, match="holds Terraform state"):
        run(out, json_stack(KEY_B))
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == before
    assert json.loads((out / "stacks" / STACK / "cdk.tf.json").read_text())["terraform"]["backend"] == backend(KEY_A)
    assert [p.name for p in tmp_path.iterdir()] == ["cdktf.out"], "temporary dir left behind"


def test_per_config_dirs_are_managed_one_by_one(tmp_path: Path) -> None:
    out = tmp_path / "cdktf.out"
    configs = [SimpleNamespace(key="project-a-dev"), SimpleNamespace(key="project-b-dev")]
    synthesize(configs, out, build=fake_build(json_stack(KEY_A)), per_config_dirs=True)
    (out / "unrelated").mkdir()
    initialize(out / "project-a-dev" / "stacks" / STACK, KEY_A)
    synthesize(configs, out, build=fake_build(json_stack(KEY_A)), per_config_dirs=True, report=lambda _: None)
    assert (out / "project-a-dev" / "stacks" / STACK / ".terraform").is_dir()
    assert (out / "unrelated").is_dir()
