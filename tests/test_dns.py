"""algorithm-dns: the aliased platform provider, the authorization on it, the association on ours."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from algoinfra import config as cfg
from tests.conftest import synth_one
from tests.helpers import BACKEND, SAMPLE_KEYS, add_account, one, resources, variant_dir

STACK = "algorithm-dns"


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_cross_account_association(stacks, sample_configs, key) -> None:
    c, stack = sample_configs[key], stacks[key][STACK]
    aliased = [p for p in stack["provider"]["aws"] if "alias" in p]
    [platform] = aliased
    assert platform["alias"] == "platform"
    assert platform["allowed_account_ids"] == [c.platform.account_id] != [c.account_id]
    assert platform["assume_role"][0]["role_arn"] == c.platform.role_arn
    auth_id, auth = next(iter(resources(stack, "aws_route53_vpc_association_authorization").items()))
    assert auth["provider"] == "aws.platform"
    assert auth["zone_id"] == c.platform.private_hosted_zone_id
    assert auth["vpc_region"] == c.region
    assert auth["vpc_id"].startswith(
        "${data.terraform_remote_state.cross-stack-reference-input-algorithm-server-infra.outputs."
    )
    assoc = one(stack, "aws_route53_zone_association")
    assert "provider" not in assoc
    # Referencing the authorization orders create (after it) and destroy (before it).
    assert assoc["zone_id"] == f"${{aws_route53_vpc_association_authorization.{auth_id}.zone_id}}"
    assert assoc["vpc_id"] == f"${{aws_route53_vpc_association_authorization.{auth_id}.vpc_id}}"


def test_runbook_zone_ids(sample_configs) -> None:
    zones = {c.env: c.platform.private_hosted_zone_id for c in sample_configs.values()}
    assert zones == {
        "dev": "Z01071141WW60DUCZDB4U",
        "staging": "Z0172116O1AO08F4AZ6X",
        "production": "Z03857753ADXO7NNGODT0",
    }


def test_profile_instead_of_role(tmp_path: Path) -> None:
    d = variant_dir(tmp_path / "c")
    plat = yaml.safe_load((d / "platform.yml").read_text())
    plat["environments"]["dev"]["access"] = {"profile": "aces-platform-dev"}
    (d / "platform.yml").write_text(yaml.safe_dump(plat))
    c = cfg.load_file(d / f"project-sample-dev{cfg.CONFIG_SUFFIX}", backend_path=BACKEND)
    stack = synth_one(c, tmp_path / "o")[STACK]
    [platform] = [p for p in stack["provider"]["aws"] if "alias" in p]
    assert platform["profile"] == "aces-platform-dev" and "assume_role" not in platform


def test_same_account_needs_no_authorization(tmp_path: Path, sample_configs) -> None:
    platform_account = sample_configs["project-sample-dev"].platform.account_id
    add_account(variant_dir(tmp_path, mutate=lambda d: d.update(account_id=platform_account)), platform_account)
    c = cfg.load_file(tmp_path / f"project-sample-dev{cfg.CONFIG_SUFFIX}", backend_path=BACKEND)
    stack = synth_one(c, tmp_path / "o")[STACK]
    assert [p for p in stack["provider"]["aws"] if "alias" in p] == []
    assert "aws_route53_vpc_association_authorization" not in stack["resource"]
    assoc = one(stack, "aws_route53_zone_association")
    assert assoc["zone_id"] == c.platform.private_hosted_zone_id
