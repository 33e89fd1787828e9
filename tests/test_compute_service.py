"""algorithm-compute-resource and algorithm-service, on every sample config."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

import pytest
import yaml

from algoinfra import config as cfg
from algoinfra.components.batch import ECS_INSTANCE_POLICY
from tests.conftest import synth_one
from tests.helpers import SAMPLE_KEYS, data_sources, load_variant, one, read_stacks, ref_name, resources, variant_dir


def remote(stack_id: str) -> str:
    return f"${{data.terraform_remote_state.cross-stack-reference-input-{stack_id}.outputs."


def repository_url(c) -> str:
    return f"{c.account_id}.dkr.ecr.{c.region}.amazonaws.com/{c.key}-algorithm"


def role_arn(c, purpose: str) -> str:
    return f"arn:aws:iam::{c.account_id}:role/{c.key}-{purpose}"


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
    assert (
        one(stack, "aws_iam_role_policy_attachment")["policy_arn"] == f"arn:aws:iam::aws:policy/{ECS_INSTANCE_POLICY}"
    )


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


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_job_queue_orders_the_compute_environments(stacks, sample_configs, key) -> None:
    c, stack = sample_configs[key], stacks[key]["algorithm-compute-resource"]
    queue = one(stack, "aws_batch_job_queue")
    assert queue["name"] == f"{c.key}-queue" and queue["state"] == "ENABLED"
    order = queue["compute_environment_order"]
    assert [o["order"] for o in order] == list(range(1, len(c.compute.kinds) + 1))
    envs = resources(stack, "aws_batch_compute_environment")
    for o, kind in zip(order, c.compute.kinds, strict=True):
        env_id = ref_name(o["compute_environment"])
        assert o["compute_environment"] == f"${{aws_batch_compute_environment.{env_id}.arn}}"
        assert envs[env_id]["compute_resources"]["type"] == kind
    assert (
        stack["output"]["job_queue_arn"]["value"]
        == f"${{aws_batch_job_queue.{next(iter(resources(stack, 'aws_batch_job_queue')))}.arn}}"
    )


def queues_and_environments(by_id):
    """stack id -> (queue ids, compute environment ids those queues order, every compute environment id)."""
    out = {}
    for stack_id, stack in by_id.items():
        queues = resources(stack, "aws_batch_job_queue")
        envs = set(resources(stack, "aws_batch_compute_environment"))
        ordered = {o["compute_environment"] for q in queues.values() for o in q["compute_environment_order"]}
        if queues or envs:
            out[stack_id] = (set(queues), ordered, envs)
    return out


def assert_queue_with_its_environments(by_id) -> None:
    """One stack holds the queue and every environment it orders, referenced there (one apply changes both)."""
    [(stack_id, (queues, ordered, envs))] = queues_and_environments(by_id).items()
    assert stack_id == "algorithm-compute-resource" and len(queues) == 1
    assert ordered == {f"${{aws_batch_compute_environment.{e}.arn}}" for e in envs}


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_queue_and_compute_environments_share_one_stack(stacks, key) -> None:
    assert_queue_with_its_environments(stacks[key])


@pytest.mark.parametrize(
    ("key", "change"),
    [
        ("project-sample-production", {"on_demand_fallback": False}),  # SPOT + EC2 -> SPOT
        ("project-sample-dev", {"provisioning": "EC2"}),  # SPOT -> EC2
        ("project-sample-dev", {"on_demand_fallback": True}),  # SPOT -> SPOT + EC2
    ],
)
def test_a_compute_change_lands_in_one_stack(stacks, tmp_path: Path, key, change) -> None:
    """Removing or replacing an environment changes the queue in the same stack, nothing else."""
    before = stacks[key]
    c = load_variant(tmp_path, key, mutate=lambda d: d["compute"].update(change))
    after = synth_one(c, tmp_path / "o")
    assert_queue_with_its_environments(after)
    assert set(after) == set(before)
    assert [s for s in before if before[s] != after[s]] == ["algorithm-compute-resource"]
    old, new = before["algorithm-compute-resource"], after["algorithm-compute-resource"]

    def kinds(stack):
        return {
            rid: e["compute_resources"]["type"] for rid, e in resources(stack, "aws_batch_compute_environment").items()
        }

    assert sorted(kinds(new).values()) == sorted(c.compute.kinds) != sorted(kinds(old).values())
    assert one(new, "aws_batch_job_queue") != one(old, "aws_batch_job_queue")
    # An environment that stays keeps its logical id: only what changes is created or destroyed.
    kept = kinds(old).keys() & kinds(new).keys()
    assert {kinds(new)[k] for k in kept} == set(kinds(old).values()) & set(kinds(new).values())


# --- algorithm-service ----------------------------------------------------------


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_job_definition(stacks, sample_configs, key) -> None:
    c, stack = sample_configs[key], stacks[key]["algorithm-service"]
    jd = one(stack, "aws_batch_job_definition")
    props = json.loads(jd["container_properties"])
    # Built from names, not read from algorithm-store: a plan shows it in full.
    assert props["image"] == f"{repository_url(c)}:{c.job.image_tag}"
    reqs = {r["type"]: r["value"] for r in props["resourceRequirements"]}
    assert float(reqs["VCPU"]) == c.job.vcpus and reqs["MEMORY"] == str(c.job.memory_mib)
    assert reqs.get("GPU") == (str(c.job.gpus) if c.job.gpus else None)
    roles = {r["name"]: rid for rid, r in resources(stack, "aws_iam_role").items()}
    assert props["jobRoleArn"] == role_arn(c, "batch-job") and f"{c.key}-batch-job" in roles
    assert props["executionRoleArn"] == role_arn(c, "batch-execution") and f"{c.key}-batch-execution" in roles
    # Named, not referenced: the roles exist before the definition names them.
    assert sorted(jd["depends_on"]) == sorted(
        f"aws_iam_role.{roles[f'{c.key}-{p}']}" for p in ("batch-job", "batch-execution")
    )
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


# Actions the Service Authorization Reference lists with no resource type.
UNSCOPABLE_ACTIONS = {
    "ecr:GetAuthorizationToken",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
    "cloudwatch:PutMetricData",
}


def resources_of(policies):
    return {r for sts in policies.values() for st in sts for r in st["resources"]}


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_policies_are_scoped_to_the_project(stacks, sample_configs, key) -> None:
    c, stack = sample_configs[key], stacks[key]["algorithm-service"]
    roles = role_policies(stack)
    data, trigger = f"arn:aws:s3:::{c.key}", f"arn:aws:s3:::{c.key}-batch-trigger"
    for name in (f"{c.key}-batch-job", f"{c.key}-sagemaker-execution"):
        s3 = {r for r in resources_of(roles[name][1]) if r.startswith("arn:aws:s3:::")}
        assert s3 == {data, trigger, f"{data}/*", f"{trigger}/*"}, name
    assert not [r for r in resources_of(roles[f"{c.key}-batch-execution"][1]) if r.startswith("arn:aws:s3")]
    repository = f"arn:aws:ecr:{c.region}:{c.account_id}:repository/{c.key}-algorithm"
    for name in (f"{c.key}-batch-execution", f"{c.key}-sagemaker-execution", f"{c.key}-codebuild"):
        ecr = [
            st
            for sts in roles[name][1].values()
            for st in sts
            if any(a.startswith("ecr:") and a != "ecr:GetAuthorizationToken" for a in st["actions"])
        ]
        assert ecr and all(st["resources"] == [repository] for st in ecr), name
    for name, group in (
        (f"{c.key}-batch-execution", f"/aws/batch/{c.key}"),
        (f"{c.key}-codebuild", f"/aws/codebuild/{c.key}-algorithm-image"),
    ):
        [logs] = [st for sts in roles[name][1].values() for st in sts if st["sid"] == "WriteLogs"]
        arn = f"arn:aws:logs:{c.region}:{c.account_id}:log-group:{group}"
        assert logs["resources"] == [arn, f"{arn}:*"], name
        assert group in {g["name"] for g in resources(stack, "aws_cloudwatch_log_group").values()}
    # "*" only for actions IAM knows no resource for; PutMetricData scoped by its namespace.
    for name, (_, inline) in roles.items():
        for sts in inline.values():
            for st in sts:
                if "*" in st["resources"]:
                    assert st["resources"] == ["*"] and set(st["actions"]) <= UNSCOPABLE_ACTIONS, (name, st["sid"])
                    if "cloudwatch:PutMetricData" in st["actions"]:
                        assert [c["variable"] for c in st["condition"]] == ["cloudwatch:namespace"]
    [submit] = roles[f"{c.key}-events-submit-job"][1]["submit-job"]
    assert submit["actions"] == ["batch:SubmitJob"]
    assert submit["resources"] == [
        f"arn:aws:batch:{c.region}:{c.account_id}:job-queue/{c.key}-queue",
        f"arn:aws:batch:{c.region}:{c.account_id}:job-definition/{c.key}-algorithm:*",
    ]


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_s3_to_eventbridge_to_batch(stacks, sample_configs, key) -> None:
    c, stack = sample_configs[key], stacks[key]["algorithm-service"]
    rule_id, rule = next(iter(resources(stack, "aws_cloudwatch_event_rule").items()))
    pattern = json.loads(rule["event_pattern"])
    assert pattern["source"] == ["aws.s3"] and pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["bucket"]["name"] == [f"{c.key}-batch-trigger"]
    target = one(stack, "aws_cloudwatch_event_target")
    assert target["rule"] == f"${{aws_cloudwatch_event_rule.{rule_id}.name}}"
    # The queue is in algorithm-compute-resource: named, not referenced.
    assert target["arn"] == f"arn:aws:batch:{c.region}:{c.account_id}:job-queue/{c.key}-queue"
    assert "aws_batch_job_queue" not in stack["resource"]
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
    assert env["REPOSITORY_URI"] == repository_url(c) and env["IMAGE_TAG"] == c.job.image_tag
    roles = {rid: r["name"] for rid, r in resources(stack, "aws_iam_role").items()}
    assert roles[ref_name(project["service_role"])] == f"{c.key}-codebuild"
    assert "docker push" in project["source"]["buildspec"]


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_service_outputs(stacks, key) -> None:
    outputs = stacks[key]["algorithm-service"]["output"]
    assert set(outputs) >= {
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


def test_store_key_is_used_by_its_alias(stacks, sample_configs) -> None:
    """The key's ARN is random and lives in algorithm-store; its alias is a name."""
    checked = 0
    for key, c in sample_configs.items():
        if not c.store.kms_key:
            continue
        [alias] = resources(stacks[key]["algorithm-store"], "aws_kms_alias").values()
        assert alias["name"] == f"alias/{c.key}-store"
        service = stacks[key]["algorithm-service"]
        for doc in data_sources(service, "aws_iam_policy_document").values():
            for st in doc["statement"]:
                if any(a.startswith("kms:") for a in st["actions"]):
                    assert st["resources"] == [f"arn:aws:kms:{c.region}:{c.account_id}:key/*"]
                    assert st["condition"] == [
                        {
                            "test": "ForAnyValue:StringEquals",
                            "variable": "kms:ResourceAliases",
                            "values": [alias["name"]],
                        }
                    ]
                    checked += 1
        project = one(service, "aws_codebuild_project")
        assert project["encryption_key"] == f"arn:aws:kms:{c.region}:{c.account_id}:{alias['name']}"
    assert checked >= 4


