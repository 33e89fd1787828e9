"""algorithm-server-infra: VPC, subnets, routes, transit gateway attachment, endpoints, flow logs, the parameter."""

from __future__ import annotations

import ipaddress
import itertools
import re
from pathlib import Path

import pytest
import yaml

from algoinfra import config as cfg
from algoinfra.components.text import ec2_description
from tests.conftest import synth_one
from tests.helpers import BACKEND, SAMPLE_KEYS, add_account, load_variant, one, ref_name, resources, variant_dir

STACK = "algorithm-server-infra"


def subnets_by_tier_az(stack):
    out: dict[tuple[str, str], tuple[str, dict]] = {}
    for logical, body in resources(stack, "aws_subnet").items():
        out[(body["tags"]["Tier"], body["availability_zone"])] = (logical, body)
    return out


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_vpc(stacks, sample_configs, key) -> None:
    c, stack = sample_configs[key], stacks[key][STACK]
    vpc = one(stack, "aws_vpc")
    assert vpc["cidr_block"] == c.network.vpc_cidr
    assert vpc["enable_dns_support"] is True and vpc["enable_dns_hostnames"] is True
    default_sg = one(stack, "aws_default_security_group")
    assert "ingress" not in default_sg and "egress" not in default_sg


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_subnets_one_per_tier_and_az_inside_the_vpc_and_disjoint(stacks, sample_configs, key) -> None:
    c, stack = sample_configs[key], stacks[key][STACK]
    subnets = subnets_by_tier_az(stack)
    azs = c.network.availability_zones
    assert set(subnets) == {(tier, az) for tier in ("workload", "attachment") for az in azs}
    vpc = ipaddress.ip_network(c.network.vpc_cidr)
    nets = [ipaddress.ip_network(body["cidr_block"]) for _, body in subnets.values()]
    assert all(n.subnet_of(vpc) for n in nets)
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])
    for (tier, az), (logical, body) in subnets.items():
        assert body["map_public_ip_on_launch"] is False
        assert logical.startswith(f"network_subnet_{tier}_{az.replace('-', '_')}_")
        if tier == "attachment":
            assert ipaddress.ip_network(body["cidr_block"]).prefixlen == 28


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_route_tables_and_routes_to_the_transit_gateway(stacks, sample_configs, key) -> None:
    c, stack = sample_configs[key], stacks[key][STACK]
    subnets = subnets_by_tier_az(stack)
    tables = resources(stack, "aws_route_table")
    assocs = {
        ref_name(a["subnet_id"]): ref_name(a["route_table_id"])
        for a in resources(stack, "aws_route_table_association").values()
    }
    assert len(tables) == len(subnets) == len(assocs) == len(set(assocs.values()))
    attachment = next(iter(resources(stack, "aws_ec2_transit_gateway_vpc_attachment")))
    routes = resources(stack, "aws_route").values()
    expected_destinations = set(c.platform.routed_cidrs) | ({"0.0.0.0/0"} if c.platform.egress else set())
    for (tier, _az), (subnet_id, _) in subnets.items():
        table = assocs[subnet_id]
        mine = [r for r in routes if ref_name(r["route_table_id"]) == table]
        if tier == "workload":
            assert {r["destination_cidr_block"] for r in mine} == expected_destinations
            for r in mine:
                assert r["transit_gateway_id"] == c.platform.transit_gateway_id
                assert r["depends_on"] == [f"aws_ec2_transit_gateway_vpc_attachment.{attachment}"]
        else:
            assert mine == []


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_transit_gateway_attachment_on_the_attachment_subnets(stacks, sample_configs, key) -> None:
    c, stack = sample_configs[key], stacks[key][STACK]
    att = one(stack, "aws_ec2_transit_gateway_vpc_attachment")
    assert att["transit_gateway_id"] == c.platform.transit_gateway_id
    assert att["dns_support"] == "enable"
    subnets = subnets_by_tier_az(stack)
    assert sorted(ref_name(s) for s in att["subnet_ids"]) == sorted(
        subnets[("attachment", az)][0] for az in c.network.availability_zones
    )
    # Left to the gateway's owner unless the config says otherwise.
    for option in (
        "appliance_mode_support",
        "transit_gateway_default_route_table_association",
        "transit_gateway_default_route_table_propagation",
    ):
        assert option not in att


