"""Adopting what the old runbook built (issue 17): import blocks for exactly the adopted resources,
never without ``adopt`` (the rehearsal of an adopting config: tests/test_rehearse_adopt.py)."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from algoinfra import config as cfg
from algoinfra.naming import GITHUB_TOKEN_SECRET_NAME
from tests.conftest import synth_one
from tests.helpers import BACKEND, ROOT, SAMPLE_KEYS, data_sources, variant_dir

PROJECT_FLAGS = ("data_bucket", "trigger_bucket", "ecr_repository")
ACCOUNT_FLAGS = ("github_token_secret", "codebuild_source_credential")


def adopting_config(tmp: Path, key: str, project: Iterable[str] = (), account: Iterable[str] = ()) -> cfg.ProjectConfig:
    """A copy of a sample config (and of accounts.yml) with these ``adopt`` flags set."""
    project, account = list(project), list(account)
    d = variant_dir(tmp / "configs", key, mutate=lambda data: data.update(adopt=dict.fromkeys(project, True)))
    accounts = yaml.safe_load((d / cfg.ACCOUNTS_FILE).read_text())
    account_id = yaml.safe_load((d / f"{key}{cfg.CONFIG_SUFFIX}").read_text())["account_id"]
    if account:
        accounts["accounts"][account_id]["adopt"] = dict.fromkeys(account, True)
    (d / cfg.ACCOUNTS_FILE).write_text(yaml.safe_dump(accounts))
    return cfg.load_file(d / f"{key}{cfg.CONFIG_SUFFIX}", backend_path=BACKEND)


@dataclass(frozen=True)
class Expected:
    stack: str
    type: str
    id: str | None  # None: found at plan time (a data source's ARN)


def expected_imports(c: cfg.ProjectConfig) -> dict[str, Expected]:
    """What each adopt flag set in ``c`` must import, by flag."""
    names = c.names
    table = {
        "data_bucket": Expected("algorithm-store", "aws_s3_bucket", names.data_bucket),
        "trigger_bucket": Expected("algorithm-store", "aws_s3_bucket", names.trigger_bucket),
        "ecr_repository": Expected("algorithm-store", "aws_ecr_repository", names.ecr_repository),
        "github_token_secret": Expected("account-baseline", "aws_secretsmanager_secret", None),
        "codebuild_source_credential": Expected(
            "account-baseline",
            "aws_codebuild_source_credential",
            f"arn:aws:codebuild:{c.region}:{c.account_id}:token/github",
        ),
    }
    flags = {f for f in PROJECT_FLAGS if getattr(c.adopt, f)} | {
        f for f in ACCOUNT_FLAGS if getattr(c.account.adopt, f)
    }
    return {f: table[f] for f in flags}


def import_blocks(stacks: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(stack id, import block, the resource body it imports) of every stack; the address must resolve."""
    found = []
    for stack_id, stack in stacks.items():
        for block in stack.get("import", []):
            rtype, name = block["to"].split(".")
            body = stack.get("resource", {}).get(rtype, {}).get(name)
            assert body is not None, f"{stack_id}: import to {block['to']}, which the stack does not declare"
            found.append((stack_id, block, body))
    return found


def check_imports(c: cfg.ProjectConfig, stacks: dict[str, dict[str, Any]]) -> None:
    """The stacks import exactly what ``c`` adopts, each from the right id."""
    expected = expected_imports(c)
    blocks = import_blocks(stacks)
    assert len(blocks) == len(expected), [b["to"] for _, b, _ in blocks]
    matched = set()
    for stack_id, block, body in blocks:
        assert set(block) == {"to", "id"}, "every adopted resource is on the default provider"
        rtype = block["to"].split(".")[0]
        if rtype == "aws_secretsmanager_secret":
            flag = "github_token_secret"
            assert body["name"] == GITHUB_TOKEN_SECRET_NAME
            ref = block["id"]
            assert ref.startswith("${data.aws_secretsmanager_secret.") and ref.endswith(".arn}"), ref
            lookup = data_sources(stacks[stack_id], "aws_secretsmanager_secret")[ref.split(".")[2]]
            assert lookup["name"] == GITHUB_TOKEN_SECRET_NAME, "the secret is found by its name at plan time"
        elif rtype == "aws_codebuild_source_credential":
            flag = "codebuild_source_credential"
            assert body["server_type"] == "GITHUB"
        else:
            name = body["bucket"] if rtype == "aws_s3_bucket" else body["name"]
            assert block["id"] == name, "buckets and the repository are imported by their name"
            flag = {c.names.data_bucket: "data_bucket", c.names.trigger_bucket: "trigger_bucket"}.get(
                name, "ecr_repository"
            )
        want = expected[flag]
        assert (stack_id, rtype) == (want.stack, want.type), flag
        if want.id is not None:
            assert block["id"] == want.id, flag
        matched.add(flag)
    assert matched == set(expected)
    if "github_token_secret" not in expected:
        for stack in stacks.values():
            assert not data_sources(stack, "aws_secretsmanager_secret"), "no secret lookup without adopt"