# --- no trigger loop ------------------------------------------------------------------

S3_WRITE = re.compile(r"^(?:\*|s3:\*|s3:Put.*|s3:Delete.*|s3:AbortMultipartUpload|s3:RestoreObject|s3:Replicate.*)$")


def grants(statements, actions: re.Pattern[str], arn: str) -> list[str]:
    """Sids of Allow statements that grant one of ``actions`` on ``arn`` (IAM wildcards in resources honoured)."""
    return [
        st["sid"]
        for st in statements
        if st.get("effect", "Allow") == "Allow"
        and any(actions.match(a) for a in st["actions"])
        and any(fnmatch.fnmatchcase(arn, r) for r in st["resources"])
    ]


def test_grants_sees_writes_through_wildcards() -> None:
    put = [{"sid": "a", "actions": ["s3:PutObject"], "resources": ["arn:aws:s3:::b/*"]}]
    star = [{"sid": "b", "actions": ["s3:*"], "resources": ["arn:aws:s3:::*"]}]
    read = [{"sid": "c", "actions": ["s3:GetObject"], "resources": ["*"]}]
    assert grants(put, S3_WRITE, "arn:aws:s3:::b/out/x") == ["a"]
    assert grants(star, S3_WRITE, "arn:aws:s3:::b/x") == ["b"]
    assert grants(read, S3_WRITE, "arn:aws:s3:::b/x") == []


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_a_job_cannot_trigger_itself(stacks, sample_configs, key) -> None:
    """The rule fires on every object created in the trigger bucket: the job only reads there and writes the data bucket."""
    c, stack = sample_configs[key], stacks[key]["algorithm-service"]
    [rule] = resources(stack, "aws_cloudwatch_event_rule").values()
    [watched] = json.loads(rule["event_pattern"])["detail"]["bucket"]["name"]
    assert watched == f"{c.key}-batch-trigger"
    roles = role_policies(stack)
    for name in (f"{c.key}-batch-job", f"{c.key}-batch-execution"):
        statements = [st for sts in roles[name][1].values() for st in sts]
        assert grants(statements, S3_WRITE, f"arn:aws:s3:::{watched}/any/key") == [], name
    job = [st for sts in roles[f"{c.key}-batch-job"][1].values() for st in sts]
    assert grants(job, re.compile(r"^s3:GetObject$"), f"arn:aws:s3:::{watched}/input.json")
    assert grants(job, re.compile(r"^s3:PutObject$"), f"arn:aws:s3:::{c.key}/output/result.json")