def test_transit_gateway_options_when_configured(tmp_path: Path, sample_configs) -> None:
    # In the gateway owner's account: the attachment itself carries the route table options.
    platform_account = sample_configs["project-sample-dev"].platform.account_id

    def mutate(d):
        d["account_id"] = platform_account
        d["network"]["transit_gateway"] = {
            "appliance_mode_support": True,
            "default_route_table_association": False,
            "default_route_table_propagation": True,
        }

    add_account(variant_dir(tmp_path, mutate=mutate), platform_account)
    c = cfg.load_file(tmp_path / f"project-sample-dev{cfg.CONFIG_SUFFIX}", backend_path=BACKEND)
    att = one(synth_one(c, tmp_path / "o")[STACK], "aws_ec2_transit_gateway_vpc_attachment")
    assert att["appliance_mode_support"] == "enable"
    assert att["transit_gateway_default_route_table_association"] is False
    assert att["transit_gateway_default_route_table_propagation"] is True


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_endpoints(stacks, sample_configs, key) -> None:
    c, stack = sample_configs[key], stacks[key][STACK]
    endpoints = list(resources(stack, "aws_vpc_endpoint").values())
    gateway = [e for e in endpoints if e["vpc_endpoint_type"] == "Gateway"]
    interface = {
        e["service_name"].removeprefix(f"com.amazonaws.{c.region}."): e
        for e in endpoints
        if e["vpc_endpoint_type"] == "Interface"
    }
    [s3] = gateway
    assert s3["service_name"] == f"com.amazonaws.{c.region}.s3"
    subnets = subnets_by_tier_az(stack)
    workload_tables = set()
    for a in resources(stack, "aws_route_table_association").values():
        if ref_name(a["subnet_id"]) in {subnets[("workload", az)][0] for az in c.network.availability_zones}:
            workload_tables.add(ref_name(a["route_table_id"]))
    assert {ref_name(t) for t in s3["route_table_ids"]} == workload_tables
    assert sorted(interface) == sorted(c.network.interface_endpoints)
    sg_id = ref_name(next(iter(interface.values()))["security_group_ids"][0])
    expected_subnets = sorted(subnets[("workload", az)][0] for az in c.network.endpoint_availability_zones)
    for e in interface.values():
        assert e["private_dns_enabled"] is True
        assert sorted(ref_name(s) for s in e["subnet_ids"]) == expected_subnets
        assert [ref_name(g) for g in e["security_group_ids"]] == [sg_id]
    [ingress] = resources(stack, "aws_vpc_security_group_ingress_rule").values()
    assert ref_name(ingress["security_group_id"]) == sg_id
    assert (ingress["ip_protocol"], ingress["from_port"], ingress["to_port"], ingress["cidr_ipv4"]) == (
        "tcp",
        443,
        443,
        c.network.vpc_cidr,
    )


def test_default_endpoints_are_what_batch_needs_without_nat(stacks) -> None:
    stack = stacks["project-sample-dev"][STACK]
    services = sorted(
        e["service_name"].split("ap-northeast-1.")[1] for e in resources(stack, "aws_vpc_endpoint").values()
    )
    assert services == sorted(["ecr.api", "ecr.dkr", "ecs", "ecs-agent", "ecs-telemetry", "logs", "sts", "s3"])


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_flow_logs_to_cloudwatch_with_retention(stacks, sample_configs, key) -> None:
    c, stack = sample_configs[key], stacks[key][STACK]
    flow = one(stack, "aws_flow_log")
    group_id, group = next(iter(resources(stack, "aws_cloudwatch_log_group").items()))
    assert flow["log_destination_type"] == "cloud-watch-logs"
    assert flow["log_destination"] == f"${{aws_cloudwatch_log_group.{group_id}.arn}}"
    assert flow["vpc_id"].startswith("${aws_vpc.") and flow["traffic_type"] == "ALL"
    assert group["retention_in_days"] == c.network.flow_logs.retention_days
    assert ref_name(flow["iam_role_arn"]) in resources(stack, "aws_iam_role")


