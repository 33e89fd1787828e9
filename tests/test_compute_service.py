"""algorithm-compute-resource and algorithm-service, on every sample config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from algoinfra.components.batch import ECS_INSTANCE_POLICY_ARN
from tests.conftest import synth_one
from tests.helpers import SAMPLE_KEYS, data_sources, load_variant, one, ref_name, resources


def remote(stack_id: str) -> str:
    return f"${{data.terraform_remote_state.cross-stack-reference-input-{stack_id}.outputs."


def statements(stack, policy_ref: str):
    return data_sources(stack, "aws_iam_policy_document")[ref_name(policy_ref)]["statement"]


def role_policies(stack):
    """role name -> (trust statements, inline policy name -> statements)."""
    roles = resources(stack, "aws_iam_role")
    out = {}
    for rid, role in roles.items():
        inline = {
            p["name"]: statements(stack, p["policy"])
            for p in resources(stack, "aws_iam_role_policy").values()
            if ref_name(p["role"]) == rid
        }
        out[role["name"]] = (statements(stack, role["assume_role_policy"]), inline)
    return out


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_compute_environments(stacks, sample_configs, key) -> None:
    c, stack = sample_configs[key], stacks[key]["algorithm-compute-resource"]
    envs = resources(stack, "aws_batch_compute_environment")
    assert sorted(e["compute_resources"]["type"] for e in envs.values()) == sorted(c.compute.kinds)
    attachment = next(iter(resources(stack, "aws_iam_role_policy_attachment")))
    for env in envs.values():
        cr = env["compute_resources"]
        kind = cr["type"]
        assert env["type"] == "MANAGED" and env["name_prefix"] == f"{c.key}-{kind.lower()}-" and "name" not in env
        assert env["lifecycle"] == {
            "create_before_destroy": True,
            "ignore_changes": ["compute_resources[0].desired_vcpus"],
        }
        assert env["depends_on"] == [f"aws_iam_role_policy_attachment.{attachment}"]
        assert cr["min_vcpus"] == 0 and cr["max_vcpus"] == c.compute.max_vcpus
        assert cr["instance_type"] == list(c.compute.instance_types)
        assert cr["ec2_configuration"] == [{"image_type": c.compute.image_type}]
        assert (
            cr["allocation_strategy"] == {"SPOT": "SPOT_PRICE_CAPACITY_OPTIMIZED", "EC2": "BEST_FIT_PROGRESSIVE"}[kind]
        )
        assert len(cr["subnets"]) == len(c.network.availability_zones)
        assert all(s.startswith(remote("algorithm-server-infra")) and "subnet_workload" in s for s in cr["subnets"])
        assert ref_name(cr["instance_role"]) in resources(stack, "aws_iam_instance_profile")
    assert one(stack, "aws_iam_role_policy_attachment")["policy_arn"] == ECS_INSTANCE_POLICY_ARN


def test_gpu_samples_use_the_nvidia_image(stacks) -> None:
    for key in ("project-sample-staging", "project-sample-production"):
        for env in resources(stacks[key]["algorithm-compute-resource"], "aws_batch_compute_environment").values():
            assert env["compute_resources"]["ec2_configuration"] == [{"image_type": "ECS_AL2023_NVIDIA"}]


def test_on_demand_environment_only_when_configured(tmp_path: Path) -> None:
    c = load_variant(tmp_path, mutate=lambda d: d["compute"].update(provisioning="EC2"))
    envs = resources(synth_one(c, tmp_path / "o")["algorithm-compute-resource"], "aws_batch_compute_environment")
    assert [e["compute_resources"]["type"] for e in envs.values()] == ["EC2"]


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_batch_security_group_is_egress_only(stacks, sample_configs, key) -> None:
    c, stack = sample_configs[key], stacks[key]["algorithm-compute-resource"]
    sg_id, sg = next(iter(resources(stack, "aws_security_group").items()))
    assert "ingress" not in sg and "aws_vpc_security_group_ingress_rule" not in stack["resource"]
    rules = resources(stack, "aws_vpc_security_group_egress_rule").values()
    assert all(ref_name(r["security_group_id"]) == sg_id for r in rules)
    by_target = {r.get("cidr_ipv4") or r.get("prefix_list_id"): r for r in rules}
    assert by_target[c.network.vpc_cidr]["from_port"] == 443
    s3 = [t for t in by_target if t.startswith(remote("algorithm-server-infra")) and "prefix_list_id" in t]
    assert len(s3) == 1 and by_target[s3[0]]["to_port"] == 443
    for cidr in c.platform.routed_cidrs:
        assert by_target[cidr]["ip_protocol"] == "-1"
    assert "0.0.0.0/0" not in by_target  # the sample platforms provide no egress


# --- algorithm-service ----------------------------------------------------------


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_job_queue_orders_the_compute_environments(stacks, sample_configs, key) -> None:
    c, stack = sample_configs[key], stacks[key]["algorithm-service"]
    queue = one(stack, "aws_batch_job_queue")
    assert queue["name"] == f"{c.key}-queue" and queue["state"] == "ENABLED"
    order = queue["compute_environment_order"]
    assert [o["order"] for o in order] == list(range(1, len(c.compute.kinds) + 1))
    for o, kind in zip(order, c.compute.kinds, strict=True):
        assert o["compute_environment"].startswith(remote("algorithm-compute-resource"))
        assert f"batch_{kind.lower()}_" in o["compute_environment"]


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_job_definition(stacks, sample_configs, key) -> None:
    c, stack = sample_configs[key], stacks[key]["algorithm-service"]
    jd = one(stack, "aws_batch_job_definition")
    props = json.loads(jd["container_properties"])
    assert props["image"].startswith(remote("algorithm-store")) and props["image"].endswith(
        f"repository_url}}:{c.job.image_tag}"
    )
    reqs = {r["type"]: r["value"] for r in props["resourceRequirements"]}
    assert float(reqs["VCPU"]) == c.job.vcpus and reqs["MEMORY"] == str(c.job.memory_mib)
    assert reqs.get("GPU") == (str(c.job.gpus) if c.job.gpus else None)
    roles = {rid: r["name"] for rid, r in resources(stack, "aws_iam_role").items()}
    assert roles[ref_name(props["jobRoleArn"])] == f"{c.key}-batch-job"
    assert roles[ref_name(props["executionRoleArn"])] == f"{c.key}-batch-execution"
    log = props["logConfiguration"]
    assert log["logDriver"] == "awslogs" and log["options"]["awslogs-region"] == c.region
    groups = resources(stack, "aws_cloudwatch_log_group")
    group = groups[ref_name(log["options"]["awslogs-group"])]
    assert group["name"] == f"/aws/batch/{c.key}" and group["retention_in_days"] == c.job.log_retention_days
    assert props["command"] == list(c.job.command)
    assert jd["timeout"] == {"attempt_duration_seconds": c.job.timeout_seconds}
    retry = jd["retry_strategy"]
    assert retry["attempts"] == c.job.retry_attempts
    # Retry only infrastructure failures, exit on anything else.
    assert retry["evaluate_on_exit"] == [
        {"action": "RETRY", "on_status_reason": "Host EC2*"},
        {"action": "EXIT", "on_reason": "*"},
    ]


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_trust_policies(stacks, sample_configs, key) -> None:
    c = sample_configs[key]
    services = {}
    for stack_id in ("algorithm-service", "algorithm-compute-resource", "algorithm-server-infra"):
        for name, (trust, _) in role_policies(stacks[key][stack_id]).items():
            [st] = trust
            assert st["actions"] == ["sts:AssumeRole"] and st["effect"] == "Allow"
            [principal] = st["principals"]
            services[name] = principal["identifiers"]
            if "condition" in st:
                assert st["condition"] == [
                    {"test": "StringEquals", "variable": "aws:SourceAccount", "values": [c.account_id]}
                ]
    assert services == {
        f"{c.key}-batch-job": ["ecs-tasks.amazonaws.com"],
        f"{c.key}-batch-execution": ["ecs-tasks.amazonaws.com"],
        f"{c.key}-sagemaker-execution": ["sagemaker.amazonaws.com"],
        f"{c.key}-events-submit-job": ["events.amazonaws.com"],
        f"{c.key}-codebuild": ["codebuild.amazonaws.com"],
        f"{c.key}-batch-instance": ["ec2.amazonaws.com"],
        f"{c.key}-flow-logs": ["vpc-flow-logs.amazonaws.com"],
    }


def resources_of(policies):
    return {r for sts in policies.values() for st in sts for r in st["resources"]}


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_policies_are_scoped_to_the_project(stacks, sample_configs, key) -> None:
    c, stack = sample_configs[key], stacks[key]["algorithm-service"]
    roles = role_policies(stack)
    store = remote("algorithm-store")
    bucket_arns = {r for r in resources_of(roles[f"{c.key}-batch-job"][1]) if "bucket" in r}
    assert bucket_arns and all(r.startswith(store) for r in bucket_arns)
    assert {r.split("outputs.")[1].split("}")[0] for r in bucket_arns} == {
        r.split("outputs.")[1].split("}")[0]
        for r in resources_of(roles[f"{c.key}-sagemaker-execution"][1])
        if "bucket" in r
    }
    for name in (f"{c.key}-batch-execution", f"{c.key}-sagemaker-execution", f"{c.key}-codebuild"):
        ecr = [
            st
            for sts in roles[name][1].values()
            for st in sts
            if any(a.startswith("ecr:") and a != "ecr:GetAuthorizationToken" for a in st["actions"])
        ]
        assert ecr and all(r.startswith(store) and "ecr_repository" in r for st in ecr for r in st["resources"])
    # "*" only for the one action IAM cannot scope.
    for name, (_, inline) in roles.items():
        for sts in inline.values():
            for st in sts:
                if "*" in st["resources"]:
                    assert st["actions"] == ["ecr:GetAuthorizationToken"], name
    [submit] = roles[f"{c.key}-events-submit-job"][1]["submit-job"]
    queue_id = next(iter(resources(stack, "aws_batch_job_queue")))
    jd_id = next(iter(resources(stack, "aws_batch_job_definition")))
    assert submit["actions"] == ["batch:SubmitJob"]
    assert submit["resources"] == [
        f"${{aws_batch_job_queue.{queue_id}.arn}}",
        f"${{aws_batch_job_definition.{jd_id}.arn_prefix}}:*",
    ]


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_s3_to_eventbridge_to_batch(stacks, sample_configs, key) -> None:
    c, stack = sample_configs[key], stacks[key]["algorithm-service"]
    rule_id, rule = next(iter(resources(stack, "aws_cloudwatch_event_rule").items()))
    pattern = json.loads(rule["event_pattern"])
    assert pattern["source"] == ["aws.s3"] and pattern["detail-type"] == ["Object Created"]
    [bucket] = pattern["detail"]["bucket"]["name"]
    assert bucket.startswith(remote("algorithm-store")) and "trigger_bucket" in bucket
    target = one(stack, "aws_cloudwatch_event_target")
    assert target["rule"] == f"${{aws_cloudwatch_event_rule.{rule_id}.name}}"
    assert ref_name(target["arn"]) == next(iter(resources(stack, "aws_batch_job_queue")))
    assert ref_name(target["batch_target"]["job_definition"]) == next(
        iter(resources(stack, "aws_batch_job_definition"))
    )
    roles = {rid: r["name"] for rid, r in resources(stack, "aws_iam_role").items()}
    assert roles[ref_name(target["role_arn"])] == f"{c.key}-events-submit-job"
    transformer = target["input_transformer"]
    assert transformer["input_paths"] == {"bucket": "$.detail.bucket.name", "key": "$.detail.object.key"}
    assert json.loads(transformer["input_template"].replace("<bucket>", '"b"').replace("<key>", '"k"')) == {
        "Parameters": {"bucket": "b", "key": "k"}
    }


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_image_build(stacks, sample_configs, key) -> None:
    c, stack = sample_configs[key], stacks[key]["algorithm-service"]
    project = one(stack, "aws_codebuild_project")
    assert project["name"] == f"{c.key}-algorithm-image"
    assert project["source"]["type"] == "GITHUB"
    assert project["source"]["location"] == f"https://github.com/{c.github.repository}.git"
    assert project["source_version"] == c.github.branch
    assert project["environment"]["privileged_mode"] is True
    env = {v["name"]: v["value"] for v in project["environment"]["environment_variable"]}
    assert env["REPOSITORY_URI"].startswith(remote("algorithm-store")) and env["IMAGE_TAG"] == c.job.image_tag
    roles = {rid: r["name"] for rid, r in resources(stack, "aws_iam_role").items()}
    assert roles[ref_name(project["service_role"])] == f"{c.key}-codebuild"
    assert "docker push" in project["source"]["buildspec"]


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_service_outputs(stacks, key) -> None:
    outputs = stacks[key]["algorithm-service"]["output"]
    assert set(outputs) >= {
        "job_queue_arn",
        "job_definition_arn",
        "job_role_arn",
        "execution_role_arn",
        "sagemaker_execution_role_arn",
        "codebuild_project_name",
    }


def test_no_policy_in_any_stack_allows_wildcard_actions(stacks) -> None:
    checked = 0
    for by_id in stacks.values():
        for stack_id, stack in by_id.items():
            for doc_id, doc in data_sources(stack, "aws_iam_policy_document").items():
                for st in doc["statement"]:
                    if st.get("effect", "Allow") != "Allow":
                        continue
                    checked += 1
                    for action in st["actions"]:
                        assert action != "*" and not action.endswith(":*"), (stack_id, doc_id, action)
            for body in resources(stack, "aws_iam_role_policy").values():
                assert body["policy"].startswith("${data.aws_iam_policy_document."), (
                    "policies are documents, checked above"
                )
    assert checked > 20