# --- SageMaker in the VPC -------------------------------------------------------------


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_sagemaker_can_run_in_the_project_vpc_only(stacks, sample_configs, key) -> None:
    c, stack = sample_configs[key], stacks[key]["algorithm-service"]
    [(_, policies)] = [v for name, v in role_policies(stack).items() if name == f"{c.key}-sagemaker-execution"]
    statements = {st["sid"]: st for st in policies["vpc-logs-metrics"]}
    ec2 = f"arn:aws:ec2:{c.region}:{c.account_id}"
    infra = remote("algorithm-server-infra")

    # Everything a job or endpoint with a VPC configuration needs (the list), no wildcard action.
    granted = {a for st in statements.values() for a in st["actions"]}
    assert granted >= {
        "ec2:CreateNetworkInterface",
        "ec2:CreateNetworkInterfacePermission",
        "ec2:DeleteNetworkInterface",
        "ec2:DeleteNetworkInterfacePermission",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeVpcs",
        "ec2:DescribeDhcpOptions",
        "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "cloudwatch:PutMetricData",
    }
    assert not [a for a in granted if "*" in a]

    def condition(st, variable):
        [values] = [cond["values"] for cond in st["condition"] if cond["variable"] == variable]
        return values

    enis = statements["NetworkInterfacesInTheProjectSubnets"]
    assert enis["resources"] == [f"{ec2}:network-interface/*"]
    [vpc] = condition(enis, "ec2:Vpc")
    assert vpc.startswith(f"{ec2}:vpc/{infra}") and "aws_vpc" in vpc
    subnets = condition(enis, "ec2:Subnet")
    assert len(subnets) == len(c.network.availability_zones)
    assert all(s.startswith(f"{ec2}:subnet/{infra}") and "subnet_workload" in s for s in subnets)
    placed = statements["ProjectSubnetsAndSecurityGroups"]
    assert placed["actions"] == ["ec2:CreateNetworkInterface"]
    assert placed["resources"] == [*subnets, f"{ec2}:security-group/*"]
    assert condition(placed, "ec2:Vpc") == [vpc]
    logs = statements["SageMakerLogs"]
    assert logs["resources"] == [
        f"arn:aws:logs:{c.region}:{c.account_id}:log-group:/aws/sagemaker/*",
        f"arn:aws:logs:{c.region}:{c.account_id}:log-group:/aws/sagemaker/*:log-stream:*",
    ]
    metrics = statements["SageMakerMetrics"]
    assert metrics["condition"] == [
        {"test": "StringLike", "variable": "cloudwatch:namespace", "values": ["/aws/sagemaker/*"]}
    ]


