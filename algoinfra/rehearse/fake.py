"""Deterministic, realistically shaped values for what AWS would compute.

A value depends only on the resource type, the attribute and the object's
known values (its configuration), never on time or chance: the same stacks
rehearse to the same state every time, and a later stack reads sensible
remote-state outputs (``vpc-…`` ids, ARNs with the region and the account
of the provider's ``allowed_account_ids``, ECR repository URLs...).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from algoinfra.rehearse import cty

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"

# Resource ids that AWS gives a prefix (the rest is hex).
ID_PREFIX = {
    "aws_vpc": "vpc-",
    "aws_subnet": "subnet-",
    "aws_security_group": "sg-",
    "aws_default_security_group": "sg-",
    "aws_route_table": "rtb-",
    "aws_route_table_association": "rtbassoc-",
    "aws_route": "r-rtb-",
    "aws_vpc_endpoint": "vpce-",
    "aws_ec2_transit_gateway_vpc_attachment": "tgw-attach-",
    "aws_ec2_transit_gateway": "tgw-",
    "aws_flow_log": "fl-",
    "aws_vpc_security_group_egress_rule": "sgr-",
    "aws_vpc_security_group_ingress_rule": "sgr-",
    "aws_internet_gateway": "igw-",
    "aws_nat_gateway": "nat-",
    "aws_eip": "eipalloc-",
    "aws_network_acl": "acl-",
    "aws_network_interface": "eni-",
    "aws_instance": "i-",
    "aws_route53_zone": "Z",
}
# Attributes named like a reference to another AWS object.
ATTR_PREFIX = {
    "vpc_id": "vpc-",
    "subnet_id": "subnet-",
    "security_group_id": "sg-",
    "default_security_group_id": "sg-",
    "route_table_id": "rtb-",
    "main_route_table_id": "rtb-",
    "default_route_table_id": "rtb-",
    "default_network_acl_id": "acl-",
    "network_acl_id": "acl-",
    "dhcp_options_id": "dopt-",
    "transit_gateway_id": "tgw-",
    "prefix_list_id": "pl-",
    "network_interface_id": "eni-",
    "security_group_rule_id": "sgr-",
    "key_id": "",
    "zone_id": "Z",
    "hosted_zone_id": "Z",
}
# type -> (ARN service, resource part); {name} and {id} are the object's own values.
ARN_SHAPE = {
    "aws_s3_bucket": ("s3", "{bucket}"),
    "aws_iam_role": ("iam", "role/{name}"),
    "aws_iam_policy": ("iam", "policy/{name}"),
    "aws_iam_instance_profile": ("iam", "instance-profile/{name}"),
    "aws_iam_user": ("iam", "user/{name}"),
    "aws_ecr_repository": ("ecr", "repository/{name}"),
    "aws_batch_compute_environment": ("batch", "compute-environment/{name}"),
    "aws_batch_job_queue": ("batch", "job-queue/{name}"),
    "aws_batch_job_definition": ("batch", "job-definition/{name}:1"),
    "aws_cloudwatch_log_group": ("logs", "log-group:{name}"),
    "aws_cloudwatch_event_rule": ("events", "rule/{name}"),
    "aws_codebuild_project": ("codebuild", "project/{name}"),
    "aws_codebuild_source_credential": ("codebuild", "token/github"),
    "aws_kms_key": ("kms", "key/{id}"),
    "aws_kms_alias": ("kms", "{name}"),
    "aws_secretsmanager_secret": ("secretsmanager", "secret:{name}-{suffix}"),
    "aws_ssm_parameter": ("ssm", "parameter/{name_no_slash}"),
    "aws_dynamodb_table": ("dynamodb", "table/{name}"),
    "aws_sns_topic": ("sns", "{name}"),
    "aws_sqs_queue": ("sqs", "{name}"),
    "aws_vpc": ("ec2", "vpc/{id}"),
    "aws_subnet": ("ec2", "subnet/{id}"),
    "aws_security_group": ("ec2", "security-group/{id}"),
    "aws_default_security_group": ("ec2", "security-group/{id}"),
    "aws_route_table": ("ec2", "route-table/{id}"),
    "aws_vpc_endpoint": ("ec2", "vpc-endpoint/{id}"),
    "aws_flow_log": ("ec2", "vpc-flow-log/{id}"),
    "aws_ec2_transit_gateway_vpc_attachment": ("ec2", "transit-gateway-attachment/{id}"),
    "aws_vpc_security_group_egress_rule": ("ec2", "security-group-rule/{id}"),
    "aws_vpc_security_group_ingress_rule": ("ec2", "security-group-rule/{id}"),
    "aws_route53_zone": ("route53", "hostedzone/{id}"),
}
GLOBAL_SERVICES = frozenset({"s3", "iam", "route53", "cloudfront"})
# Types whose id is a name the configuration gives.
NAME_ID_ATTRS = ("bucket", "name", "role", "repository", "secret_id", "function_name", "table_name")


@dataclass(frozen=True)
class Context:
    """What a value may depend on: the provider's account and region, the object's type and known values."""

    account: str
    region: str
    type_name: str
    known: dict[str, Any]

    def digest(self, salt: str = "") -> str:
        payload = json.dumps([self.type_name, _known_only(self.known), salt], sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()

    def hex(self, n: int, salt: str = "") -> str:
        return self.digest(salt)[:n]

    def digits(self, n: int, salt: str = "") -> str:
        return str(int(self.digest(salt), 16))[:n].rjust(n, "0")

    def string(self, key: str) -> str | None:
        value = self.known.get(key)
        return value if isinstance(value, str) and value else None


def _known_only(value: Any) -> Any:
    if value is cty.UNKNOWN:
        return None
    if isinstance(value, dict):
        return {k: _known_only(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_known_only(v) for v in value]
    return value


def resource_id(ctx: Context) -> str:
    prefix = ID_PREFIX.get(ctx.type_name)
    if prefix == "Z":  # Route 53 ids: upper case
        return prefix + ctx.hex(20).upper()
    if prefix is not None:
        return prefix + ctx.hex(17)
    if ctx.type_name == "aws_kms_key":
        h = ctx.hex(32)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    if ctx.type_name in ("aws_secretsmanager_secret", "aws_codebuild_project", "aws_batch_compute_environment") or (
        ctx.type_name.startswith("aws_batch_")
    ):
        return arn(ctx)
    for key in NAME_ID_ATTRS:
        if name := ctx.string(key):
            return name
    return ctx.hex(20)


def name_from_prefix(prefix: str, ctx: Context) -> str:
    """What Terraform's ``name_prefix`` becomes: the prefix and 26 digits (a timestamp and a counter)."""
    return prefix + ctx.digits(26, "name")


