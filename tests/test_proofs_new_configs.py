"""Issues 14 and 15 "Done when" on configs the samples do not cover, proven by Terraform itself.

A config dir like ``configs/`` plus another project in three envs: dev in the shared dev account;
staging with ``store.encryption: kms`` on a platform env with ``egress: true``, in a new account whose
GitHub credential is not there yet (no image build); production with
``store`` and ``job`` left at their defaults on a platform env that does not auto-accept transit
gateway attachments (new accounts for both, listed in accounts.yml). The whole dir is loaded (VPCs
must not overlap the samples'), the new configs are synthesized once; staging and production are
rehearsed with the full cycle (init to destroy), and each stack's plan JSON is read back from the
rehearsal's own plan file. The dev config differs from the dev sample only in names and CIDR: it is
checked on its synthesized JSON (its rehearsal would repeat the sample's at ~13 s of CPU).
"""

from __future__ import annotations

import fnmatch
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from algoinfra import config as cfg
from algoinfra.rehearse.rehearsal import Rehearsal, StackReport
from algoinfra.rehearse.terraform import install
from algoinfra.synth import synthesize
from stacks.app import synth_config
from stacks.base import PLATFORM_ALIAS, TERRAFORM_REQUIRED_VERSION
from tests.helpers import BACKEND, CONFIG_DIR, SAMPLE_KEYS, read_stacks, sample_data
from tests.test_literal_text import stack_problems
from tests.test_network import EC2_DESCRIPTION, ec2_descriptions
from tests.test_proofs_samples import EVENT_TARGET, REVIEWED, reviewed_values, sensitivity_problems

PROJECT = "project-other"
STAGING_ACCOUNT, PRODUCTION_ACCOUNT = "200000000012", "200000000013"


def _project(key: str, **changes: Any) -> dict[str, Any]:
    data = sample_data(key)
    data.update(project=PROJECT, github={**data["github"], "repository": f"aces-inc/{PROJECT}"})
    for name, value in changes.items():
        if value is None:
            data.pop(name)
        else:
            data[name] = value
    return data


def new_config_dir(root: Path) -> Path:
    """The samples of ``configs/`` with project-other in dev, staging and production (see the module
    docstring). Only the samples: a project an estate adds must not collide with these fixed CIDRs."""
    d = root / "configs"
    d.mkdir(parents=True)
    for name in (cfg.PLATFORM_FILE, cfg.ACCOUNTS_FILE, *(f"{k}{cfg.CONFIG_SUFFIX}" for k in SAMPLE_KEYS)):
        shutil.copy(CONFIG_DIR / name, d / name)
    dev = _project("project-sample-dev")
    dev["network"] = {**dev["network"], "vpc_cidr": "10.80.0.0/20"}
    staging = _project("project-sample-staging", account_id=STAGING_ACCOUNT, store={"encryption": "kms"})
    staging["network"] = {**staging["network"], "vpc_cidr": "10.81.0.0/20"}
    production = _project("project-sample-production", account_id=PRODUCTION_ACCOUNT, store=None, job=None)
    # Defaults for the job: no GPU, so no GPU family either (an NVIDIA host for a CPU job is allowed, but wasteful).
    production["compute"] = {"provisioning": "SPOT", "on_demand_fallback": True, "max_vcpus": 16}
    production["network"] = {
        **production["network"],
        "vpc_cidr": "10.82.0.0/20",
        # Only the accepter in the platform account may set these on a shared gateway.
        "transit_gateway": {"default_route_table_association": True, "default_route_table_propagation": True},
    }
    for env, data in (("dev", dev), ("staging", staging), ("production", production)):
        (d / f"{PROJECT}-{env}{cfg.CONFIG_SUFFIX}").write_text(yaml.safe_dump(data, sort_keys=False))
    accounts = yaml.safe_load((d / cfg.ACCOUNTS_FILE).read_text())
    # A new account's first deploy (README, the account baseline): no GitHub credential yet.
    accounts["accounts"][STAGING_ACCOUNT] = {
        "name": f"{PROJECT} staging",
        "baseline": {"codebuild_source_credential": False},
    }
    accounts["accounts"][PRODUCTION_ACCOUNT] = {"name": f"{PROJECT} production"}
    (d / cfg.ACCOUNTS_FILE).write_text(yaml.safe_dump(accounts))
    platform = yaml.safe_load((d / cfg.PLATFORM_FILE).read_text())
    platform["environments"]["staging"]["egress"] = True
    platform["environments"]["production"]["transit_gateway_auto_accept"] = False
    (d / cfg.PLATFORM_FILE).write_text(yaml.safe_dump(platform))
    return d


