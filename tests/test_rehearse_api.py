"""The rehearsal's Python API through real Terraform: any directory, plan JSON, import blocks,
write-only and ephemeral values, the real policy JSON, and a scenario's apply order."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from algoinfra.rehearse.scenario import Scenario
from algoinfra.rehearse.terraform import Session, Terraform, install

ACCOUNT = "111122223333"
REGION = "ap-northeast-1"


def stack(resources: dict[str, Any], *, key: str = "demo.tfstate", **extra: Any) -> dict[str, Any]:
    """A stack shaped like the synthesized ones: pinned provider, S3 backend, default tags."""
    return {
        "terraform": {
            "required_providers": {"aws": {"source": "hashicorp/aws", "version": "6.25.0"}},
            "backend": {"s3": {"bucket": "demo-tfstate", "key": key, "region": REGION}},
        },
        "provider": {
            "aws": [{"region": REGION, "allowed_account_ids": [ACCOUNT], "default_tags": [{"tags": {"Env": "test"}}]}]
        },
        "resource": resources,
        **extra,
    }


def synthesized(root: Path, stacks: dict[str, dict[str, Any]], deps: dict[str, list[str]] | None = None) -> Path:
    """A directory laid out like `make synth` output: manifest.json and stacks/<id>/cdk.tf.json."""
    manifest = {"stacks": {name: {"dependencies": (deps or {}).get(name, [])} for name in stacks}}
    for name, body in stacks.items():
        (root / "stacks" / name).mkdir(parents=True)
        (root / "stacks" / name / "cdk.tf.json").write_text(json.dumps(body, indent=2))
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


@pytest.fixture(scope="module")
def terraform() -> Any:
    with install() as tf:
        yield tf


@pytest.fixture(scope="module")
def tf(terraform: Terraform) -> Any:
    """One Terraform process for this module's commands (Session has Terraform.run's signature, less env)."""
    with terraform.session() as session:
        yield session


def cycle(tf: Session, cwd: Path, *args: str) -> dict[str, Any]:
    """init, plan -out, show -json: the plan JSON."""
    for command in (("init", "-input=false", "-backend=false"), ("plan", "-input=false", "-out=tfplan", *args)):
        result = tf.run(*command, cwd=cwd)
        assert result.ok, result.describe()
    plan: dict[str, Any] = tf.run("show", "-json", "tfplan", cwd=cwd).json()
    return plan


def test_terraform_runs_in_any_directory_with_extra_env(terraform: Terraform, tmp_path: Path) -> None:
    tf = terraform
    (tmp_path / "main.tf.json").write_text(json.dumps({"resource": {"aws_s3_bucket": {"b": {"bucket_nam": "x"}}}}))
    data_dir = tmp_path / "elsewhere"
    init = tf.run("init", "-input=false", cwd=tmp_path, env={"TF_DATA_DIR": str(data_dir)})
    assert init.ok, init.describe()
    assert (data_dir / "providers").is_dir() and not (tmp_path / ".terraform").exists()
    result = tf.run("validate", "-json", cwd=tmp_path, env={"TF_DATA_DIR": str(data_dir)})
    assert result.returncode == 1
    (error,) = result.errors
    assert (error.summary, error.filename, error.line) == ("Extraneous JSON object property", "main.tf.json", 1)
    plan = tf.run("plan", "-input=false", "-out=tfplan", cwd=tmp_path, env={"TF_DATA_DIR": str(data_dir)})
    assert plan.returncode == 1, "the same error stops the plan"
    version = tf.run("version", "-json", cwd=tmp_path, env={"TF_DATA_DIR": str(data_dir)}).json()
    assert version["terraform_version"] == "1.15.5"
    assert version["provider_selections"] == {"registry.terraform.io/hashicorp/aws": "6.25.0"}


def test_plan_json_shows_actions_unknowns_and_sensitive_values(
    tf: Session, terraform: Terraform, tmp_path: Path
) -> None:
    body = stack(
        {
            "aws_ssm_parameter": {"p": {"name": "/dev/demo/vpc-id", "type": "String", "value": "vpc-123"}},
            "aws_ecr_repository": {"r": {"name": "demo-algorithm", "tags": {"Name": "demo"}}},
        }
    )
    del body["terraform"]["backend"]
    (tmp_path / "cdk.tf.json").write_text(json.dumps(body))
    plan = cycle(tf, tmp_path)
    changes = {rc["address"]: rc["change"] for rc in plan["resource_changes"]}
    assert {a: c["actions"] for a, c in changes.items()} == {
        "aws_ecr_repository.r": ["create"],
        "aws_ssm_parameter.p": ["create"],
    }
    repo = changes["aws_ecr_repository.r"]
    assert repo["after_unknown"]["arn"] is True and repo["after_unknown"]["repository_url"] is True
    assert repo["after"]["tags_all"] == {"Env": "test", "Name": "demo"}, "tags_all = default_tags + tags"
    assert changes["aws_ssm_parameter.p"]["after_sensitive"]["value"] is True, "the schema's sensitive flag"
    assert terraform.show_plan(tmp_path, "tfplan") == plan, "show_plan is terraform show -json in its own process"


def test_apply_fills_realistic_values(tf: Session, tmp_path: Path) -> None:
    body = stack(
        {
            "aws_vpc": {"v": {"cidr_block": "10.0.0.0/16"}},
            "aws_ecr_repository": {"r": {"name": "demo-algorithm"}},
            "aws_iam_role": {"role": {"name": "demo-role", "assume_role_policy": "{}"}},
        },
        output={
            "vpc": {"value": "${aws_vpc.v.id}"},
            "vpc_arn": {"value": "${aws_vpc.v.arn}"},
            "url": {"value": "${aws_ecr_repository.r.repository_url}"},
            "role": {"value": "${aws_iam_role.role.arn}"},
        },
    )
    del body["terraform"]["backend"]
    (tmp_path / "cdk.tf.json").write_text(json.dumps(body))
    cycle(tf, tmp_path)
    assert tf.run("apply", "-input=false", "-auto-approve", "tfplan", cwd=tmp_path).ok
    out = {k: v["value"] for k, v in tf.run("output", "-json", cwd=tmp_path).json().items()}
    assert out["vpc"].startswith("vpc-") and len(out["vpc"]) == 21
    assert out["vpc_arn"] == f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/{out['vpc']}"
    assert out["url"] == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/demo-algorithm"
    assert out["role"] == f"arn:aws:iam::{ACCOUNT}:role/demo-role"
    again = tf.run("plan", "-input=false", "-detailed-exitcode", cwd=tmp_path)
    assert again.returncode == 0, again.stdout


POLICY_STATEMENTS = [
    {
        "sid": "Read",
        "actions": ["s3:GetObject", "s3:ListBucket"],
        "resources": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
        "principals": [
            {"type": "AWS", "identifiers": [f"arn:aws:iam::{ACCOUNT}:role/a", f"arn:aws:iam::{ACCOUNT}:role/z"]},
            {"type": "Service", "identifiers": ["ec2.amazonaws.com"]},
        ],
        "condition": [
            {"test": "StringEquals", "variable": "aws:SourceAccount", "values": [ACCOUNT]},
            {"test": "StringLike", "variable": "s3:prefix", "values": ["home/&{aws:username}/*", "shared/*"]},
        ],
    },
    {"effect": "Deny", "not_actions": ["iam:*"], "resources": ["*"]},
]
# What hashicorp/aws 6.25.0 renders (Go's json.MarshalIndent of its policy structs), by hand.
EXPECTED_POLICY = """{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "Read",
      "Effect": "Allow",
      "Action": [
        "s3:ListBucket",
        "s3:GetObject"
      ],
      "Resource": [
        "arn:aws:s3:::b/*",
        "arn:aws:s3:::b"
      ],
      "Principal": {
        "AWS": [
          "arn:aws:iam::111122223333:role/z",
          "arn:aws:iam::111122223333:role/a"
        ],
        "Service": "ec2.amazonaws.com"
      },
      "Condition": {
        "StringEquals": {
          "aws:SourceAccount": "111122223333"
        },
        "StringLike": {
          "s3:prefix": [
            "home/${aws:username}/*",
            "shared/*"
          ]
        }
      }
    },
    {
      "Effect": "Deny",
      "NotAction": "iam:*",
      "Resource": "*"
    }
  ]
}"""


def test_the_stand_ins_policy_document_is_the_real_policy_json(tf: Session, tmp_path: Path) -> None:
    body = stack(
        {},
        data={"aws_iam_policy_document": {"doc": {"statement": POLICY_STATEMENTS}}},
        output={
            "json": {"value": "${data.aws_iam_policy_document.doc.json}"},
            "minified": {"value": "${data.aws_iam_policy_document.doc.minified_json}"},
            "id": {"value": "${data.aws_iam_policy_document.doc.id}"},
        },
    )
    del body["terraform"]["backend"], body["resource"]
    (tmp_path / "cdk.tf.json").write_text(json.dumps(body))
    assert tf.run("init", "-input=false", cwd=tmp_path).ok
    applied = tf.run("apply", "-input=false", "-auto-approve", cwd=tmp_path)
    assert applied.ok, applied.describe()
    out = {k: v["value"] for k, v in tf.run("output", "-json", cwd=tmp_path).json().items()}
    assert out["json"] == EXPECTED_POLICY
    assert out["minified"] == json.dumps(json.loads(EXPECTED_POLICY), separators=(",", ":"))
    assert out["id"] == str(zlib.crc32(EXPECTED_POLICY.encode()))  # the provider sets the CRC-32 of the JSON


def test_import_blocks_with_a_literal_id_and_an_id_from_a_data_source(tf: Session, tmp_path: Path) -> None:
    body = stack(
        {
            "aws_s3_bucket": {"data": {"bucket": "demo-data", "tags": {"Name": "demo"}}},
            "aws_secretsmanager_secret": {"token": {"name": "GITHUB_PERSONAL_ACCESS_TOKEN"}},
        },
        data={"aws_secretsmanager_secret": {"existing": {"name": "GITHUB_PERSONAL_ACCESS_TOKEN"}}},
        **{
            "import": [
                {"to": "aws_s3_bucket.data", "id": "demo-data"},
                {"to": "aws_secretsmanager_secret.token", "id": "${data.aws_secretsmanager_secret.existing.arn}"},
            ]
        },
    )
    del body["terraform"]["backend"]
    (tmp_path / "cdk.tf.json").write_text(json.dumps(body))
    plan = cycle(tf, tmp_path)
    changes = {rc["address"]: rc["change"] for rc in plan["resource_changes"] if rc["mode"] == "managed"}
    assert changes["aws_s3_bucket.data"]["importing"] == {"id": "demo-data"}
    secret_id = changes["aws_secretsmanager_secret.token"]["importing"]["id"]
    assert secret_id.startswith(f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:GITHUB_PERSONAL_ACCESS_TOKEN-")
    assert all("create" not in c["actions"] for c in changes.values()), "imported, not created"
    applied = tf.run("apply", "-input=false", "-json", "-auto-approve", "tfplan", cwd=tmp_path)
    assert applied.ok, applied.describe()
    assert applied.change_summary()["import"] == 2
    again = tf.run("plan", "-input=false", "-detailed-exitcode", cwd=tmp_path)
    assert again.returncode == 0, again.stdout


def test_write_only_and_ephemeral_values_stay_out_of_state(tf: Session, tmp_path: Path) -> None:
    body = stack(
        {
            "aws_secretsmanager_secret": {"s": {"name": "demo"}},
            "aws_secretsmanager_secret_version": {
                "v": {
                    "secret_id": "${aws_secretsmanager_secret.s.id}",
                    "secret_string_wo": "${ephemeral.aws_secretsmanager_random_password.p.random_password}",
                    "secret_string_wo_version": 1,
                }
            },
        },
        ephemeral={"aws_secretsmanager_random_password": {"p": {"password_length": 32}}},
    )
    del body["terraform"]["backend"]
    (tmp_path / "cdk.tf.json").write_text(json.dumps(body))
    assert tf.run("init", "-input=false", cwd=tmp_path).ok
    assert tf.run("validate", cwd=tmp_path).ok
    applied = tf.run("apply", "-input=false", "-auto-approve", cwd=tmp_path)
    assert applied.ok, applied.describe()
    state = json.loads((tmp_path / "terraform.tfstate").read_text())
    (version,) = [r for r in state["resources"] if r["type"] == "aws_secretsmanager_secret_version"]
    assert version["instances"][0]["attributes"]["secret_string_wo"] is None


def test_a_scenario_replaces_a_compute_environment_before_deleting_the_old_one(tmp_path: Path) -> None:
    def compute(instance_types: list[str]) -> dict[str, Any]:
        return stack(
            {
                "aws_batch_compute_environment": {
                    "ce": {
                        "name_prefix": "demo-spot-",
                        "type": "MANAGED",
                        "compute_resources": {
                            "type": "SPOT",
                            "max_vcpus": 8,
                            "instance_type": instance_types,
                            "subnets": ["subnet-1"],
                            "security_group_ids": ["sg-1"],
                        },
                        "lifecycle": {"create_before_destroy": True},
                    }
                },
                "aws_batch_job_queue": {
                    "queue": {
                        "name": "demo-queue",
                        "priority": 1,
                        "state": "ENABLED",
                        "compute_environment_order": [
                            {"order": 1, "compute_environment": "${aws_batch_compute_environment.ce.arn}"}
                        ],
                    }
                },
            },
            key="compute.tfstate",
        )

    a = synthesized(tmp_path / "a", {"compute": compute(["m6i.large"])})
    b = synthesized(tmp_path / "b", {"compute": compute(["g5.xlarge"])})
    with Scenario.start(force_new={"aws_batch_compute_environment": ["compute_resources.instance_type"]}) as sc:
        first = sc.apply(a)
        assert first.order() == [
            ("aws_batch_compute_environment.ce", "create"),
            ("aws_batch_job_queue.queue", "create"),
        ]
        plan = sc.plan(b, "compute")
        actions = {rc["address"]: rc["change"]["actions"] for rc in plan["resource_changes"]}
        assert actions == {
            "aws_batch_compute_environment.ce": ["create", "delete"],
            "aws_batch_job_queue.queue": ["update"],
        }
        second = sc.apply(b)
        assert second.order() == [
            ("aws_batch_compute_environment.ce", "create"),
            ("aws_batch_job_queue.queue", "update"),
            ("aws_batch_compute_environment.ce", "delete"),
        ]
        new_id, old_id = second.calls[0].id, second.calls[2].id
        assert new_id != old_id and old_id == first.calls[0].id
        assert all(
            c.id and ":compute-environment/demo-spot-" in c.id for c in second.calls if c.type.endswith("environment")
        )
        gone = sc.destroy(b)
        assert gone.order() == [("aws_batch_job_queue.queue", "delete"), ("aws_batch_compute_environment.ce", "delete")]
