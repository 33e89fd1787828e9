"""Plans a reviewer can read: no IAM policy, event pattern or job definition depends on a
sensitive value (CDKTF makes cross-stack outputs sensitive), and the deploy order survives
stacks that build ARNs from names instead of referencing each other."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from algoinfra import config as cfg
from algoinfra.naming import Arns, partition
from stacks.app import STACK_IDS
from stacks.base import BaseStack, is_secret_reference
from tests.conftest import synth_one
from tests.helpers import BACKEND, SAMPLE_KEYS, load_sample, variant_dir, walk_strings
from tests.test_literal_text import stack_problems

REF = re.compile(
    r"\$\{(?:data\.terraform_remote_state\.cross-stack-reference-input-(?P<stack>[a-z0-9-]+)"
    r"\.outputs\.(?P<output>[A-Za-z0-9_-]+)"
    r"|(?P<local>(?:data\.)?aws_[a-z0-9_]+\.[A-Za-z0-9_-]+)\.(?P<attr>[A-Za-z0-9_.\[\]]+))\}"
)

# What a reviewer must be able to read in a plan.
REVIEWED = (
    ("data", "aws_iam_policy_document"),
    ("resource", "aws_iam_role"),
    ("resource", "aws_iam_role_policy"),
    ("resource", "aws_s3_bucket_policy"),
    ("resource", "aws_cloudwatch_event_rule"),
    ("resource", "aws_batch_job_definition"),
)


def body_of(stack: dict[str, Any], address: str) -> Any:
    parts = address.split(".")
    if parts[0] == "data":
        return stack["data"][parts[1]][parts[2]]
    return stack["resource"][parts[0]][parts[1]]


def sensitive_sources(by_id: dict[str, dict[str, Any]], stack_id: str, value: Any, seen: set[str]) -> set[str]:
    """Every sensitive value that ``value`` depends on, following references within the stack."""
    stack, found = by_id[stack_id], set()
    for text in walk_strings(value):
        for m in REF.finditer(text):
            if m["stack"]:
                output = by_id[m["stack"]]["output"][m["output"]]
                if output.get("sensitive"):
                    found.add(f"{m['stack']}: output {m['output']}")
                continue
            if is_secret_reference(f"{m['local']}.{m['attr']}"):
                found.add(f"{stack_id}: {m['local']}.{m['attr']}")
            if m["local"] not in seen:
                seen.add(m["local"])
                found |= sensitive_sources(by_id, stack_id, body_of(stack, m["local"]), seen)
    return found


def reviewed_problems(by_id: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    problems = {}
    for stack_id, stack in by_id.items():
        for block, rtype in REVIEWED:
            for name, body in stack.get(block, {}).get(rtype, {}).items():
                if found := sensitive_sources(by_id, stack_id, body, set()):
                    problems[f"{stack_id}: {rtype}.{name}"] = found
    return problems


def test_no_policy_pattern_or_job_definition_depends_on_a_sensitive_value(stacks) -> None:
    assert {key: p for key, by_id in stacks.items() if (p := reviewed_problems(by_id))} == {}


def test_the_check_follows_references_to_a_sensitive_value() -> None:
    """The check must be able to fail: a policy whose document names a role whose name is sensitive."""
    remote = "${data.terraform_remote_state.cross-stack-reference-input-producer.outputs.name}"
    by_id = {
        "producer": {"output": {"name": {"value": "${aws_s3_bucket.b.bucket}", "sensitive": True}}},
        "consumer": {
            "data": {"aws_iam_policy_document": {"doc": {"statement": [{"resources": ["${aws_iam_role.r.arn}"]}]}}},
            "resource": {"aws_iam_role": {"r": {"name": remote}}},
        },
    }
    assert reviewed_problems(by_id) == {
        "consumer: aws_iam_policy_document.doc": {"producer: output name"},
        "consumer: aws_iam_role.r": {"producer: output name"},
    }
    by_id["producer"]["output"]["name"]["sensitive"] = False
    assert reviewed_problems(by_id) == {}
    by_id["consumer"]["resource"]["aws_iam_role"]["r"]["name"] = (
        "${data.aws_secretsmanager_secret_version.v.secret_string}"
    )
    by_id["consumer"]["data"]["aws_secretsmanager_secret_version"] = {"v": {"secret_id": "x"}}
    assert reviewed_problems(by_id)["consumer: aws_iam_role.r"] == {
        "consumer: data.aws_secretsmanager_secret_version.v.secret_string"
    }


def more_configs(tmp: Path) -> dict[str, cfg.ProjectConfig]:
    """Configs the samples do not cover: another project with kms and platform egress; a production
    project with store and job defaults whose platform does not auto-accept attachments."""

    def staging_kms(d: dict[str, Any]) -> None:
        d["project"] = "project-other"
        d["store"] = {"encryption": "kms"}
        d["network"]["vpc_cidr"] = "10.80.0.0/20"

    def production_defaults(d: dict[str, Any]) -> None:
        d.pop("store")
        d.pop("job")
        d["compute"] = {"provisioning": "EC2"}

    out = {}
    for key, mutate, egress, auto_accept in (
        ("project-sample-staging", staging_kms, True, True),
        ("project-sample-production", production_defaults, False, False),
    ):
        d = variant_dir(tmp / key, key, mutate)
        platform = yaml.safe_load((d / cfg.PLATFORM_FILE).read_text())
        for env in platform["environments"].values():
            env.update(egress=egress, transit_gateway_auto_accept=auto_accept)
        (d / cfg.PLATFORM_FILE).write_text(yaml.safe_dump(platform))
        [path] = cfg.list_configs(d)
        if key == "project-sample-staging":
            path = path.rename(d / f"project-other-staging{cfg.CONFIG_SUFFIX}")
        out[key] = cfg.load_file(path, backend_path=BACKEND)
    return out


def test_plans_stay_readable_beyond_the_samples(tmp_path: Path) -> None:
    configs = more_configs(tmp_path)
    assert not configs["project-sample-production"].platform.transit_gateway_auto_accept
    for key, c in configs.items():
        by_id = synth_one(c, tmp_path / "out" / key)
        assert reviewed_problems(by_id) == {}, key
        assert stack_problems(by_id) == {}, key  # and every string literal or a reference


# --- cross-stack outputs -----------------------------------------------------------


def test_cross_stack_outputs_are_not_sensitive(stacks) -> None:
    """Ids, names and ARNs: nothing secret crosses our stacks today."""
    crossing = [
        (key, stack_id, name, output)
        for key, by_id in stacks.items()
        for stack_id, stack in by_id.items()
        for name, output in stack.get("output", {}).items()
        if name.startswith("cross-stack-output-")
    ]
    assert crossing
    assert [(k, s, n) for k, s, n, o in crossing if o.get("sensitive") is not False] == []


def test_is_secret_reference() -> None:
    assert is_secret_reference("data.aws_secretsmanager_secret_version.token.secret_string")
    assert is_secret_reference("aws_db_instance.db.password")
    assert is_secret_reference("aws_iam_access_key.k.secret")
    assert not is_secret_reference("aws_secretsmanager_secret.github_token.arn")  # the resource's name is not its value
    assert not is_secret_reference("aws_vpc.vpc.id")
    assert not is_secret_reference("data.aws_token_thing.x.arn")


def test_a_secret_crossing_stacks_stays_sensitive(tmp_path: Path) -> None:
    from cdktf import App
    from cdktf_cdktf_provider_aws.data_aws_secretsmanager_secret_version import DataAwsSecretsmanagerSecretVersion
    from cdktf_cdktf_provider_aws.secretsmanager_secret import SecretsmanagerSecret
    from cdktf_cdktf_provider_aws.ssm_parameter import SsmParameter

    c = load_sample("project-sample-dev")
    app = App(outdir=str(tmp_path))
    producer, consumer = BaseStack(app, "producer", config=c), BaseStack(app, "consumer", config=c)
    secret = SecretsmanagerSecret(producer, "secret", name="s")
    version = DataAwsSecretsmanagerSecretVersion(producer, "version", secret_id=secret.id)
    SsmParameter(consumer, "secret_value", name="/a", type="SecureString", value=version.secret_string)
    SsmParameter(consumer, "secret_arn", name="/b", type="String", value=secret.arn)
    app.synth()
    outputs = json.loads((tmp_path / "stacks" / "producer" / "cdk.tf.json").read_text())["output"]
    assert len(outputs) == 2
    assert [o["sensitive"] for o in outputs.values() if "secret_string" in o["value"]] == [True]
    assert [o["sensitive"] for o in outputs.values() if o["value"].endswith(".arn}")] == [False]


# --- deploy order ------------------------------------------------------------------


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_manifest_keeps_the_deploy_order(synth_root: Path, key: str) -> None:
    stacks = json.loads((synth_root / key / "manifest.json").read_text())["stacks"]
    deps = {stack_id: set(s["dependencies"]) for stack_id, s in stacks.items()}
    # Names replace references here: the order is explicit.
    assert deps["algorithm-service"] >= {"algorithm-store", "algorithm-compute-resource"}
    assert deps["algorithm-compute-resource"] >= {"algorithm-server-infra"}
    assert deps["algorithm-dns"] >= {"algorithm-server-infra"}
    # CodeBuild needs the account's GitHub credential: the baseline first, where this tool manages it.
    assert ("account-baseline" in deps["algorithm-service"]) is ("account-baseline" in deps)
    for stack_id, before in deps.items():
        assert all(STACK_IDS.index(b) < STACK_IDS.index(stack_id) for b in before), stack_id
    for stack_id in deps:
        text = (synth_root / key / "stacks" / stack_id / "cdk.tf.json").read_text()
        referenced = set(re.findall(r"cross-stack-reference-input-([a-z0-9-]+)", text))
        assert referenced <= deps[stack_id], stack_id


# --- ARNs from names -----------------------------------------------------------------


def test_partition_and_arns_follow_the_region() -> None:
    assert (partition("ap-northeast-1"), partition("cn-north-1"), partition("us-gov-west-1")) == (
        "aws",
        "aws-cn",
        "aws-us-gov",
    )
    tokyo, beijing = Arns("ap-northeast-1", "123456789012"), Arns("cn-north-1", "123456789012")
    assert tokyo.bucket("b") == "arn:aws:s3:::b" and beijing.bucket("b") == "arn:aws-cn:s3:::b"
    assert tokyo.ecr_repository_url("r") == "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/r"
    assert beijing.ecr_repository_url("r") == "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/r"
    assert tokyo.ecr_repository("r") == "arn:aws:ecr:ap-northeast-1:123456789012:repository/r"
    assert tokyo.log_group("/aws/batch/x") == "arn:aws:logs:ap-northeast-1:123456789012:log-group:/aws/batch/x"
    assert tokyo.job_queue("q") == "arn:aws:batch:ap-northeast-1:123456789012:job-queue/q"
    assert tokyo.job_definitions("d") == "arn:aws:batch:ap-northeast-1:123456789012:job-definition/d:*"
    assert beijing.role("r") == "arn:aws-cn:iam::123456789012:role/r"
    assert tokyo.kms_keys == "arn:aws:kms:ap-northeast-1:123456789012:key/*"
    assert tokyo.kms_alias("alias/k") == "arn:aws:kms:ap-northeast-1:123456789012:alias/k"
    assert tokyo.ec2("vpc", "vpc-1") == "arn:aws:ec2:ap-northeast-1:123456789012:vpc/vpc-1"