@dataclass
class Rehearsed:
    config_dir: Path
    configs: dict[str, cfg.ProjectConfig]  # key -> config
    stacks: dict[str, dict[str, dict[str, Any]]]  # key -> stack id -> synthesized JSON
    reports: list[StackReport]
    plans: dict[str, dict[str, dict[str, Any]]]  # key -> stack id -> the rehearsal's plan JSON


@pytest.fixture(scope="module")
def rehearsed(tmp_path_factory: pytest.TempPathFactory) -> Rehearsed:
    tmp = tmp_path_factory.mktemp("proofs-new")
    config_dir = new_config_dir(tmp)
    every = cfg.load_all(config_dir, backend_path=BACKEND)  # the samples too: no overlap, one account list
    configs = {c.key: c for c in every if c.project == PROJECT}
    assert sorted(configs) == [f"{PROJECT}-{env}" for env in ("dev", "production", "staging")]
    out, checked_only = tmp / "cdktf.out", tmp / "cdktf.out.dev"
    synthesize([c for c in configs.values() if c.env != "dev"], out, build=synth_config, per_config_dirs=True)
    synthesize([c for c in configs.values() if c.env == "dev"], checked_only, build=synth_config, per_config_dirs=True)
    work = tmp / "work"
    with install(work / "standin") as tf:
        reports = Rehearsal(tf, work, jobs=2).run(out)
        plans: dict[str, dict[str, dict[str, Any]]] = {}
        with tf.session() as session:
            # The rehearsal planned each stack to tfplan after its dependencies were applied, then applied it.
            for planfile in sorted(work.glob("*/copy/stacks/*/tfplan")):
                key = planfile.parents[3].name.split("-", 1)[1]
                shown = session.run("show", "-json", "tfplan", cwd=planfile.parent)
                assert shown.ok, shown.describe()
                plans.setdefault(key, {})[planfile.parent.name] = shown.json()
    stacks = {key: read_stacks((checked_only if c.env == "dev" else out) / key) for key, c in configs.items()}
    return Rehearsed(config_dir, configs, stacks, reports, plans)


def test_every_new_config_rehearses_clean_from_init_to_destroy(rehearsed: Rehearsed) -> None:
    done = {(r.config, r.stack): r for r in rehearsed.reports}
    rehearsed_keys = {f"{PROJECT}-staging", f"{PROJECT}-production"}
    assert set(done) == {(key, stack) for key in rehearsed_keys for stack in rehearsed.stacks[key]}
    for (key, stack), r in done.items():
        assert r.planned > 0 and r.planned == r.applied == r.destroyed, (key, stack, r)
    assert {key: set(plans) for key, plans in rehearsed.plans.items()} == {
        key: set(rehearsed.stacks[key]) for key in rehearsed_keys
    }, "one plan per stack, read back"


def test_no_new_config_plan_shows_a_sensitive_policy_pattern_or_job_definition(rehearsed: Rehearsed) -> None:
    problems = {
        (key, stack): found
        for key, plans in rehearsed.plans.items()
        for stack, plan in plans.items()
        if (found := sensitivity_problems(plan))
    }
    assert problems == {}
    for key, plans in rehearsed.plans.items():
        values = {a: v for plan in plans.values() for a, v in reviewed_values(plan).items()}
        assert {a.split(".", 1)[0] for a in values} >= set(REVIEWED) - {"aws_kms_key"} | {EVENT_TARGET}, key
        unknown = [a for a, v in values.items() if v is None and not a.startswith(EVENT_TARGET)]
        assert unknown == [], key