def test_flow_logs_to_s3(tmp_path: Path) -> None:
    arn = "arn:aws:s3:::central-flow-logs"
    c = load_variant(
        tmp_path, mutate=lambda d: d["network"].update(flow_logs={"destination": "s3", "s3_bucket_arn": arn})
    )
    stack = synth_one(c, tmp_path / "o")[STACK]
    flow = one(stack, "aws_flow_log")
    assert (flow["log_destination_type"], flow["log_destination"]) == ("s3", arn)
    assert "aws_cloudwatch_log_group" not in stack["resource"] and "aws_iam_role" not in stack["resource"]


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_vpc_id_parameter(stacks, sample_configs, key) -> None:
    c, stack = sample_configs[key], stacks[key][STACK]
    param = one(stack, "aws_ssm_parameter")
    assert param["name"] == f"/{c.env}/{c.project}/vpc-id"
    assert param["type"] == "String"
    assert param["value"] == f"${{aws_vpc.{next(iter(resources(stack, 'aws_vpc')))}.id}}"


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_workload_security_group_is_egress_only(stacks, sample_configs, key) -> None:
    c, stack = sample_configs[key], stacks[key][STACK]
    groups = {g["name"]: gid for gid, g in resources(stack, "aws_security_group").items()}
    workload = groups[f"{c.key}-workload"]
    rules = [
        r
        for r in resources(stack, "aws_vpc_security_group_egress_rule").values()
        if ref_name(r["security_group_id"]) == workload
    ]
    assert not [
        r
        for r in resources(stack, "aws_vpc_security_group_ingress_rule").values()
        if ref_name(r["security_group_id"]) == workload
    ]
    targets = {r.get("cidr_ipv4") or r.get("prefix_list_id") for r in rules}
    s3_endpoint = next(
        k for k, e in resources(stack, "aws_vpc_endpoint").items() if e["vpc_endpoint_type"] == "Gateway"
    )
    assert targets == {
        c.network.vpc_cidr,
        f"${{aws_vpc_endpoint.{s3_endpoint}.prefix_list_id}}",
        *c.platform.routed_cidrs,
    }


def test_adding_an_az_keeps_existing_subnets(tmp_path: Path, stacks) -> None:
    before = subnets_by_tier_az(stacks["project-sample-dev"][STACK])
    # Prepend, so a list-position key would move every subnet.
    c = load_variant(
        tmp_path,
        mutate=lambda d: d["network"].update(
            availability_zones=["ap-northeast-1d", *d["network"]["availability_zones"]]
        ),
    )
    after = subnets_by_tier_az(synth_one(c, tmp_path / "o")[STACK])
    assert set(after) - set(before) == {("workload", "ap-northeast-1d"), ("attachment", "ap-northeast-1d")}
    for tier_az, (logical, body) in before.items():
        assert after[tier_az][0] == logical
        assert after[tier_az][1]["cidr_block"] == body["cidr_block"]


def test_endpoint_azs_narrow_the_interface_endpoints(tmp_path: Path) -> None:
    c = load_variant(
        tmp_path,
        "project-sample-production",
        mutate=lambda d: d["network"].update(
            endpoint_availability_zones=["ap-northeast-1c"], interface_endpoints=["ecr.api", "sagemaker.runtime"]
        ),
    )
    stack = synth_one(c, tmp_path / "o")[STACK]
    interface = [e for e in resources(stack, "aws_vpc_endpoint").values() if e["vpc_endpoint_type"] == "Interface"]
    assert sorted(e["service_name"] for e in interface) == [
        "com.amazonaws.ap-northeast-1.ecr.api",
        "com.amazonaws.ap-northeast-1.sagemaker.runtime",
    ]
    assert all(len(e["subnet_ids"]) == 1 and "ap_northeast_1c" in e["subnet_ids"][0] for e in interface)


# --- EC2 text rules ---------------------------------------------------------------

# What EC2 accepts in security group and rule descriptions (anything else fails on apply).
EC2_DESCRIPTION = re.compile(r"^[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]{0,255}$")
SECURITY_GROUP_TYPES = (
    "aws_security_group",
    "aws_default_security_group",
    "aws_security_group_rule",
    "aws_vpc_security_group_egress_rule",
    "aws_vpc_security_group_ingress_rule",
)


