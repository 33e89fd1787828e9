"""algorithm-store and account-baseline, on every sample config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from algoinfra import config as cfg
from algoinfra.naming import GITHUB_TOKEN_SECRET_NAME
from tests.conftest import synth_one
from tests.helpers import (
    BACKEND,
    SAMPLE_KEYS,
    data_sources,
    load_variant,
    one,
    ref_name,
    resources,
    sample_data,
    variant_dir,
)


def by_bucket(stack, rtype, bucket_ids):
    """The resource of ``rtype`` attached to each bucket, keyed by bucket name."""
    out = {}
    for body in resources(stack, rtype).values():
        out[bucket_ids[ref_name(body["bucket"])]] = body
    return out


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_buckets(stacks, sample_configs, key) -> None:
    c, stack = sample_configs[key], stacks[key]["algorithm-store"]
    buckets = resources(stack, "aws_s3_bucket")
    ids = {logical: body["bucket"] for logical, body in buckets.items()}
    data, trigger = f"{c.project}-{c.env}", f"{c.project}-{c.env}-batch-trigger"
    assert sorted(ids.values()) == sorted([data, trigger])
    for body in buckets.values():
        assert body["force_destroy"] is False
        assert body["lifecycle"] == {"prevent_destroy": c.store.prevent_destroy}
    own = by_bucket(stack, "aws_s3_bucket_ownership_controls", ids)
    assert {b: o["rule"]["object_ownership"] for b, o in own.items()} == {
        data: "BucketOwnerEnforced",
        trigger: "BucketOwnerEnforced",
    }
    cors = by_bucket(stack, "aws_s3_bucket_cors_configuration", ids)
    for rule in (cors[data]["cors_rule"][0], cors[trigger]["cors_rule"][0]):
        assert rule["allowed_methods"] == ["GET", "PUT"] and rule["allowed_headers"] == ["*"]
        assert rule["max_age_seconds"] == 3000
        assert rule["allowed_origins"] == list(c.store.cors_allowed_origins)
    for pab in by_bucket(stack, "aws_s3_bucket_public_access_block", ids).values():
        assert all(
            pab[k] is True
            for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
        )
    sse = by_bucket(stack, "aws_s3_bucket_server_side_encryption_configuration", ids)
    for enc in sse.values():
        default = enc["rule"][0]["apply_server_side_encryption_by_default"]
        if c.store.kms_key:
            assert default["sse_algorithm"] == "aws:kms" and ref_name(default["kms_master_key_id"]) in resources(
                stack, "aws_kms_key"
            )
        else:
            assert default == {"sse_algorithm": "AES256"}
    versioning = by_bucket(stack, "aws_s3_bucket_versioning", ids)
    assert list(versioning) == [data] and versioning[data]["versioning_configuration"]["status"] == "Enabled"
    lifecycle = by_bucket(stack, "aws_s3_bucket_lifecycle_configuration", ids)
    data_rules = {r["id"]: r for r in lifecycle[data]["rule"]}
    assert data_rules["abort-incomplete-multipart-uploads"]["abort_incomplete_multipart_upload"] == [
        {"days_after_initiation": c.store.abort_incomplete_multipart_upload_days}
    ]
    assert data_rules["expire-noncurrent-versions"]["noncurrent_version_expiration"] == [
        {"noncurrent_days": c.store.noncurrent_version_expiration_days}
    ]
    trigger_rules = {r["id"]: r for r in lifecycle[trigger]["rule"]}
    assert trigger_rules["expire-trigger-objects"]["expiration"] == [{"days": c.store.trigger_object_expiration_days}]
    notification = one(stack, "aws_s3_bucket_notification")
    assert ids[ref_name(notification["bucket"])] == trigger and notification["eventbridge"] is True


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_every_bucket_denies_plain_http(stacks, key) -> None:
    for stack_id, stack in stacks[key].items():
        buckets = resources(stack, "aws_s3_bucket")
        policies = {ref_name(p["bucket"]): p for p in resources(stack, "aws_s3_bucket_policy").values()}
        assert set(policies) == set(buckets), stack_id
        docs = data_sources(stack, "aws_iam_policy_document")
        for bucket_id, policy in policies.items():
            doc = docs[ref_name(policy["policy"])]
            [st] = doc["statement"]
            assert st["effect"] == "Deny" and st["actions"] == ["s3:*"]
            assert st["condition"] == [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}]
            # From the bucket's name: known when Terraform plans.
            arn = f"arn:aws:s3:::{buckets[bucket_id]['bucket']}"
            assert st["resources"] == [arn, f"{arn}/*"]


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_repository(stacks, sample_configs, key) -> None:
    c, stack = sample_configs[key], stacks[key]["algorithm-store"]
    repo = one(stack, "aws_ecr_repository")
    assert repo["name"] == f"{c.project}-{c.env}-algorithm"
    assert repo["image_scanning_configuration"] == {"scan_on_push": True}
    assert repo["force_delete"] is False
    if c.store.ecr.mutable_tags:
        assert repo["image_tag_mutability"] == "IMMUTABLE_WITH_EXCLUSION"
        assert [f["filter"] for f in repo["image_tag_mutability_exclusion_filter"]] == list(c.store.ecr.mutable_tags)
    else:
        assert repo["image_tag_mutability"] == c.store.ecr.image_tag_mutability
    assert repo["encryption_configuration"][0]["encryption_type"] == ("KMS" if c.store.kms_key else "AES256")
    policy = json.loads(one(stack, "aws_ecr_lifecycle_policy")["policy"])
    untagged, tagged = sorted(policy["rules"], key=lambda r: r["rulePriority"])
    assert untagged["selection"]["tagStatus"] == "untagged"
    assert untagged["selection"]["countType"] == "sinceImagePushed"
    assert untagged["selection"]["countNumber"] == c.store.ecr.untagged_image_expiration_days
    assert tagged["selection"]["countType"] == "imageCountMoreThan"
    assert tagged["selection"]["countNumber"] == c.store.ecr.tagged_images_to_keep
    assert all(r["action"] == {"type": "expire"} for r in policy["rules"])


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_store_outputs(stacks, key) -> None:
    outputs = stacks[key]["algorithm-store"]["output"]
    for name in (
        "data_bucket_name",
        "data_bucket_arn",
        "trigger_bucket_name",
        "trigger_bucket_arn",
        "repository_url",
        "repository_arn",
    ):
        assert name in outputs


def test_kms_key_rotates_when_configured(stacks, sample_configs) -> None:
    for key, c in sample_configs.items():
        keys = resources(stacks[key]["algorithm-store"], "aws_kms_key")
        assert len(keys) == (1 if c.store.kms_key else 0)
        for k in keys.values():
            assert k["enable_key_rotation"] is True


def test_kms_key_is_protected_like_the_buckets(stacks, sample_configs) -> None:
    """Noncurrent object versions need the key for as long as they are kept."""
    checked = 0
    for key, c in sample_configs.items():
        stack = stacks[key]["algorithm-store"]
        for k in resources(stack, "aws_kms_key").values():
            assert k["lifecycle"] == {"prevent_destroy": c.store.prevent_destroy}
            assert all(b["lifecycle"] == k["lifecycle"] for b in resources(stack, "aws_s3_bucket").values())
            checked += 1
    assert checked, "no sample config has a KMS key"


@pytest.mark.parametrize(("env", "protected"), [("dev", False), ("staging", True)])
def test_kms_key_protection_follows_the_store(tmp_path: Path, env: str, protected: bool) -> None:
    c = load_variant(
        tmp_path, f"project-sample-{env}", mutate=lambda d: d.setdefault("store", {}).update(encryption="kms")
    )
    stack = synth_one(c, tmp_path / "out")["algorithm-store"]
    assert one(stack, "aws_kms_key")["lifecycle"] == {"prevent_destroy": protected}


@pytest.mark.parametrize(("encryption", "retained"), [("kms", False), ("sse-s3", True), ("sse-s3", False)])
def test_a_retained_store_key_stays_protected_and_readable(tmp_path: Path, encryption: str, retained: bool) -> None:
    """Switching kms -> sse-s3 with kms_key_retained: new objects use SSE-S3, the key stays (protected),
    the repository keeps it (its encryption cannot change in place), readers may still decrypt."""
    c = load_variant(
        tmp_path,
        "project-sample-staging",
        mutate=lambda d: d.setdefault("store", {}).update(
            encryption=encryption, **({"kms_key_retained": True} if retained else {})
        ),
    )
    by_id = synth_one(c, tmp_path / "out")
    store = by_id["algorithm-store"]
    keys = resources(store, "aws_kms_key")
    assert len(keys) == (1 if encryption == "kms" or retained else 0)
    if not keys:
        assert "kms" not in json.dumps(by_id["algorithm-service"]).lower()
        return
    assert next(iter(keys.values()))["lifecycle"] == {"prevent_destroy": True}
    sse = {
        rule["apply_server_side_encryption_by_default"]["sse_algorithm"]
        for body in resources(store, "aws_s3_bucket_server_side_encryption_configuration").values()
        for rule in body["rule"]
    }
    assert sse == ({"aws:kms"} if encryption == "kms" else {"AES256"})
    assert one(store, "aws_ecr_repository")["encryption_configuration"][0]["encryption_type"] == "KMS"
    policies = json.dumps(by_id["algorithm-service"]["data"]["aws_iam_policy_document"])
    assert "kms:Decrypt" in policies and c.names.store_key_alias in policies


def test_a_protected_store_without_a_key_forgets_a_former_key_never_destroys_it(stacks, sample_configs) -> None:
    """prevent_destroy leaves with the resource block: a protected store that no longer declares its key
    has `removed` blocks (destroy = false) for exactly the addresses the key has where it is declared."""
    from algoinfra.components.kms import key_addresses
    from stacks.algorithm_store import STORE_KEY_ID

    key, alias = key_addresses(STORE_KEY_ID)
    seen = set()
    for k, c in sample_configs.items():
        store = stacks[k]["algorithm-store"]
        if c.store.has_key:
            assert {f"aws_kms_key.{n}" for n in resources(store, "aws_kms_key")} == {key}
            assert {f"aws_kms_alias.{n}" for n in resources(store, "aws_kms_alias")} == {alias}
            assert "removed" not in store
            seen.add("key")
        elif c.store.prevent_destroy:
            assert store["removed"] == [
                {"from": key, "lifecycle": {"destroy": False}},
                {"from": alias, "lifecycle": {"destroy": False}},
            ]
            seen.add("removed")
        else:
            assert "removed" not in store  # dev: a throw-away store may delete its key
    assert seen == {"key", "removed"}, seen


def test_samples_follow_the_runbook_cors(stacks, sample_configs) -> None:
    """GET and PUT from any origin, all headers, 3000 s: what the browser application relies on."""
    for key in sample_configs:
        stack = stacks[key]["algorithm-store"]
        for cors in resources(stack, "aws_s3_bucket_cors_configuration").values():
            assert cors["cors_rule"] == [
                {
                    "allowed_headers": ["*"],
                    "allowed_methods": ["GET", "PUT"],
                    "allowed_origins": ["*"],
                    "max_age_seconds": 3000,
                }
            ], key


def test_cors_origins_can_be_narrowed(tmp_path: Path) -> None:
    origins = ["https://app.example.com", "https://admin.example.com"]
    c = load_variant(
        tmp_path, "project-sample-production", mutate=lambda d: d["store"].update(cors_allowed_origins=origins)
    )
    stack = synth_one(c, tmp_path / "out")["algorithm-store"]
    for cors in resources(stack, "aws_s3_bucket_cors_configuration").values():
        assert cors["cors_rule"][0]["allowed_origins"] == origins


def test_new_project_follows_the_runbook_names(tmp_path: Path) -> None:
    def rename(d):
        d["project"] = "project-foo-bar2"
        d["env"] = "staging"

    d = variant_dir(tmp_path / "configs", mutate=rename)
    (d / "project-sample-dev-algorithm-server-infra.yml").rename(d / f"project-foo-bar2-staging{cfg.CONFIG_SUFFIX}")
    c = cfg.load_project(d, "project-foo-bar2", "staging", backend_path=BACKEND)
    stack = synth_one(c, tmp_path / "out")["algorithm-store"]
    names = sorted(b["bucket"] for b in resources(stack, "aws_s3_bucket").values())
    assert names == ["project-foo-bar2-staging", "project-foo-bar2-staging-batch-trigger"]
    assert one(stack, "aws_ecr_repository")["name"] == "project-foo-bar2-staging-algorithm"
    # prevent_destroy defaults on outside dev
    assert all(b["lifecycle"]["prevent_destroy"] for b in resources(stack, "aws_s3_bucket").values())


# --- account-baseline ---------------------------------------------------------


def test_baseline_is_off_where_the_config_says_so(stacks, sample_configs) -> None:
    for key, c in sample_configs.items():
        assert ("account-baseline" in stacks[key]) is c.account.baseline.enabled


def test_baseline_secret_container_and_credential(stacks, sample_configs) -> None:
    enabled = [k for k, c in sample_configs.items() if c.account.baseline.enabled]
    assert enabled, "no sample exercises account-baseline"
    for key in enabled:
        stack = stacks[key]["account-baseline"]
        secret = one(stack, "aws_secretsmanager_secret")
        assert secret["name"] == GITHUB_TOKEN_SECRET_NAME
        assert "aws_secretsmanager_secret_version" not in stack.get("resource", {}), "the value is the operator's"
        [(version_id, version)] = data_sources(stack, "aws_secretsmanager_secret_version").items()
        assert (
            version["secret_id"]
            == f"${{aws_secretsmanager_secret.{next(iter(resources(stack, 'aws_secretsmanager_secret')))}.id}}"
        )
        cred = one(stack, "aws_codebuild_source_credential")
        assert (cred["server_type"], cred["auth_type"]) == ("GITHUB", "PERSONAL_ACCESS_TOKEN")
        assert cred["token"] == f"${{data.aws_secretsmanager_secret_version.{version_id}.secret_string}}"


def test_baseline_without_credential(tmp_path: Path) -> None:
    d = variant_dir(tmp_path / "configs", "project-sample-staging")
    accounts = yaml.safe_load((d / cfg.ACCOUNTS_FILE).read_text())
    account_id = sample_data("project-sample-staging")["account_id"]
    accounts["accounts"][account_id]["baseline"] = {"codebuild_source_credential": False}
    (d / cfg.ACCOUNTS_FILE).write_text(yaml.safe_dump(accounts))
    c = cfg.load_file(d / f"project-sample-staging{cfg.CONFIG_SUFFIX}", backend_path=BACKEND)
    stack = synth_one(c, tmp_path / "out")["account-baseline"]
    assert one(stack, "aws_secretsmanager_secret")["name"] == GITHUB_TOKEN_SECRET_NAME
    assert "aws_codebuild_source_credential" not in stack["resource"]
    assert "data" not in stack