# --- synthesized output ---------------------------------------------------------------------------------------------


def test_every_config_imports_exactly_what_it_adopts(stacks, sample_configs) -> None:
    for key, c in sample_configs.items():
        check_imports(c, stacks[key])


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_the_samples_adopt_nothing(stacks, sample_configs, key) -> None:
    """Their snapshots stay those of a new environment: no import block, no secret lookup."""
    assert not expected_imports(sample_configs[key])
    for stack_id, stack in stacks[key].items():
        assert "import" not in stack, stack_id
        assert not data_sources(stack, "aws_secretsmanager_secret"), stack_id


VARIANTS = {
    "data-bucket": ("project-sample-staging", ["data_bucket"], []),
    "trigger-bucket": ("project-sample-staging", ["trigger_bucket"], []),
    "repository": ("project-sample-staging", ["ecr_repository"], []),
    "token-secret": ("project-sample-staging", [], ["github_token_secret"]),
    "source-credential": ("project-sample-staging", [], ["codebuild_source_credential"]),
    "everything": ("project-sample-staging", PROJECT_FLAGS, ACCOUNT_FLAGS),
    "store-without-baseline": ("project-sample-dev", PROJECT_FLAGS, []),
    "store-with-kms-key": ("project-sample-production", ["data_bucket", "trigger_bucket"], []),
    "nothing-explicitly": ("project-sample-staging", [], []),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_import_blocks_for_exactly_the_adopted_resources(tmp_path: Path, variant: str) -> None:
    key, project, account = VARIANTS[variant]
    c = adopting_config(tmp_path, key, project, account)
    stacks = synth_one(c, tmp_path / "out")
    check_imports(c, stacks)
    if "github_token_secret" in account:
        assert "account-baseline" in stacks


def test_adopting_changes_nothing_but_the_imports(tmp_path: Path, stacks) -> None:
    """Same resources, same logical ids, same settings: adopting only adds the import blocks
    (and the secret's lookup); the sub-resources are declared, not imported, and take over."""
    c = adopting_config(tmp_path, "project-sample-staging", PROJECT_FLAGS, ACCOUNT_FLAGS)
    adopted = synth_one(c, tmp_path / "out")
    plain = stacks["project-sample-staging"]
    assert set(adopted) == set(plain)
    for stack_id, stack in adopted.items():
        stack = json.loads(json.dumps(stack))
        stack.pop("import", None)
        stack.get("data", {}).pop("aws_secretsmanager_secret", None)
        if stack.get("data") == {}:
            del stack["data"]
        overrides = stack["//"]["metadata"].get("overrides", {}).get("stack", [])
        if "import" in overrides:
            overrides.remove("import")
        assert stack == plain[stack_id], stack_id


def test_the_helper_names_an_aliased_provider_and_refuses_a_second_import(tmp_path: Path) -> None:
    from cdktf import App, TerraformStack
    from cdktf_cdktf_provider_aws.provider import AwsProvider
    from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket

    from algoinfra.components.adopt import import_existing

    app = App(outdir=str(tmp_path))
    stack = TerraformStack(app, "demo")
    AwsProvider(stack, "aws", region="ap-northeast-1")
    other = AwsProvider(stack, "aws_other", region="us-east-1", alias="other")
    here = S3Bucket(stack, "here", bucket="demo-here")
    there = S3Bucket(stack, "there", bucket="demo-there", provider=other)
    import_existing(here, "demo-here")
    import_existing(there, "demo-there")
    with pytest.raises(ValueError, match=r"aws_s3_bucket\.here is imported twice"):
        import_existing(here, "demo-here")
    app.synth()
    synthesized = json.loads((tmp_path / "stacks" / "demo" / "cdk.tf.json").read_text())
    assert synthesized["import"] == [
        {"to": "aws_s3_bucket.here", "id": "demo-here"},
        {"to": "aws_s3_bucket.there", "id": "demo-there", "provider": "aws.other"},
    ]


def _calls_of(name: str, paths: Iterable[Path]) -> list[str]:
    found = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == name:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_no_code_uses_cdktfs_import_from() -> None:
    """``import_from`` adds a synth-time check that runs ``terraform version``: a machine without
    Terraform could not synthesize. Import blocks come from algoinfra.components.adopt only."""
    sources = [ROOT / "main.py", *(ROOT / "algoinfra").rglob("*.py"), *(ROOT / "stacks").rglob("*.py")]
    assert _calls_of("add_override", sources), "the scan finds method calls"
    assert _calls_of("import_from", sources) == []