def arn(ctx: Context, *, own_id: str | None = None) -> str:
    service, shape = ARN_SHAPE.get(ctx.type_name, (_service(ctx.type_name), "{kind}/{id}"))
    name = ctx.string("name") or ctx.string("bucket") or ctx.string("name_prefix") or ctx.hex(12)
    resource = shape.format(
        name=name,
        bucket=ctx.string("bucket") or name,
        id=own_id or ctx.string("id") or (ID_PREFIX.get(ctx.type_name, "") + ctx.hex(17)),
        suffix=ctx.hex(6, "arn"),
        name_no_slash=name.lstrip("/"),
        kind=ctx.type_name.removeprefix("aws_").replace("_", "-"),
    )
    region = "" if service in GLOBAL_SERVICES else ctx.region
    account = "" if service == "s3" else ctx.account
    return f"arn:aws:{service}:{region}:{account}:{resource}"


def _service(type_name: str) -> str:
    return type_name.removeprefix("aws_").split("_")[0]


def string_for(attr: str, ctx: Context) -> str:
    """A computed string attribute of a resource or data source, shaped by its name."""
    if attr == "id":
        return resource_id(ctx)
    if attr == "arn":
        return arn(ctx)
    if attr == "arn_prefix":
        return arn(ctx).rsplit(":", 1)[0] if ctx.type_name == "aws_batch_job_definition" else arn(ctx)
    if attr == "name" and (prefix := ctx.string("name_prefix")):
        return name_from_prefix(prefix, ctx)
    if attr in ("region",):
        return ctx.region
    if attr in ("owner_id", "account_id", "registry_id", "owner_account_id"):
        return ctx.account
    if attr == "repository_url":
        return f"{ctx.account}.dkr.ecr.{ctx.region}.amazonaws.com/{ctx.string('name') or ctx.hex(8)}"
    if attr == "partition":
        return "aws"
    if attr == "dns_suffix":
        return "amazonaws.com"
    if attr in ("bucket_domain_name", "bucket_regional_domain_name"):
        regional = f".{ctx.region}" if attr == "bucket_regional_domain_name" else ""
        return f"{ctx.string('bucket') or ctx.hex(8)}.s3{regional}.amazonaws.com"
    if attr == "hosted_zone_id" and ctx.type_name == "aws_s3_bucket":
        return "Z2M4EHUR26P7ZW"
    if attr in ATTR_PREFIX:
        prefix = ATTR_PREFIX[attr]
        return prefix + (ctx.hex(17, attr).upper() if prefix == "Z" else ctx.hex(17, attr))
    if attr.endswith("_arn"):
        kind = attr.removesuffix("_arn").replace("_", "-")
        return f"arn:aws:{_service(ctx.type_name)}:{ctx.region}:{ctx.account}:{kind}/{ctx.hex(12, attr)}"
    if attr.endswith("_id"):
        return ctx.hex(17, attr)
    if attr == "secret_string":
        return "rehearsal-placeholder"
    if attr in ("version_id", "etag", "revision", "version"):
        return ctx.hex(32, attr)
    return ""


def fill(value: Any, ty: Any, attr: str, ctx: Context) -> Any:
    """Replace every unknown inside ``value`` (of cty type ``ty``) by a known value."""
    if value is cty.UNKNOWN:
        if ty == "string":
            return string_for(attr, ctx)
        if ty == "number" and attr in ("revision", "version", "latest_version", "schema_version"):
            return 1
        return cty.zero(ty)
    if value is None or ty in ("string", "number", "bool", "dynamic"):
        return value
    kind = ty[0]
    if kind in ("list", "set"):
        return [fill(v, ty[1], attr, ctx) for v in value]
    if kind == "map":
        return {k: fill(v, ty[1], attr, ctx) for k, v in value.items()}
    if kind == "tuple":
        return [fill(v, t, attr, ctx) for v, t in zip(value, ty[1], strict=False)]
    if kind == "object":
        return {k: fill(value.get(k), t, k, ctx) for k, t in ty[1].items()}
    return value
