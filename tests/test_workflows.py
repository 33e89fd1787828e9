"""The example CI pipeline: valid against GitHub's workflow schema (offline), and it does what the README says."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
CHECK = ROOT / ".venv" / "bin" / "check-jsonschema"


def validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    # The schema ships inside check-jsonschema (vendor.github-workflows): no network.
    return subprocess.run(
        [str(CHECK), "--builtin-schema", "vendor.github-workflows", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"},
    )


def test_every_workflow_is_valid_offline() -> None:
    assert WORKFLOWS, "no workflow in .github/workflows/"
    result = validate(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("old", "new"),
    [("runs-on: ubuntu-24.04", "runs-onn: ubuntu-24.04"), ("id-token: write", "id-token: sometimes")],
    ids=["misspelt-key", "bad-permission"],
)
def test_the_check_rejects_a_broken_workflow(tmp_path: Path, old: str, new: str) -> None:
    text = (ROOT / ".github" / "workflows" / "infra.yml").read_text()
    assert old in text
    broken = tmp_path / "broken.yml"
    broken.write_text(text.replace(old, new, 1))
    result = validate(broken)
    assert result.returncode == 1 and "Schema validation errors" in result.stdout


def workflow() -> dict[str, Any]:
    data: dict[Any, Any] = yaml.safe_load((ROOT / ".github" / "workflows" / "infra.yml").read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def runs(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def test_pull_requests_run_make_test_then_plan_with_oidc() -> None:
    wf = workflow()
    assert "pull_request" in wf["on"] and wf["on"]["push"]["branches"] == ["main"]
    assert wf["permissions"] == {"contents": "read"}
    jobs = wf["jobs"]
    assert runs(jobs["test"]) == ["make test"]
    plan = jobs["plan"]
    assert plan["needs"] == "test" and "if" not in plan
    assert plan["permissions"]["id-token"] == "write"
    assert runs(plan) == ["make plan"]
    creds = [s for s in plan["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")]
    assert len(creds) == 1 and creds[0]["with"]["role-to-assume"] == "${{ matrix.plan_role }}"
    matrix = plan["strategy"]["matrix"]["include"]
    assert {m["env"] for m in matrix} == {"dev", "staging", "production"}
    assert all(m["plan_role"].startswith("arn:aws:iam::") for m in matrix)
    assert not any("aws_access_key_id" in str(s).lower() or "secrets." in str(s) for s in plan["steps"])


def test_apply_only_on_main_after_an_approval() -> None:
    jobs = workflow()["jobs"]
    deploy = jobs["deploy"]
    assert deploy["needs"] == "plan"
    assert deploy["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert deploy["environment"] == "${{ matrix.env }}"  # required reviewers live on the environment
    assert deploy["permissions"]["id-token"] == "write"
    assert deploy["concurrency"]["cancel-in-progress"] is False
    deploys = [r for r in runs(deploy) if "cdktf deploy" in r]
    assert len(deploys) == 1 and "--auto-approve" in deploys[0]
    assert "terraform-state" not in deploys[0] and "account-baseline" not in deploys[0] and "'*'" not in deploys[0]
    plan_pairs = {(m["project"], m["env"]) for m in jobs["plan"]["strategy"]["matrix"]["include"]}
    assert {(m["project"], m["env"]) for m in deploy["strategy"]["matrix"]["include"]} == plan_pairs
    # no other job applies anything
    for name, job in jobs.items():
        if name != "deploy":
            assert not [r for r in runs(job) if "deploy" in r or "apply" in r], name
