"""Every stack: the pinned provider, the tags, the backend and its state key; the terraform-state bootstrap."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from algoinfra import config as cfg
from algoinfra.naming import STATE_KEY_PREFIX
from stacks.app import STACK_IDS
from tests.conftest import synth_one
from tests.helpers import BACKEND, one, resources, variant_dir


def default_provider(stack: dict[str, Any]) -> dict[str, Any]:
    providers = [p for p in stack["provider"]["aws"] if "alias" not in p]
    assert len(providers) == 1
    return providers[0]


def test_every_config_has_every_stack(stacks, sample_configs) -> None:
    for key, by_id in stacks.items():
        expected = (
            set(STACK_IDS) if sample_configs[key].account.baseline.enabled else set(STACK_IDS) - {"account-baseline"}
        )
        assert set(by_id) == expected, key


def test_provider_is_pinned_to_the_project_account_with_tags(stacks, sample_configs) -> None:
    for key, by_id in stacks.items():
        c = sample_configs[key]
        for stack_id, stack in by_id.items():
            p = default_provider(stack)
            pinned = c.state_account_id if stack_id == "terraform-state" else c.account_id
            assert p["allowed_account_ids"] == [pinned], (key, stack_id)
            assert p["region"] == (c.backend.region if stack_id == "terraform-state" else c.region)
            tags = p["default_tags"][0]["tags"]
            assert tags["ManagedBy"] == "cdktf:algorithm-server-infra"
            if stack_id in ("account-baseline", "terraform-state"):  # shared by every project
                assert tags == {"ManagedBy": "cdktf:algorithm-server-infra"}
            else:
                assert tags == {
                    "Project": c.project,
                    "Env": c.env,
                    "ManagedBy": "cdktf:algorithm-server-infra",
                    **c.tags,
                }


def test_every_resource_stays_within_the_tag_limit_whatever_the_user_adds(stacks, sample_configs) -> None:
    """AWS allows 50 tags per resource, counting the provider's default tags; IAM compares keys ignoring case.
    The loader leaves room for the keys the tool sets (``TOOL_TAGS`` + ``RESOURCE_TAGS``): no resource may
    carry another key of its own, or a config at the user limit would fail on apply."""
    own_keys = {*cfg.TOOL_TAGS, *cfg.RESOURCE_TAGS}
    assert cfg.MAX_USER_TAGS + len(own_keys) == cfg.MAX_TAGS
    checked = 0
    for key, by_id in stacks.items():
        user = set(sample_configs[key].tags)
        for stack_id, stack in by_id.items():
            defaults = {
                ("aws." + p["alias"]) if "alias" in p else "aws": set(p.get("default_tags", [{}])[0].get("tags", {}))
                for p in stack["provider"]["aws"]
            }
            for rtype, by_name in stack.get("resource", {}).items():
                for name, body in by_name.items():
                    tags = body.get("tags", {})
                    assert isinstance(tags, dict), (key, stack_id, rtype, name)
                    keys = defaults[body.get("provider", "aws")] | set(tags)
                    assert keys - user <= own_keys, (key, stack_id, rtype, name, sorted(keys - user - own_keys))
                    assert len({k.lower() for k in keys}) == len(keys), (key, stack_id, rtype, name)
                    checked += 1
    assert checked > 100


def test_required_provider_source_is_unambiguous(stacks) -> None:
    for by_id in stacks.values():
        for stack in by_id.values():
            assert stack["terraform"]["required_providers"]["aws"]["source"] == "hashicorp/aws"


def test_every_stack_requires_terraform_1_10(stacks) -> None:
    """use_lockfile needs Terraform 1.10: an older one must stop on the requirement, not on "Unsupported argument"."""
    for key, by_id in stacks.items():
        for stack_id, stack in by_id.items():
            assert stack["terraform"]["required_version"] == ">= 1.10", (key, stack_id)


def test_remote_backend_and_state_keys(stacks, sample_configs) -> None:
    keys = []
    for key, by_id in stacks.items():
        c = sample_configs[key]
        for stack_id, stack in by_id.items():
            backend = stack["terraform"]["backend"]
            if stack_id == "terraform-state":
                assert backend == {"local": {"path": "terraform.tfstate"}}
                continue
            s3 = backend["s3"]
            assert (s3["bucket"], s3["region"], s3["dynamodb_table"]) == (
                c.backend.bucket,
                c.backend.region,
                c.backend.dynamodb_table,
            )
            assert s3["encrypt"] is True and s3["use_lockfile"] is True
            if stack_id == "account-baseline":
                # One state per account and region, shared by every config of the account (by design).
                assert s3["key"] == f"{STATE_KEY_PREFIX}/accounts/{c.account_id}/{c.region}/account-baseline.tfstate"
                continue
            assert s3["key"] == f"{STATE_KEY_PREFIX}/{c.project}/{c.env}/{c.region}/{stack_id}.tfstate"
            keys.append(s3["key"])
    assert len(keys) == len(set(keys)), "two stacks share a state key"


def test_every_backend_and_remote_state_read_goes_through_the_state_role(stacks, sample_configs) -> None:
    """Cross-account state: the backend of every stack and every terraform_remote_state that
    reads another stack carry the same role (and profile), from backend.tf.json."""
    reads = 0
    for key, by_id in stacks.items():
        b = sample_configs[key].backend
        assert b.assume_role is not None  # the sample estate keeps its state in a state account
        role = {"role_arn": b.assume_role.role_arn, "session_name": b.assume_role.session_name}
        for stack_id, stack in by_id.items():
            if stack_id == "terraform-state":
                continue
            assert stack["terraform"]["backend"]["s3"]["assume_role"] == role, (key, stack_id)
            assert "profile" not in stack["terraform"]["backend"]["s3"]
            for remote in stack.get("data", {}).get("terraform_remote_state", {}).values():
                reads += 1
                assert remote["backend"] == "s3"
                settings = {k: remote["config"][k] for k in ("bucket", "region", "dynamodb_table", "assume_role")}
                assert settings == {
                    "bucket": b.bucket,
                    "region": b.region,
                    "dynamodb_table": b.dynamodb_table,
                    "assume_role": role,
                }, (key, stack_id)
    assert reads >= 6, "no remote state read was checked"


def test_a_backend_profile_and_external_id_reach_backend_and_reads(tmp_path: Path) -> None:
    import json

    data = json.loads(BACKEND.read_text())
    data["terraform"]["backend"]["s3"]["profile"] = "state-admin"
    data["terraform"]["backend"]["s3"]["assume_role"]["external_id"] = "estate-42"
    backend = tmp_path / "backend.tf.json"
    backend.write_text(json.dumps(data))
    d = variant_dir(tmp_path / "configs", "project-sample-staging")
    c = cfg.load_file(d / f"project-sample-staging{cfg.CONFIG_SUFFIX}", backend_path=backend)
    by_id = synth_one(c, tmp_path / "out")
    service = by_id["algorithm-service"]
    s3 = service["terraform"]["backend"]["s3"]
    assert s3["profile"] == "state-admin" and s3["assume_role"]["external_id"] == "estate-42"
    remote = list(service["data"]["terraform_remote_state"].values())
    assert remote and all(
        r["config"]["profile"] == "state-admin" and r["config"]["assume_role"]["external_id"] == "estate-42"
        for r in remote
    )


def test_the_bootstrap_belongs_to_the_state_account_whatever_is_selected(stacks, sample_configs, synth_root) -> None:
    """terraform-state is pinned to the state account and is the same bytes for every selected config;
    its local state is a link to one file outside the out dir."""
    from stacks.terraform_state import bootstrap_state_file

    texts = {(synth_root / key / "stacks" / "terraform-state" / "cdk.tf.json").read_text() for key in stacks}
    assert len(texts) == 1, "the bootstrap differs between selected configs"
    for key, by_id in stacks.items():
        c = sample_configs[key]
        (provider,) = by_id["terraform-state"]["provider"]["aws"]
        assert provider["allowed_account_ids"] == [c.state_account_id] != [c.account_id]
        assert provider["region"] == c.backend.region
        link = synth_root / key / "stacks" / "terraform-state" / "terraform.tfstate"
        assert link.is_symlink() and Path(os.readlink(link)) == bootstrap_state_file(c.state_account_id)
        assert not bootstrap_state_file(c.state_account_id).is_relative_to(synth_root)


def test_terraform_state_bootstrap(stacks, sample_configs) -> None:
    for key, by_id in stacks.items():
        backend = sample_configs[key].backend
        stack = by_id["terraform-state"]
        bucket = one(stack, "aws_s3_bucket")
        assert bucket["bucket"] == backend.bucket
        assert bucket["lifecycle"] == {"prevent_destroy": True} and bucket["force_destroy"] is False
        assert one(stack, "aws_s3_bucket_versioning")["versioning_configuration"]["status"] == "Enabled"
        sse = one(stack, "aws_s3_bucket_server_side_encryption_configuration")["rule"][0]
        assert sse["apply_server_side_encryption_by_default"]["sse_algorithm"] == "AES256"
        pab = one(stack, "aws_s3_bucket_public_access_block")
        assert all(
            pab[k] is True
            for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
        )
        table = one(stack, "aws_dynamodb_table")
        assert table["name"] == backend.dynamodb_table
        assert table["hash_key"] == "LockID" and table["attribute"] == [{"name": "LockID", "type": "S"}]
        assert table["point_in_time_recovery"] == {"enabled": True}
        assert table["server_side_encryption"] == {"enabled": True}
        assert table["lifecycle"] == {"prevent_destroy": True}
        assert set(resources(stack, "aws_s3_bucket_policy")), "TLS-only policy missing"


def test_sample_backend_file_is_terraform_shaped() -> None:
    from tests.helpers import BACKEND

    b = cfg.load_backend(BACKEND)
    assert b.encrypt and b.use_lockfile