# --- launch template: instance metadata and root volume --------------------------------


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_every_compute_environment_uses_the_launch_template(stacks, sample_configs, key) -> None:
    c, stack = sample_configs[key], stacks[key]["algorithm-compute-resource"]
    [(lt_id, lt)] = resources(stack, "aws_launch_template").items()
    assert lt["name"] == f"{c.key}-batch"
    # IMDSv2 only, one hop: containers cannot reach the instance role's credentials.
    assert lt["metadata_options"] == {
        "http_endpoint": "enabled",
        "http_tokens": "required",
        "http_put_response_hop_limit": 1,
    }
    assert lt["block_device_mappings"] == [
        {
            "device_name": "/dev/xvda",
            "ebs": {
                "delete_on_termination": "true",
                "encrypted": "true",
                "volume_size": c.compute.root_volume_size_gib,
                "volume_type": "gp3",
            },
        }
    ]
    assert "image_id" not in lt  # the AMI stays Batch's pinned ECS image type
    envs = resources(stack, "aws_batch_compute_environment").values()
    assert envs
    for env in envs:
        cr = env["compute_resources"]
        # The template's current version number, never "$Latest" (which Batch resolves only once).
        assert cr["launch_template"] == {
            "launch_template_id": f"${{aws_launch_template.{lt_id}.id}}",
            "version": f"${{aws_launch_template.{lt_id}.latest_version}}",
        }
        assert cr["ec2_configuration"] == [{"image_type": c.compute.image_type}]