def ec2_descriptions(by_id) -> list[tuple[str, str, str]]:
    """(stack, resource, description as AWS gets it) of every security group and rule."""
    out = []
    for stack_id, stack in by_id.items():
        for rtype in SECURITY_GROUP_TYPES:
            for rid, body in resources(stack, rtype).items():
                texts = [body.get("description")]
                texts += [rule.get("description") for block in ("ingress", "egress") for rule in body.get(block, [])]
                for text in texts:
                    if text is not None:
                        out.append((stack_id, rid, text.replace("$${", "${").replace("%%{", "%{")))
    return out


def test_ec2_description_refuses_what_ec2_refuses() -> None:
    assert ec2_description("HTTPS to S3 (gateway endpoint)") == "HTTPS to S3 (gateway endpoint)"
    assert ec2_description("a-zA-Z0-9 ._-:/()#,@[]+=&;{}!$*") == "a-zA-Z0-9 ._-:/()#,@[]+=&;{}!$*"
    assert ec2_description("${x}") == "$${x}"  # allowed by EC2, literal for Terraform
    for bad in ("HTTPS through the platform's egress", "caf\u00e9", "tab\there", "x" * 256):
        with pytest.raises(ValueError, match="EC2 refuses"):
            ec2_description(bad)
    assert ec2_description("x" * 255) == "x" * 255


def test_every_sample_description_follows_ec2_rules(stacks) -> None:
    found = [d for by_id in stacks.values() for d in ec2_descriptions(by_id)]
    assert len(found) > 20
    assert [d for d in found if not EC2_DESCRIPTION.match(d[2])] == []


def option_combinations():
    """Every option that adds or changes a security group or rule (endpoints and routed CIDRs vary together)."""
    narrow = (None, ["10.0.0.0/16"])
    wide = (["ecr.api", "ecr.dkr", "sagemaker.runtime", "sagemaker.api"], ["10.0.0.0/16", "172.16.0.0/12"])
    return [
        pytest.param(
            egress, fallback, endpoints, routed, id=f"egress={egress}-fallback={fallback}-routed={len(routed)}"
        )
        for egress, fallback, (endpoints, routed) in itertools.product((False, True), (False, True), (narrow, wide))
    ]


@pytest.mark.parametrize(("egress", "fallback", "endpoints", "routed"), option_combinations())
def test_every_description_follows_ec2_rules_in_every_combination(
    tmp_path: Path, egress: bool, fallback: bool, endpoints, routed
) -> None:
    def mutate(d):
        d["compute"].update(provisioning="SPOT", on_demand_fallback=fallback)
        if endpoints:
            d["network"]["interface_endpoints"] = endpoints

    d = variant_dir(tmp_path / "c", mutate=mutate)
    platform = yaml.safe_load((d / cfg.PLATFORM_FILE).read_text())
    platform["environments"]["dev"].update(egress=egress, routed_cidrs=routed)
    (d / cfg.PLATFORM_FILE).write_text(yaml.safe_dump(platform))
    c = cfg.load_file(d / f"project-sample-dev{cfg.CONFIG_SUFFIX}", backend_path=BACKEND)
    found = ec2_descriptions(synth_one(c, tmp_path / "o"))
    assert [f for f in found if not EC2_DESCRIPTION.match(f[2])] == []
    rules = {rid for _, rid, _ in found}
    assert any("https_to_internet" in r for r in rules) is egress
    assert sum("all_to_platform" in r for r in rules) == 2 * len(routed)  # batch and workload groups


# --- transit gateway acceptance --------------------------------------------------------


def platform_variant(tmp_path: Path, mutate=None, **platform_env):
    """project-sample-dev with its platform env changed (a changed account is listed in accounts.yml)."""
    d = variant_dir(tmp_path / "c", mutate=mutate)
    account = yaml.safe_load((d / f"project-sample-dev{cfg.CONFIG_SUFFIX}").read_text())["account_id"]
    if account not in yaml.safe_load((d / cfg.ACCOUNTS_FILE).read_text())["accounts"]:
        add_account(d, account)
    platform = yaml.safe_load((d / cfg.PLATFORM_FILE).read_text())
    platform["environments"]["dev"].update(platform_env)
    (d / cfg.PLATFORM_FILE).write_text(yaml.safe_dump(platform))
    return cfg.load_file(d / f"project-sample-dev{cfg.CONFIG_SUFFIX}", backend_path=BACKEND)


