"""The stand-in provider's pieces without Terraform: values on the wire, plan and apply rules,
realistic values, the policy renderer, the schema it serves, and the working copy's rewiring."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tf.gen import tfplugin_pb2 as pb

from algoinfra.rehearse import cty, policy, protocol
from algoinfra.rehearse import schema as sch
from algoinfra.rehearse.standin import FORCE_NEW, StandIn
from algoinfra.rehearse.workspace import (
    OVERRIDE_FILE,
    Workspace,
    WorkspaceError,
    dependency_order,
    find_configs,
)

UNKNOWN = cty.UNKNOWN


def test_unknown_travels_as_msgpack_extension_zero() -> None:
    assert cty.encode(UNKNOWN) == b"\xd4\x00\x00"
    assert cty.decode(b"\xd4\x00\x00") is UNKNOWN
    assert cty.decode(b"\xd4\x0c\x00") is UNKNOWN, "refined unknowns use other extension types"
    value = {"a": [1, "x", None, UNKNOWN], "b": {"c": True, "d": 1.5}}
    assert cty.decode(cty.encode(value)) == value


def standin() -> StandIn:
    s = StandIn()
    s.configure(
        {
            "region": "ap-northeast-1",
            "allowed_account_ids": ["111122223333"],
            "default_tags": [{"tags": {"Env": "dev"}}],
        }
    )
    return s


def proposed(type_name: str, **values: Any) -> dict[str, Any]:
    """What Terraform proposes for a new object: the configuration, every other attribute null."""
    block = sch.lookup("resource", type_name)
    assert block is not None
    out: dict[str, Any] = dict.fromkeys(block.block.attributes)
    for name, nb in block.block.blocks.items():
        out[name] = None if nb.nesting in ("single", "group") else []
    out.update(values)
    return out


def test_plan_marks_every_null_computed_attribute_unknown_and_nothing_else() -> None:
    schema = sch.lookup("resource", "aws_s3_bucket")
    assert schema is not None
    planned, replace = standin().plan("aws_s3_bucket", None, proposed("aws_s3_bucket", bucket="b"), None)
    assert replace == []
    for name, attr in schema.block.attributes.items():
        if name == "tags_all":
            continue
        if name == "bucket":
            assert planned[name] == "b"
        elif attr.computed:
            assert planned[name] is UNKNOWN, name
        else:
            assert planned[name] is None, name


def test_plan_nulls_write_only_attributes_and_merges_tags_all() -> None:
    version = proposed("aws_secretsmanager_secret_version", secret_id="s", secret_string_wo="value")
    planned, _ = standin().plan("aws_secretsmanager_secret_version", None, version, None)
    assert planned["secret_string_wo"] is None
    repo = proposed("aws_ecr_repository", name="r", tags={"Name": "r", "Env": "override"})
    planned, _ = standin().plan("aws_ecr_repository", None, repo, None)
    assert planned["tags_all"] == {"Env": "override", "Name": "r"}
    repo["tags"] = UNKNOWN
    planned, _ = standin().plan("aws_ecr_repository", None, repo, None)
    assert planned["tags_all"] is UNKNOWN


def test_apply_fills_unknowns_deterministically_with_aws_shaped_values() -> None:
    s = standin()
    planned, _ = s.plan("aws_ecr_repository", None, proposed("aws_ecr_repository", name="demo"), None)
    state = s.apply("aws_ecr_repository", None, planned)
    assert cty.is_known(state)
    assert state["arn"] == "arn:aws:ecr:ap-northeast-1:111122223333:repository/demo"
    assert state["repository_url"] == "111122223333.dkr.ecr.ap-northeast-1.amazonaws.com/demo"
    assert state["registry_id"] == "111122223333"
    assert s.apply("aws_ecr_repository", None, planned) == state, "deterministic"
    vpc, _ = s.plan("aws_vpc", None, proposed("aws_vpc", cidr_block="10.0.0.0/16"), None)
    vpc_state = s.apply("aws_vpc", None, vpc)
    assert vpc_state["id"].startswith("vpc-") and vpc_state["arn"].endswith(f":vpc/{vpc_state['id']}")
    assert vpc_state["main_route_table_id"].startswith("rtb-")
    ce, _ = s.plan(
        "aws_batch_compute_environment", None, proposed("aws_batch_compute_environment", name_prefix="p-"), None
    )
    ce_state = s.apply("aws_batch_compute_environment", None, ce)
    assert ce_state["name"].startswith("p-") and len(ce_state["name"]) == 2 + 26
    assert ce_state["arn"] == f"arn:aws:batch:ap-northeast-1:111122223333:compute-environment/{ce_state['name']}"


def test_a_second_plan_after_apply_changes_nothing() -> None:
    s = standin()
    for type_name, config in (
        ("aws_s3_bucket", {"bucket": "b"}),
        ("aws_vpc", {"cidr_block": "10.0.0.0/16"}),
        ("aws_iam_role", {"name": "r", "assume_role_policy": "{}"}),
    ):
        planned, _ = s.plan(type_name, None, proposed(type_name, **config), None)
        state = s.apply(type_name, None, planned)
        again, replace = s.plan(type_name, state, state, None)
        assert (again, replace) == (state, []), type_name


def test_only_force_new_attributes_ask_for_a_replacement() -> None:
    s = standin()
    planned, _ = s.plan("aws_s3_bucket", None, proposed("aws_s3_bucket", bucket="b"), None)
    state = s.apply("aws_s3_bucket", None, planned)
    assert s.plan("aws_s3_bucket", state, {**state, "bucket": "c"}, None)[1] == [["bucket"]]
    assert s.plan("aws_s3_bucket", state, {**state, "force_destroy": True}, None)[1] == []
    assert "bucket" in FORCE_NEW["aws_s3_bucket"]
    nested = StandIn(force_new={"aws_batch_compute_environment": ("compute_resources.instance_type",)})
    prior = proposed("aws_batch_compute_environment", compute_resources=[{"instance_type": ["m6i.large"]}])
    after = {**prior, "compute_resources": [{"instance_type": ["g5.xlarge"]}]}
    assert nested.plan("aws_batch_compute_environment", prior, after, None)[1] == [
        ["compute_resources", 0, "instance_type"]
    ]


def test_import_starts_from_the_id_and_read_fills_the_rest() -> None:
    s = standin()
    arn = "arn:aws:secretsmanager:ap-northeast-1:111122223333:secret:GITHUB_PERSONAL_ACCESS_TOKEN-AbCdEf"
    state = s.import_state("aws_secretsmanager_secret", arn)
    assert (state["id"], state["arn"], state["name"]) == (arn, arn, "GITHUB_PERSONAL_ACCESS_TOKEN")
    read = s.read("aws_secretsmanager_secret", state)
    assert cty.is_known(read) and read["arn"] == arn
    bucket = s.read("aws_s3_bucket", s.import_state("aws_s3_bucket", "demo-data"))
    assert bucket["bucket"] == "demo-data" and bucket["arn"] == "arn:aws:s3:::demo-data"


def test_apply_calls_are_logged_in_order(tmp_path: Path) -> None:
    s = standin()
    s.log_path = str(tmp_path / "calls.jsonl")
    planned, _ = s.plan("aws_s3_bucket", None, proposed("aws_s3_bucket", bucket="b"), None)
    state = s.apply("aws_s3_bucket", None, planned)
    s.apply("aws_s3_bucket", state, {**state, "force_destroy": True})
    s.apply("aws_s3_bucket", state, None)
    lines = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert [(c["type"], c["action"], c["id"]) for c in lines] == [
        ("aws_s3_bucket", "create", "b"),
        ("aws_s3_bucket", "update", "b"),
        ("aws_s3_bucket", "delete", "b"),
    ]


def statement(**kw: Any) -> dict[str, Any]:
    base = {key: None for key in ("sid", "effect", "actions", "not_actions", "resources", "not_resources")}
    return {**base, "principals": [], "not_principals": [], "condition": [], **kw}


@pytest.mark.parametrize(
    ("stmt", "expected"),
    [
        (
            statement(actions=["s3:GetObject"], resources=["*"]),
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
        ),
        (
            statement(effect="Deny", actions=["b:x", "a:y", "c:z"], resources=["arn:1", "arn:2"]),
            {"Effect": "Deny", "Action": ["c:z", "b:x", "a:y"], "Resource": ["arn:2", "arn:1"]},
        ),
        (
            statement(actions=["sts:AssumeRole"], principals=[{"type": "*", "identifiers": ["*"]}]),
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": "*"},
        ),
        (
            statement(actions=["sts:AssumeRole"], principals=[{"type": "AWS", "identifiers": ["*"]}]),
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "*"}},
        ),
        (
            statement(
                not_actions=["iam:*"],
                not_resources=["arn:aws:s3:::b/&{aws:username}"],
                condition=[{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}],
            ),
            {
                "Effect": "Allow",
                "NotAction": "iam:*",
                "NotResource": "arn:aws:s3:::b/${aws:username}",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ),
    ],
)
def test_policy_statements_render_as_the_provider_renders_them(stmt: dict[str, Any], expected: dict[str, Any]) -> None:
    rendered = policy.render({"statement": [stmt]})
    assert json.loads(rendered["json"]) == {"Version": "2012-10-17", "Statement": [expected]}
    assert list(json.loads(rendered["json"])["Statement"][0]) == list(expected), "the provider's field order"


def test_policy_json_uses_gos_encoding_and_merges_documents() -> None:
    rendered = policy.render(
        {
            "statement": [statement(sid="A", actions=["s3:GetObject"], resources=["arn:aws:s3:::a<b>&c"])],
            "override_policy_documents": [
                json.dumps({"Statement": [{"Sid": "A", "Effect": "Deny", "Action": "*", "Resource": "*"}]})
            ],
        }
    )
    assert (
        rendered["minified_json"]
        == '{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Deny","Action":"*","Resource":"*"}]}'
    )
    html = policy.render({"statement": [statement(actions=["s3:GetObject"], resources=["arn:aws:s3:::a<b>&c"])]})
    assert "arn:aws:s3:::a\\u003cb\\u003e\\u0026c" in html["json"]
    with pytest.raises(policy.PolicyError, match="duplicate Sid"):
        policy.render({"statement": [statement(sid="X"), statement(sid="X")]})


def test_the_served_schema_is_the_real_one_with_write_only_and_ephemeral_types() -> None:
    response = pb.GetProviderSchema.Response.FromString(protocol.provider_schema_response())
    doc = sch.document()
    assert set(response.resource_schemas) == set(doc["resource_schemas"])
    assert set(response.data_source_schemas) == set(doc["data_source_schemas"])
    assert len(response.resource_schemas) > 1500
    attrs = {a.name: a for a in response.resource_schemas["aws_secretsmanager_secret_version"].block.attributes}
    assert attrs["secret_string_wo"].SerializeToString().endswith(b"\x58\x01"), "write_only = true (field 11)"
    assert b"X\x01" not in attrs["secret_string"].SerializeToString()
    bucket = response.resource_schemas["aws_s3_bucket"].block
    assert json.loads({a.name: a for a in bucket.attributes}["bucket"].type) == "string"
    # Ephemeral resource schemas travel as field 8 of the response (a map entry: key = 1, value = 2).
    name = "aws_secretsmanager_random_password"
    raw = sch.raw("ephemeral", name)
    assert raw is not None
    entry = pb.GetProviderSchema.Response.ResourceSchemasEntry(key=name, value=protocol.schema_message(raw))
    assert protocol.field(8, entry.SerializeToString()) in protocol.provider_schema_response()
    assert protocol.provider_schema_response().endswith(
        protocol.field(
            8,
            pb.GetProviderSchema.Response.ResourceSchemasEntry(
                key="aws_ssm_parameter", value=protocol.schema_message(sch.raw("ephemeral", "aws_ssm_parameter") or {})
            ).SerializeToString(),
        )
    )


# --- The working copy --------------------------------------------------------------------------------------------


def write_config(root: Path, stacks: dict[str, dict[str, Any]], deps: dict[str, list[str]]) -> Path:
    for name, body in stacks.items():
        (root / "stacks" / name).mkdir(parents=True)
        (root / "stacks" / name / "cdk.tf.json").write_text(json.dumps(body))
    (root / "manifest.json").write_text(json.dumps({"stacks": {n: {"dependencies": deps.get(n, [])} for n in stacks}}))
    return root


S3 = {"bucket": "state-bucket", "key": "p/dev/producer.tfstate", "region": "ap-northeast-1", "dynamodb_table": "t"}


def test_the_working_copy_points_backends_and_remote_state_at_one_local_file(tmp_path: Path) -> None:
    producer = {
        "terraform": {"backend": {"s3": S3}},
        "resource": {"aws_s3_bucket": {"b": {"lifecycle": {"prevent_destroy": True}}}},
    }
    consumer = {
        "terraform": {"backend": {"s3": {**S3, "key": "p/dev/consumer.tfstate"}}},
        "data": {
            "terraform_remote_state": {"in": {"backend": "s3", "config": S3, "workspace": "${terraform.workspace}"}}
        },
    }
    boot = {"terraform": {"backend": {"local": {"path": "terraform.tfstate"}}}}
    src = write_config(
        tmp_path / "src", {"producer": producer, "consumer": consumer, "boot": boot}, {"consumer": ["producer"]}
    )
    before = {p: p.read_bytes() for p in src.rglob("*") if p.is_file()}
    ws = Workspace.create(src, tmp_path / "copy", tmp_path / "state")
    assert {p: p.read_bytes() for p in src.rglob("*") if p.is_file()} == before, "the synthesized dir is untouched"
    over = {s: json.loads((ws.stack_dir(s) / OVERRIDE_FILE).read_text()) for s in ("producer", "consumer", "boot")}
    produced = over["producer"]["terraform"]["backend"]["local"]["path"]
    assert produced == str(tmp_path / "state" / "s3" / "state-bucket" / "p" / "dev" / "producer.tfstate")
    assert over["consumer"]["data"]["terraform_remote_state"]["in"] == {
        "backend": "local",
        "config": {"path": produced},
    }
    boot_path = Path(over["boot"]["terraform"]["backend"]["local"]["path"])
    assert boot_path.is_relative_to(tmp_path / "state"), "never outside the working copy"
    assert "resource" not in over["producer"]
    assert ws.write_override("producer", lift_prevent_destroy=True) == 1
    lifted = json.loads((ws.stack_dir("producer") / OVERRIDE_FILE).read_text())
    assert lifted["resource"] == {"aws_s3_bucket": {"b": {"lifecycle": {"prevent_destroy": False}}}}
    assert (ws.stack_dir("producer") / "cdk.tf.json").read_bytes() == (
        src / "stacks" / "producer" / "cdk.tf.json"
    ).read_bytes()
    assert ws.order == ["boot", "producer", "consumer"]


def test_configs_are_found_in_both_layouts_and_cycles_refused(tmp_path: Path) -> None:
    one = write_config(tmp_path / "one", {"a": {}}, {})
    assert find_configs(one) == [one]
    write_config(tmp_path / "many" / "project-x-dev", {"a": {}}, {})
    write_config(tmp_path / "many" / "project-x-prod", {"a": {}}, {})
    assert [p.name for p in find_configs(tmp_path / "many")] == ["project-x-dev", "project-x-prod"]
    with pytest.raises(WorkspaceError, match=r"no manifest\.json"):
        find_configs(tmp_path / "empty")
    with pytest.raises(WorkspaceError, match="cycle"):
        dependency_order({"a": ["b"], "b": ["a"]})
    assert dependency_order({"svc": ["store", "compute"], "compute": ["net"], "net": [], "store": []}) == [
        "net",
        "store",
        "compute",
        "svc",
    ]