def test_root_volume_defaults_follow_the_image_type(sample_configs) -> None:
    sizes = {c.compute.image_type: c.compute.root_volume_size_gib for c in sample_configs.values()}
    assert sizes == {"ECS_AL2023": 30, "ECS_AL2023_NVIDIA": 100}


def test_root_volume_size_is_configurable_and_bounded(tmp_path: Path) -> None:
    from algoinfra.errors import ConfigError

    c = load_variant(tmp_path / "ok", mutate=lambda d: d["compute"].update(root_volume_size_gib=250))
    stack = synth_one(c, tmp_path / "o")["algorithm-compute-resource"]
    assert one(stack, "aws_launch_template")["block_device_mappings"][0]["ebs"]["volume_size"] == 250
    for bad in (29, 16385, "100"):
        with pytest.raises(ConfigError, match=r"compute\.root_volume_size_gib"):
            load_variant(tmp_path / str(bad), mutate=lambda d, bad=bad: d["compute"].update(root_volume_size_gib=bad))


def test_no_image_build_while_the_account_has_no_github_credential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A new account's first deploy (README, the account baseline): the credential is off until the
    token secret has a value. CodeBuild refuses a GitHub project without one, so algorithm-service
    leaves the image build out, and the synth says so; everything else is unchanged."""
    import main as entry

    key = "project-sample-staging"
    config_dir = variant_dir(tmp_path / "configs", key)
    accounts = yaml.safe_load((config_dir / cfg.ACCOUNTS_FILE).read_text())
    account_id = load_variant(tmp_path / "plain", key).account_id
    accounts["accounts"][account_id]["baseline"] = {"codebuild_source_credential": False}
    (config_dir / cfg.ACCOUNTS_FILE).write_text(yaml.safe_dump(accounts))
    for name in ("Project", "Env", "REGION", "INFRA_CONFIG_DIR", "CDKTF_OUTDIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("Project", "project-sample")
    monkeypatch.setenv("Env", "staging")
    monkeypatch.setenv("INFRA_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("CDKTF_OUTDIR", str(tmp_path / "out"))
    assert entry.main([]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith(f"note: {key}: algorithm-service has no image build (CodeBuild)"), out
    assert f"accounts.{account_id}.baseline.codebuild_source_credential is false" in out[1]

    without = read_stacks(tmp_path / "out")
    with_build = synth_one(load_variant(tmp_path / "default", key), tmp_path / "default-out")
    service, full = without["algorithm-service"], with_build["algorithm-service"]
    assert not resources(service, "aws_codebuild_project") and resources(full, "aws_codebuild_project")
    assert "codebuild_project_name" not in service["output"] and "codebuild_project_name" in full["output"]
    assert resources(without["account-baseline"], "aws_codebuild_source_credential") == {}
    for stack_id in ("algorithm-store", "algorithm-server-infra", "algorithm-compute-resource", "algorithm-dns"):
        assert without[stack_id] == with_build[stack_id], stack_id