def test_literal_text_required_version_and_ec2_descriptions(rehearsed: Rehearsed) -> None:
    for key, by_id in rehearsed.stacks.items():
        assert stack_problems(by_id) == {}, key
        assert {s: st["terraform"].get("required_version") for s, st in by_id.items()} == dict.fromkeys(
            by_id, TERRAFORM_REQUIRED_VERSION
        ), key
        found = ec2_descriptions(by_id)
        assert found and [f for f in found if not EC2_DESCRIPTION.match(f[2])] == [], key
    staging_rules = {rid for _, rid, _ in ec2_descriptions(rehearsed.stacks[f"{PROJECT}-staging"])}
    assert any("https_to_internet" in r for r in staging_rules), "the staging platform provides egress"


def _changes(plan: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [rc["change"]["after"] for rc in plan["resource_changes"] if rc["type"] == rtype]


def test_staging_egress_routes_to_the_platform(rehearsed: Rehearsed) -> None:
    plan = rehearsed.plans[f"{PROJECT}-staging"]["algorithm-server-infra"]
    c = rehearsed.configs[f"{PROJECT}-staging"]
    to_internet = [r for r in _changes(plan, "aws_route") if r["destination_cidr_block"] == "0.0.0.0/0"]
    assert len(to_internet) == len(c.network.availability_zones)
    assert {r["transit_gateway_id"] for r in to_internet} == {c.platform.transit_gateway_id}


def test_the_kms_key_of_a_protected_store_is_protected(rehearsed: Rehearsed) -> None:
    key = f"{PROJECT}-staging"
    assert rehearsed.configs[key].store.prevent_destroy and rehearsed.configs[key].store.kms_key
    store = rehearsed.stacks[key]["algorithm-store"]
    [kms] = store["resource"]["aws_kms_key"].values()
    assert kms["lifecycle"]["prevent_destroy"] is True
    assert all(b["lifecycle"]["prevent_destroy"] is True for b in store["resource"]["aws_s3_bucket"].values())
    # What the buckets and the repository are encrypted with, as Terraform read it: the store key.
    plan = rehearsed.plans[key]["algorithm-store"]
    [kms_address] = [rc["address"] for rc in plan["resource_changes"] if rc["type"] == "aws_kms_key"]
    config = {r["address"]: r for r in plan["configuration"]["root_module"]["resources"]}
    encrypted = [
        rc
        for rc in plan["resource_changes"]
        if rc["type"] in ("aws_s3_bucket_server_side_encryption_configuration", "aws_ecr_repository")
    ]
    assert len(encrypted) == 3
    for rc in encrypted:
        assert f"{kms_address}.arn" in json.dumps(config[rc["address"]]["expressions"]), rc["address"]
    for sse in _changes(plan, "aws_s3_bucket_server_side_encryption_configuration"):
        assert sse["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == "aws:kms"


def test_cors_follows_the_runbook(rehearsed: Rehearsed) -> None:
    for key, plans in rehearsed.plans.items():
        rules = [
            r
            for cors in _changes(plans["algorithm-store"], "aws_s3_bucket_cors_configuration")
            for r in cors["cors_rule"]
        ]
        assert len(rules) == 2, key  # data and trigger buckets
        for rule in rules:
            assert rule["allowed_origins"] == ["*"], key
            assert sorted(rule["allowed_methods"]) == ["GET", "PUT"] and rule["max_age_seconds"] == 3000, key


def test_the_default_image_tag_stays_overwritable(rehearsed: Rehearsed) -> None:
    """production with store and job at defaults: the repository is immutable except for job.image_tag,
    which CodeBuild pushes on every build."""
    for key, plans in rehearsed.plans.items():
        c = rehearsed.configs[key]
        [repo] = _changes(plans["algorithm-store"], "aws_ecr_repository")
        assert repo["image_tag_mutability"] == "IMMUTABLE_WITH_EXCLUSION", key
        filters = [(f["filter"], f["filter_type"]) for f in repo["image_tag_mutability_exclusion_filter"]]
        assert all(kind == "WILDCARD" for _, kind in filters), key
        assert any(fnmatch.fnmatchcase(c.job.image_tag, pattern) for pattern, _ in filters), key
        assert not any(fnmatch.fnmatchcase("0123abc", pattern) for pattern, _ in filters), "commit tags immutable"
    production = rehearsed.configs[f"{PROJECT}-production"]
    written = yaml.safe_load((rehearsed.config_dir / f"{production.key}{cfg.CONFIG_SUFFIX}").read_text())
    assert "store" not in written and "job" not in written and production.job.image_tag == "latest"


def test_the_image_build_waits_for_the_accounts_github_credential(rehearsed: Rehearsed) -> None:
    """staging's new account has no credential yet: its algorithm-service plans without the CodeBuild
    project (CodeBuild would refuse it) and rehearses clean; production's account has one, and a build."""
    for key, plans in rehearsed.plans.items():
        c = rehearsed.configs[key]
        projects = _changes(plans["algorithm-service"], "aws_codebuild_project")
        credentials = _changes(plans["account-baseline"], "aws_codebuild_source_credential")
        assert len(projects) == len(credentials) == (1 if c.account.has_github_credential else 0), key
    assert {c.env: c.account.has_github_credential for c in rehearsed.configs.values() if c.env != "dev"} == {
        "staging": False,
        "production": True,
    }


def test_the_accepter_runs_in_the_platform_account_and_routes_wait_for_it(rehearsed: Rehearsed) -> None:
    key = f"{PROJECT}-production"
    c = rehearsed.configs[key]
    assert not c.platform.transit_gateway_auto_accept and c.platform.account_id != c.account_id
    infra = rehearsed.stacks[key]["algorithm-server-infra"]
    [(accepter_id, accepter)] = infra["resource"]["aws_ec2_transit_gateway_vpc_attachment_accepter"].items()
    assert accepter["provider"] == f"aws.{PLATFORM_ALIAS}"
    [platform_provider] = [p for p in infra["provider"]["aws"] if p.get("alias") == PLATFORM_ALIAS]
    assert platform_provider["allowed_account_ids"] == [c.platform.account_id]
    # As Terraform read it: the accepter's provider, and every route depending on the accepter.
    plan = rehearsed.plans[key]["algorithm-server-infra"]
    config = {r["address"]: r for r in plan["configuration"]["root_module"]["resources"]}
    address = f"aws_ec2_transit_gateway_vpc_attachment_accepter.{accepter_id}"
    assert config[address]["provider_config_key"] == f"aws.{PLATFORM_ALIAS}"
    [after] = _changes(plan, "aws_ec2_transit_gateway_vpc_attachment_accepter")
    assert after["transit_gateway_default_route_table_association"] is True
    [attachment] = _changes(plan, "aws_ec2_transit_gateway_vpc_attachment")
    assert attachment.get("transit_gateway_default_route_table_association") is None, "the accepter sets them"
    routes = [a for a, r in config.items() if r["type"] == "aws_route"]
    assert len(routes) == len(c.network.availability_zones) * len(c.platform.routed_cidrs)
    assert all(address in config[a].get("depends_on", []) for a in routes), routes
    # A project whose platform auto-accepts has no accepter.
    for other in (f"{PROJECT}-dev", f"{PROJECT}-staging"):
        assert (
            "aws_ec2_transit_gateway_vpc_attachment_accepter"
            not in rehearsed.stacks[other]["algorithm-server-infra"]["resource"]
        )