def aliased(stack):
    return [p for p in stack["provider"]["aws"] if "alias" in p]


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_no_accepter_when_the_platform_auto_accepts(stacks, sample_configs, key) -> None:
    assert sample_configs[key].platform.transit_gateway_auto_accept is True  # the default
    stack = stacks[key][STACK]
    assert aliased(stack) == []
    assert "aws_ec2_transit_gateway_vpc_attachment_accepter" not in stack["resource"]


def test_the_platform_accepts_the_attachment_when_it_does_not_auto_accept(tmp_path: Path) -> None:
    options = {"appliance_mode_support": True, "default_route_table_association": False}
    c = platform_variant(
        tmp_path, mutate=lambda d: d["network"].update(transit_gateway=options), transit_gateway_auto_accept=False
    )
    by_id = synth_one(c, tmp_path / "o")
    stack = by_id[STACK]
    [provider] = aliased(stack)
    assert provider["alias"] == "platform" and provider["allowed_account_ids"] == [c.platform.account_id]
    assert provider["assume_role"] == [{"role_arn": c.platform.role_arn, "session_name": f"{c.key}-tgw"}]
    [(att_id, att)] = resources(stack, "aws_ec2_transit_gateway_vpc_attachment").items()
    [(acc_id, acc)] = resources(stack, "aws_ec2_transit_gateway_vpc_attachment_accepter").items()
    assert acc["provider"] == "aws.platform" and "provider" not in att
    assert acc["transit_gateway_attachment_id"] == f"${{aws_ec2_transit_gateway_vpc_attachment.{att_id}.id}}"
    # Route table options belong to the owner's side; appliance mode stays the requester's.
    assert acc["transit_gateway_default_route_table_association"] is False
    assert "transit_gateway_default_route_table_propagation" not in acc
    assert not [k for k in att if k.startswith("transit_gateway_default_route_table")]
    assert att["appliance_mode_support"] == "enable"
    routes = resources(stack, "aws_route").values()
    assert routes
    for route in routes:
        assert route["depends_on"] == [
            f"aws_ec2_transit_gateway_vpc_attachment.{att_id}",
            f"aws_ec2_transit_gateway_vpc_attachment_accepter.{acc_id}",
        ]
    # One helper builds the platform provider: DNS and the accepter differ only in the session name.
    [dns_provider] = aliased(by_id["algorithm-dns"])
    assert {**dns_provider, "assume_role": None} == {**provider, "assume_role": None}
    assert dns_provider["assume_role"][0]["session_name"] == f"{c.key}-dns"


def test_accepter_with_a_profile(tmp_path: Path) -> None:
    c = platform_variant(tmp_path, transit_gateway_auto_accept=False, access={"profile": "aces-platform-dev"})
    [provider] = aliased(synth_one(c, tmp_path / "o")[STACK])
    assert provider["profile"] == "aces-platform-dev" and "assume_role" not in provider


def test_no_accepter_in_the_platform_account_itself(tmp_path: Path, sample_configs) -> None:
    """An attachment in the gateway's own account is accepted by AWS: nothing to reach across."""
    account = sample_configs["project-sample-dev"].platform.account_id
    c = platform_variant(tmp_path, mutate=lambda d: d.update(account_id=account), transit_gateway_auto_accept=False)
    stack = synth_one(c, tmp_path / "o")[STACK]
    assert aliased(stack) == []
    assert "aws_ec2_transit_gateway_vpc_attachment_accepter" not in stack["resource"]


def test_auto_accept_must_be_a_flag(tmp_path: Path) -> None:
    from algoinfra.errors import ConfigError

    with pytest.raises(ConfigError, match=r"environments\.dev\.transit_gateway_auto_accept"):
        platform_variant(tmp_path, transit_gateway_auto_accept="no")
