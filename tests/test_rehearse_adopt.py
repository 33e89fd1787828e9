"""The rehearsal of a config that adopts what the old runbook built (issue 17): Terraform imports the
adopted resources in the first plan, creates the settings, and the whole cycle runs clean."""

from __future__ import annotations

from typing import Any

import pytest

from algoinfra.naming import GITHUB_TOKEN_SECRET_NAME
from tests.conftest import synth_one
from tests.test_adopt import ACCOUNT_FLAGS, PROJECT_FLAGS, adopting_config, import_blocks

SETTINGS = (
    "aws_s3_bucket_ownership_controls",
    "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_server_side_encryption_configuration",
    "aws_s3_bucket_versioning",
    "aws_s3_bucket_cors_configuration",
    "aws_s3_bucket_lifecycle_configuration",
    "aws_s3_bucket_notification",
    "aws_s3_bucket_policy",
    "aws_ecr_lifecycle_policy",
)


@pytest.fixture(scope="module")
def adopting_rehearsal(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The full rehearsal of a config that adopts everything, and the first plan of each stack."""
    from algoinfra.rehearse.rehearsal import Rehearsal
    from algoinfra.rehearse.terraform import install

    tmp = tmp_path_factory.mktemp("adopt-rehearsal")
    c = adopting_config(tmp, "project-sample-staging", PROJECT_FLAGS, ACCOUNT_FLAGS)
    out = tmp / "cdktf.out"
    stacks = synth_one(c, out)
    work = tmp / "work"
    with install(tmp / "standin") as tf:
        reports = Rehearsal(tf, work, jobs=2).run(out)
        # Each stack's working copy keeps the plan the rehearsal applied: the first one, before any state.
        plans = {p.parent.name: tf.show_plan(p.parent) for p in work.glob("*/copy/stacks/*/tfplan")}
    return c, stacks, reports, plans


def test_an_adopting_config_rehearses_clean(adopting_rehearsal) -> None:
    _, stacks, reports, plans = adopting_rehearsal  # Rehearsal.run raises RehearsalFailed naming any failed step
    assert {r.stack for r in reports} == set(stacks) == set(plans)
    for r in reports:
        assert r.planned > 0 and r.applied > 0 and r.destroyed > 0, r.line()


def test_the_first_plan_imports_the_adopted_resources_instead_of_creating_them(adopting_rehearsal) -> None:
    c, stacks, _, plans = adopting_rehearsal
    importing = {
        (stack_id, rc["address"]): rc["change"]
        for stack_id, plan in plans.items()
        for rc in plan["resource_changes"]
        if rc["change"].get("importing")
    }
    blocks = {(stack_id, block["to"]): block["id"] for stack_id, block, _ in import_blocks(stacks)}
    assert set(importing) == set(blocks), "exactly the adopted resources are imported"
    assert len(importing) == len(PROJECT_FLAGS + ACCOUNT_FLAGS)
    for (stack_id, address), change in importing.items():
        rtype = address.split(".")[0]
        imported_id = change["importing"]["id"]
        if rtype == "aws_secretsmanager_secret":  # the ARN the data source found by name
            assert imported_id.startswith(
                f"arn:aws:secretsmanager:{c.region}:{c.account_id}:secret:{GITHUB_TOKEN_SECRET_NAME}-"
            )
        else:
            assert imported_id == blocks[(stack_id, address)]
        if rtype == "aws_codebuild_source_credential":
            # AWS never returns the token: the provider re-creates the credential with the secret's value.
            assert change["actions"] == ["delete", "create"], address
            assert ["token"] in change["replace_paths"], address
        else:
            assert change["actions"] in (["no-op"], ["update"]), (address, change["actions"])
    settings = [
        (rc["address"], rc["change"]["actions"])
        for rc in plans["algorithm-store"]["resource_changes"]
        if rc["type"] in SETTINGS
    ]
    assert {a.split(".")[0] for a, _ in settings} == set(SETTINGS)
    assert all(actions == ["create"] for _, actions in settings), "the settings are not imported: they take over"
