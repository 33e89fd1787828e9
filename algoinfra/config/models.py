"""The config model: what each file may say, with a description per field.

Three kinds of class:

* sections shared by the file and the stacks (``Network``, ``Store``, ``Job``...);
* the file shapes the JSON Schemas come from (``ProjectFile``, ``PlatformFile``,
  ``AccountsFile``, ``BackendFile``);
* the loaded objects a stack reads, a file shape plus what the loader adds
  (``ProjectConfig``, ``PlatformEnv``, ``Account``, ``Backend``), built by
  ``algoinfra.config.loader`` without validating twice.

A model checks everything one file can tell (shapes, bounds, and rules across
its own fields); the loader checks what needs several files.
"""

import ipaddress
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

from algoinfra.config import facts
from algoinfra.config.types import (
    ACCOUNT_ID_SCHEMA,
    AccountId,
    AvailabilityZone,
    Cidr,
    Invalid,
    Items,
    Model,
    OneOf,
    PeopleName,
    ProfileName,
    ReadOnly,
    Region,
    RoleArn,
    Shape,
    echo,
    parse_cidr,
    role_account,
)
from algoinfra.naming import PROJECT_RE, Names, s3_bucket_name_problem

ENVS = ("dev", "staging", "production")
Env = Annotated[str, OneOf(*ENVS)]

# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
    2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

# What AWS Batch on ECS needs in private subnets with no NAT (the S3 gateway
# endpoint is always created on top of these: image layers come from S3).
DEFAULT_INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "ecs", "ecs-agent", "ecs-telemetry", "logs", "sts")

IMAGE_TYPE_CPU = "ECS_AL2023"
IMAGE_TYPE_GPU = "ECS_AL2023_NVIDIA"
ROOT_VOLUME_GIB = {IMAGE_TYPE_CPU: 30, IMAGE_TYPE_GPU: 100}

SUBNET_TIERS = ("workload", "attachment")

# Default tags the tool sets on every project stack; AWS allows 50 per resource.
TOOL_TAGS = ("Project", "Env", "ManagedBy")
# Tags the tool sets on some resources of its own (VPC, subnets, route tables, security groups, endpoints).
RESOURCE_TAGS = ("Name", "Tier")
MAX_TAGS = 50
MAX_USER_TAGS = MAX_TAGS - len(TOOL_TAGS) - len(RESOURCE_TAGS)


def section(cls: type[Model], description: str) -> Any:
    """A section the file may leave out: then its defaults (validated, so derived values are filled in)."""
    return Field(default_factory=lambda: cls.model_validate({}), description=description)


# Field types of this file (shared ones are in algoinfra.config.types).
Days = Annotated[int, Field(ge=1, le=3650)]


def _bucket_name(value: str) -> str:
    if (problem := s3_bucket_name_problem(value)) is not None:
        raise Invalid(f"{echo(value)} {problem}")
    return value


def _bucket_arn(value: str) -> str:
    bucket, _, prefix = value.removeprefix("arn:aws:s3:::").partition("/")
    _bucket_name(bucket)
    if "AWSLogs" in prefix.split("/"):
        raise Invalid("the prefix may not have a folder named AWSLogs (flow logs add AWSLogs/<account>/ themselves)")
    return value


def _github_repository(value: str) -> str:
    # Owners ending in '-' or holding '--' are refused for new sign-ups only; older accounts exist.
    name = value.split("/", 1)[1]
    if name in (".", ".."):
        raise Invalid(f"{echo(value)}: a GitHub repository cannot be named {name!r}")
    return value


BucketName = Annotated[
    str, Shape("an S3 bucket name", r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"), AfterValidator(_bucket_name)
]
TableName = Annotated[str, Shape("a DynamoDB table name", r"^[A-Za-z0-9_.-]{3,255}$")]
ExternalId = Annotated[
    str, Shape("an external id (2-1224 of letters, digits and + = , . @ : / _ -)", r"^[A-Za-z0-9+=,.@:/_-]{2,1224}$")
]
SessionName = Annotated[
    str, Shape("a session name (2-64 of letters, digits and + = , . @ _ -)", r"^[A-Za-z0-9+=,.@_-]{2,64}$")
]
TransitGatewayId = Annotated[str, Shape("a transit gateway id such as tgw-0123456789abcdef0", r"^tgw-[0-9a-f]{8,17}$")]
HostedZoneId = Annotated[str, Shape("a Route 53 hosted zone id such as Z01071141WW60DUCZDB4U", r"^Z[0-9A-Z]{1,31}$")]
GitHubRepository = Annotated[
    str,
    Shape("owner/name of a GitHub repository", r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$"),
    AfterValidator(_github_repository),
]
S3BucketArn = Annotated[
    str,
    Shape(
        "an S3 bucket ARN such as arn:aws:s3:::bucket",
        r"^arn:aws:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](?:/[A-Za-z0-9!_.*'()/-]*)?$",
    ),
    AfterValidator(_bucket_arn),
]
TagFilter = Annotated[
    str, Shape("an ECR tag filter (letters, digits, _ . - and * as wildcard)", r"^[A-Za-z0-9_.*-]{1,128}$")
]
Origin = Annotated[
    str, Shape("'*' or an origin such as https://example.com", r"^(?:\*|https?://[A-Za-z0-9.*-]+(?::[0-9]{1,5})?)$")
]
ImageTag = Annotated[
    str, Shape("an image tag (letters, digits, _ . -; at most 128)", r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
]
ProjectName = Annotated[
    str, Shape("'project-' followed by lowercase letters, digits and hyphens", PROJECT_RE.pattern, max_length=63)
]


def _retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise Invalid(f"CloudWatch Logs accepts {', '.join(map(str, LOG_RETENTION_DAYS))}; got {value}")
    return value


LogRetentionDays = Annotated[
    int, AfterValidator(_retention), WithJsonSchema({"type": "integer", "enum": list(LOG_RETENTION_DAYS)})
]


# ---------------------------------------------------------------------------
# backend.tf.json (Terraform's own S3 backend shape)
# ---------------------------------------------------------------------------


class AssumeRole(Model):
    """The role Terraform assumes for state (the S3 backend's ``assume_role`` block)."""

    role_arn: RoleArn = Field(
        description="IAM role in the state account with access to the state bucket and lock table"
    )
    external_id: ExternalId | None = Field(
        default=None, description="external id the role's trust policy requires, if any"
    )
    session_name: SessionName | None = Field(default=None, description="session name shown in CloudTrail")


class S3Backend(Model):
    bucket: BucketName = Field(description="the state bucket")
    region: Region = Field(description="region of the state bucket and lock table")
    dynamodb_table: TableName = Field(description="the lock table")
    encrypt: bool = Field(default=True, description="must be true: the state holds the CodeBuild GitHub token")
    use_lockfile: bool = Field(default=True, description="S3 native locking (Terraform >= 1.10)")
    assume_role: AssumeRole | None = Field(
        default=None, description="role to assume for state; it must be in accounts.yml's state_account_id"
    )
    profile: ProfileName | None = Field(default=None, description="AWS profile for state access")

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.encrypt is not True:
            raise Invalid("must be true: the state holds the CodeBuild GitHub token", "encrypt")
        return self


class BackendBlock(Model):
    s3: S3Backend


class TerraformBlock(Model):
    backend: BackendBlock


class BackendFile(Model):
    """``backend.tf.json``: where every stack but ``terraform-state`` keeps its state."""

    terraform: TerraformBlock


class Backend(S3Backend):
    """The loaded backend, with the file it came from."""

    # Built by the loader from validated parts (model_construct), never validated
    # itself: no validator is built for it, which keeps the import fast.
    model_config = ConfigDict(defer_build=True)

    path: Path


# ---------------------------------------------------------------------------
# configs/accounts.yml
# ---------------------------------------------------------------------------


class AccountBaseline(Model):
    enabled: bool = Field(
        default=True,
        description="this tool manages the account-baseline stack (GitHub token secret, CodeBuild credential);"
        " false where they exist and stay unmanaged",
    )
    codebuild_source_credential: bool = Field(
        default=True,
        description="the stack includes the CodeBuild GitHub source credential"
        " (false for the first deploy in a new account)",
    )


class AccountAdopt(Model):
    github_token_secret: bool = Field(
        default=False, description="import the existing GITHUB_PERSONAL_ACCESS_TOKEN secret instead of creating it"
    )
    codebuild_source_credential: bool = Field(
        default=False, description="import the existing CodeBuild GitHub source credential instead of creating it"
    )


class AccountSpec(Model):
    name: PeopleName = Field(description="what the account is, for people")
    baseline: AccountBaseline = section(AccountBaseline, "the account-baseline stack of this account")
    adopt: AccountAdopt = section(AccountAdopt, "account-wide resources that exist already and are imported")

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.adopt.github_token_secret and not self.baseline.enabled:
            raise Invalid(
                "adopts the token secret, but baseline.enabled is false: nothing would manage it",
                "adopt",
                "github_token_secret",
            )
        if self.adopt.codebuild_source_credential and not (
            self.baseline.enabled and self.baseline.codebuild_source_credential
        ):
            raise Invalid(
                "adopts the CodeBuild credential, but the baseline does not create one"
                " (baseline.enabled and baseline.codebuild_source_credential must be true)",
                "adopt",
                "codebuild_source_credential",
            )
        return self


class AccountsFile(Model):
    """``configs/accounts.yml``: settings that exist once per AWS account."""

    state_account_id: AccountId = Field(
        description="the account holding the state bucket and lock table (backend.tf.json's assume_role must be in it)"
    )
    accounts: Annotated[Mapping[AccountId, AccountSpec], ReadOnly(max_items=1000)] = Field(
        json_schema_extra={"propertyNames": ACCOUNT_ID_SCHEMA},
        description="every account a project config uses, by quoted 12-digit id",
    )


class Account(AccountSpec):
    """One account's settings, as the stacks read them."""

    # Built by the loader from validated parts (model_construct), never validated
    # itself: no validator is built for it, which keeps the import fast.
    model_config = ConfigDict(defer_build=True)

    account_id: str

    @property
    def has_github_credential(self) -> bool:
        """CodeBuild can reach GitHub: the baseline creates the source credential, or the account
        keeps one this tool does not manage (baseline off). Not during a new account's first deploy,
        when the secret has no value yet and ``codebuild_source_credential`` is false."""
        return not self.baseline.enabled or self.baseline.codebuild_source_credential


class Accounts(Model):
    model_config = ConfigDict(defer_build=True)  # built by the loader

    path: Path
    state_account_id: str
    accounts: Mapping[str, Account]


# ---------------------------------------------------------------------------
# configs/platform.yml
# ---------------------------------------------------------------------------


def _routed_cidr(value: str) -> str:
    net = parse_cidr(value)
    if net.prefixlen == 0:
        raise Invalid("0.0.0.0/0 is not a routed CIDR: set egress: true for a default route")
    if why := facts.reserved_overlap(net, containers=False):
        raise Invalid(f"cannot be routed: {why}")
    return value


RoutedCidr = Annotated[Cidr, AfterValidator(_routed_cidr)]


class PlatformAccess(Model):
    role_arn: RoleArn | None = Field(
        default=None,
        description="role in the platform account that algorithm-dns (and algorithm-server-infra, when it"
        " accepts the attachment) assumes",
    )
    profile: ProfileName | None = Field(default=None, description="AWS profile for the platform account")

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.role_arn is None and self.profile is None:
            raise Invalid("give a role ARN to assume or a profile (or both) to reach the platform account", "role_arn")
        return self


class PlatformEnvSpec(Model):
    account_id: AccountId = Field(description="the platform account, owner of the transit gateway and hosted zone")
    account_name: PeopleName | None = Field(
        default=None, description="for people (`ACES`, `aces_service_aces_platform_staging`...); default: the env name"
    )
    region: Region = Field(description="the transit gateway's region")
    transit_gateway_id: TransitGatewayId = Field(
        description="`tgw-...`; envs that name the same gateway are one routing domain (their CIDRs must not overlap)"
    )
    transit_gateway_auto_accept: bool = Field(
        default=True,
        description="the gateway accepts attachments by itself; false: algorithm-server-infra accepts the attachment"
        " in the platform account (with the project's route table options)",
    )
    routed_cidrs: Annotated[tuple[RoutedCidr, ...], Items(min_items=1, max_items=100)] = Field(
        description="CIDRs reached through the gateway: one route per workload route table and CIDR"
    )
    egress: bool = Field(
        default=False, description="the platform provides internet egress: adds a default route and HTTPS egress"
    )
    private_hosted_zone_id: HostedZoneId = Field(
        description="the platform's private hosted zone the VPC is associated with"
    )
    access: PlatformAccess = Field(
        description="how `algorithm-dns` reaches the platform account: `role_arn` and/or `profile`"
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.access.role_arn is not None and role_account(self.access.role_arn) != self.account_id:
            raise Invalid(
                f"role is in account {role_account(self.access.role_arn)}, not the platform account {self.account_id}",
                "access",
                "role_arn",
            )
        nets = [facts.Interval.of(parse_cidr(c), c) for c in self.routed_cidrs]
        if pair := facts.first_overlap(nets):
            raise Invalid(f"{pair[0].net} and {pair[1].net} overlap", "routed_cidrs")
        return self


class PlatformFile(Model):
    """``configs/platform.yml``: facts of the shared platform, per env."""

    environments: Annotated[Mapping[Env, PlatformEnvSpec], ReadOnly()] = Field(description="one entry per env")

    @model_validator(mode="after")
    def _check(self) -> Self:
        by_gateway: dict[str, tuple[str, PlatformEnvSpec]] = {}
        for env, spec in self.environments.items():
            first = by_gateway.setdefault(spec.transit_gateway_id, (env, spec))
            other_env, other = first
            for key in ("account_id", "region"):
                if getattr(spec, key) != getattr(other, key):
                    raise Invalid(
                        f"{echo(getattr(spec, key))} differs from {other_env}'s {echo(getattr(other, key))},"
                        f" but both name transit gateway {spec.transit_gateway_id}",
                        "environments",
                        env,
                        key,
                    )
        return self


class PlatformEnv(PlatformEnvSpec):
    """The platform of one env, as the stacks read it."""

    # Built by the loader from validated parts (model_construct), never validated
    # itself: no validator is built for it, which keeps the import fast.
    model_config = ConfigDict(defer_build=True)

    env: str
    account_name: str

    @property
    def role_arn(self) -> str | None:
        return self.access.role_arn

    @property
    def profile(self) -> str | None:
        return self.access.profile


class Platform(Model):
    model_config = ConfigDict(defer_build=True)  # built by the loader

    path: Path
    envs: Mapping[str, PlatformEnv]


# ---------------------------------------------------------------------------
# Project config sections
# ---------------------------------------------------------------------------

_TAG_CHARS = r"^[\w .:/=+@-]*$"
_RESERVED_TAGS = facts.case_insensitive_pattern(TOOL_TAGS + RESOURCE_TAGS)
_AWS_PREFIX = r"^[aA][wW][sS]:"
_TAG_TEXT = re.compile(_TAG_CHARS.removeprefix("^").removesuffix("$"))  # fullmatch: Python's $ allows a final newline


def _check_tags(tags: Mapping[str, str]) -> Mapping[str, str]:
    tool = {t.lower(): t for t in TOOL_TAGS + RESOURCE_TAGS}
    seen: dict[str, str] = {}
    for key, value in tags.items():
        if key.lower() in tool:
            raise Invalid(
                f"collides with the tool's own tag {tool[key.lower()]!r} (tag keys are compared ignoring case)", key
            )
        if key.lower() in seen:
            raise Invalid(
                f"collides with the tag {seen[key.lower()]!r}: IAM compares tag keys ignoring case, and every"
                " tag reaches the project's IAM roles",
                key,
            )
        seen[key.lower()] = key
        if key.lower().startswith("aws:"):
            raise Invalid("tag keys starting with 'aws:' are reserved for AWS", key)
        if not 1 <= len(key) <= 128 or not _TAG_TEXT.fullmatch(key):
            raise Invalid("a tag key is 1-128 letters, digits, spaces and _ . : / = + @ -", key)
        if len(value) > 256 or not _TAG_TEXT.fullmatch(value):
            raise Invalid(
                f"a tag value is at most 256 letters, digits, spaces and _ . : / = + @ -; got {echo(value)}", key
            )
    if len(tags) > MAX_USER_TAGS:
        own = TOOL_TAGS + RESOURCE_TAGS
        raise Invalid(
            f"{len(tags)} tags, plus the tool's {len(own)} ({', '.join(own)}), is more than"
            f" the {MAX_TAGS} AWS allows per resource"
        )
    return tags


Tags = Annotated[
    Mapping[str, str],
    ReadOnly(),
    AfterValidator(_check_tags),
    WithJsonSchema(
        {
            "type": "object",
            "maxProperties": MAX_USER_TAGS,
            "propertyNames": {
                "minLength": 1,
                "maxLength": 128,
                "pattern": _TAG_CHARS,
                "not": {"anyOf": [{"pattern": _RESERVED_TAGS}, {"pattern": _AWS_PREFIX}]},
            },
            "additionalProperties": {"type": "string", "maxLength": 256, "pattern": _TAG_CHARS},
        }
    ),
]


def _branch(value: str) -> str:
    if problem := facts.git_ref_problem(value):
        raise Invalid(f"not a valid git branch name {echo(value)}: {problem}")
    return value


def _buildspec(value: str) -> str:
    if any(part in ("", ".", "..") for part in value.split("/")):
        raise Invalid(f"must be a relative path inside the repository without '.' or '..' parts, got {echo(value)}")
    return value


class GitHub(Model):
    repository: GitHubRepository = Field(description="`owner/name` of the algorithm's repository (CodeBuild source)")
    branch: Annotated[
        str, Shape("a git branch name", r"^[^\x00-\x20\x7f~^:?*\[\\]{1,255}$"), AfterValidator(_branch)
    ] = Field(default="main", description="the branch CodeBuild builds (a valid git ref name)")
    buildspec: (
        Annotated[
            str,
            Shape("a buildspec path inside the repository", r"^[A-Za-z0-9_.-][A-Za-z0-9_./-]{0,254}$"),
            AfterValidator(_buildspec),
        ]
        | None
    ) = Field(
        default=None,
        description="a buildspec path in the repository; default: built in, builds the Dockerfile and pushes the"
        " commit tag (only on the commit's first build: commit tags are immutable) and `job.image_tag`;"
        " a custom buildspec must do the same",
    )


class FlowLogs(Model):
    destination: Annotated[str, OneOf("cloud-watch-logs", "s3")] = Field(
        default="cloud-watch-logs", description="`cloud-watch-logs`, or `s3` with `s3_bucket_arn`"
    )
    retention_days: LogRetentionDays = Field(default=365, description="a CloudWatch Logs retention value")
    s3_bucket_arn: S3BucketArn | None = Field(
        default=None, description="the bucket flow logs go to, with `destination: s3`"
    )
    traffic_type: Annotated[str, OneOf("ALL", "ACCEPT", "REJECT")] = Field(
        default="ALL", description="`ALL`, `ACCEPT` or `REJECT`"
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.destination == "s3" and self.s3_bucket_arn is None:
            raise Invalid("is required when destination is s3", "s3_bucket_arn")
        if self.destination != "s3" and self.s3_bucket_arn is not None:
            raise Invalid("only applies with destination s3", "s3_bucket_arn")
        return self


class TransitGatewayOptions(Model):
    """Options of the attachment that a shared gateway's owner may control; unset leaves them to the gateway."""

    appliance_mode_support: bool | None = Field(
        default=None, description="`true`/`false`; unset leaves it to the gateway's owner"
    )
    default_route_table_association: bool | None = Field(
        default=None,
        description="unset leaves it to the owner; on a shared gateway only with the platform env's"
        " `transit_gateway_auto_accept: false` (the accepter in the owner's account applies it)",
    )
    default_route_table_propagation: bool | None = Field(
        default=None, description="as `default_route_table_association`"
    )


def _vpc_cidr(value: str) -> str:
    net = parse_cidr(value)
    if not 16 <= net.prefixlen <= 28:
        raise Invalid(f"VPC prefix must be between /16 and /28, got /{net.prefixlen}")
    if why := facts.reserved_overlap(net, containers=True):
        raise Invalid(f"a VPC cannot use it: {why}")
    return value


def _endpoint_service(value: str) -> str:
    if value == "s3":
        raise Invalid("s3 always gets a gateway endpoint (free); do not list it here")
    return value


EndpointService = Annotated[
    str,
    Shape("an interface endpoint service name such as ecr.api", r"^[a-z0-9-]+(?:\.[a-z0-9-]+)*$"),
    AfterValidator(_endpoint_service),
    WithJsonSchema({"type": "string", "enum": list(facts.all_endpoint_services())}),
]


def _default_endpoint_azs(data: dict[str, Any]) -> Any:
    return data["availability_zones"]


class Network(Model):
    vpc_cidr: Annotated[Cidr, AfterValidator(_vpc_cidr)] = Field(
        description="IPv4 CIDR, /16 to /28, no host bits, not in a reserved range (loopback, link-local, multicast,"
        " 0.0.0.0/8, 240.0.0.0/4, documentation ranges, Docker's 172.17.0.0/16); must not overlap another VPC nor"
        " a routed CIDR on the same transit gateway"
    )
    availability_zones: Annotated[tuple[AvailabilityZone, ...], Items(min_items=1, max_items=6)] = Field(
        description="AZs of the region, such as `ap-northeast-1a` (ap-northeast-1 has a, c and d)"
    )
    subnets: Annotated[
        Mapping[
            Annotated[str, OneOf(*SUBNET_TIERS)], Annotated[Mapping[AvailabilityZone, Cidr], ReadOnly(max_items=6)]
        ],
        ReadOnly(),
    ] = Field(
        default_factory=lambda: MappingProxyType({}),
        description="`{workload: {<az>: cidr}, attachment: {<az>: cidr}}`; default: derived from `vpc_cidr`"
        " (needs /22 or larger): the VPC in eighths, workload subnet = eighth number *AZ letter* (a=0 ... f=5),"
        " attachment /28s in the last eighth, again by AZ letter, so adding an AZ never moves a subnet",
    )
    interface_endpoints: Annotated[tuple[EndpointService, ...], Items(max_items=50)] = Field(
        default=DEFAULT_INTERFACE_ENDPOINTS,
        description="interface endpoint services the region offers (algoinfra/data/endpoint_services.yml); the"
        " default is what Batch needs without NAT; S3 always gets a (free) gateway endpoint",
    )
    endpoint_availability_zones: Annotated[tuple[AvailabilityZone, ...], Items(min_items=1, max_items=6)] = Field(
        default_factory=_default_endpoint_azs,
        description="the AZs that carry the interface endpoints (billed per AZ-hour); default: all AZs",
    )
    flow_logs: FlowLogs = section(FlowLogs, "VPC flow logs")
    transit_gateway: TransitGatewayOptions = section(TransitGatewayOptions, "options of the transit gateway attachment")

    @model_validator(mode="after")
    def _complete(self) -> Self:
        for az in self.endpoint_availability_zones:
            if az not in self.availability_zones:
                raise Invalid(f"{echo(az)} is not in network.availability_zones", "endpoint_availability_zones")
        vpc = parse_cidr(self.vpc_cidr)
        subnets = _explicit_subnets(self, vpc) if "subnets" in self.model_fields_set else _derived_subnets(self, vpc)
        endpoint_azs = tuple(az for az in self.availability_zones if az in self.endpoint_availability_zones)
        return self.model_copy(update={"subnets": subnets, "endpoint_availability_zones": endpoint_azs})


def _az_slot(az: str) -> int:
    """A stable slot per AZ from its letter, so adding an AZ never moves another."""
    return ord(az[-1]) - ord("a")


def _frozen_plan(plan: dict[str, dict[str, str]]) -> Mapping[str, Mapping[str, str]]:
    return MappingProxyType({tier: MappingProxyType(by_az) for tier, by_az in plan.items()})


def _derived_subnets(network: Network, vpc: ipaddress.IPv4Network) -> Mapping[str, Mapping[str, str]]:
    """The default CIDR plan: the VPC in eighths.

    Workload subnets take eighth number <AZ letter> (a=0 ... f=5); eighth 6 is
    kept free for a later tier; eighth 7 holds the /28 attachment subnets, again
    one slot per AZ letter. Keyed by AZ letter, not list position.
    """
    if vpc.prefixlen > 22:
        raise Invalid(
            f"/{vpc.prefixlen} is too small to derive the subnet plan (needs /22 or larger); give network.subnets",
            "vpc_cidr",
        )
    eighths = list(vpc.subnets(prefixlen_diff=3))
    attachment_pool = list(eighths[7].subnets(new_prefix=28))
    workload: dict[str, str] = {}
    attachment: dict[str, str] = {}
    for az in network.availability_zones:
        slot = _az_slot(az)
        if slot > 5:
            raise Invalid(
                f"{echo(az)}: the derived plan covers AZ letters a-f; give network.subnets", "availability_zones"
            )
        workload[az] = str(eighths[slot])
        attachment[az] = str(attachment_pool[slot])
    return _frozen_plan({"workload": workload, "attachment": attachment})


def _explicit_subnets(network: Network, vpc: ipaddress.IPv4Network) -> Mapping[str, Mapping[str, str]]:
    plan: dict[str, dict[str, str]] = {}
    nets: list[facts.Interval] = []
    for tier in SUBNET_TIERS:
        given = network.subnets.get(tier)
        if given is None:
            raise Invalid("is required: every tier needs a subnet in every availability zone", "subnets", tier)
        for az in given:
            if az not in network.availability_zones:
                raise Invalid("is not in network.availability_zones", "subnets", tier, az)
        plan[tier] = {}
        for az in network.availability_zones:
            if az not in given:
                raise Invalid("is required: every tier needs a subnet in every availability zone", "subnets", tier, az)
            net = parse_cidr(given[az])
            if not net.subnet_of(vpc):
                raise Invalid(f"{net} is not inside the VPC {vpc}", "subnets", tier, az)
            if net.prefixlen > 28:
                raise Invalid(f"{net} is smaller than /28, the smallest subnet AWS allows", "subnets", tier, az)
            nets.append(facts.Interval.of(net, f"{tier}.{az}"))
            plan[tier][az] = str(net)
    if pair := facts.first_overlap(nets):
        earlier, later = sorted(pair, key=lambda i: _plan_order(i.owner))
        tier, az = later.owner.split(".", 1)
        raise Invalid(f"{later.net} overlaps network.subnets.{earlier.owner} {earlier.net}", "subnets", tier, az)
    return _frozen_plan(plan)


def _plan_order(owner: str) -> tuple[int, str]:
    tier, az = owner.split(".", 1)
    return SUBNET_TIERS.index(tier), az


class Ecr(Model):
    image_tag_mutability: Annotated[str, OneOf("IMMUTABLE", "MUTABLE")] = Field(
        default="IMMUTABLE", description="`IMMUTABLE` or `MUTABLE`"
    )
    mutable_tags: Annotated[tuple[TagFilter, ...], Items(max_items=10)] = Field(
        default_factory=tuple,
        description="tag filters (`*` is a wildcard) excluded from immutability; default with `IMMUTABLE`:"
        " `[<job.image_tag>]`; must cover `job.image_tag`, which CodeBuild pushes on every build",
    )
    untagged_image_expiration_days: Days = Field(default=14, description="untagged images expire after")
    tagged_images_to_keep: Annotated[int, Field(ge=1, le=10000)] = Field(
        default=30, description="the newest tagged images kept"
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.mutable_tags and self.image_tag_mutability == "MUTABLE":
            raise Invalid("only makes sense with image_tag_mutability IMMUTABLE", "mutable_tags")
        return self


class Store(Model):
    cors_allowed_origins: Annotated[tuple[Origin, ...], Items(min_items=1, max_items=100)] = Field(
        default=("*",),
        description="as the runbook (`*`, GET and PUT, max age 3000 s); may be narrowed to `https://...` origins",
    )
    encryption: Annotated[str, OneOf("sse-s3", "kms")] = Field(
        default="sse-s3",
        description="`sse-s3`, or `kms`: a customer managed key (rotating) for buckets, images and CodeBuild",
    )
    kms_key_retained: bool = Field(
        default=False,
        description="with `sse-s3` only: keep a former store key (protected) so old object versions stay readable"
        " and the repository keeps its encryption (AWS cannot change it in place); set it when switching from"
        " `kms` back to `sse-s3` (without it, a protected store's key is forgotten by Terraform, not destroyed)",
    )
    noncurrent_version_expiration_days: Days = Field(default=90, description="data bucket: old versions expire after")
    abort_incomplete_multipart_upload_days: Annotated[int, Field(ge=1, le=365)] = Field(
        default=7, description="both buckets"
    )
    trigger_object_expiration_days: Days = Field(default=30, description="trigger bucket: objects expire after")
    prevent_destroy: bool = Field(
        default_factory=lambda: False,
        description="both buckets (and the store key); default: `false` in dev, `true` elsewhere",
    )
    ecr: Ecr = section(Ecr, "the image repository")

    @property
    def kms_key(self) -> bool:
        """The store encrypts new objects with its own KMS key (``encryption: kms``)."""
        return self.encryption == "kms"

    @property
    def has_key(self) -> bool:
        """The store keeps its KMS key: in use, or retained for what it encrypted (old object
        versions, and the repository, whose encryption AWS cannot change in place)."""
        return self.kms_key or self.kms_key_retained

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.kms_key_retained and self.encryption == "kms":
            raise Invalid("only applies with encryption sse-s3: with kms the key is in use anyway", "kms_key_retained")
        return self


def _instance_type(value: str) -> str:
    if facts.is_amd_gpu_instance_type(value):
        raise Invalid(f"{echo(value)} has AMD GPUs; Batch has no ECS image for them")
    if facts.is_arm64_instance_type(value):
        raise Invalid(
            f"{echo(value)} is an arm64 (Graviton) type; the image build makes x86_64 images, which cannot run on it"
        )
    if facts.is_batch_unsupported_instance_type(value):
        raise Invalid(f"{echo(value)}: AWS Batch cannot launch this class (mac instances need dedicated hosts)")
    return value


InstanceType = Annotated[
    str,
    Shape(
        "optimal, an EC2 instance family (m6i, g5) or type (m6i.xlarge, g5.12xlarge, m7i.metal-24xl)",
        facts.instance_type_pattern(),
    ),
    AfterValidator(_instance_type),
]


def _default_image_type(data: dict[str, Any]) -> str:
    return IMAGE_TYPE_GPU if any(facts.is_gpu_instance_type(t) for t in data["instance_types"]) else IMAGE_TYPE_CPU


def _default_root_volume(data: dict[str, Any]) -> int:
    return ROOT_VOLUME_GIB[data["image_type"]]


class Compute(Model):
    provisioning: Annotated[str, OneOf("SPOT", "EC2")] = Field(
        default="SPOT", description="`SPOT` or `EC2` (on-demand)"
    )
    on_demand_fallback: bool = Field(
        default=False, description="with `SPOT`: an on-demand environment behind the spot one in the queue"
    )
    instance_types: Annotated[tuple[InstanceType, ...], Items(min_items=1, max_items=20)] = Field(
        default=("m6i.large", "m6i.xlarge", "c6i.xlarge"),
        description="`optimal`, families (`m6i`, `g5`) or types (`m6i.xlarge`, `g5.12xlarge`, `m7i.metal-24xl`);"
        " x86_64 only (the image build makes x86_64 images: Graviton families such as m6g, c7g, g5g refused);"
        " NVIDIA GPU families (g4dn, g5, g6, p4d, p5...) allowed, AMD GPU families and mac refused",
    )
    max_vcpus: Annotated[int, Field(ge=1, le=10000)] = Field(
        default=16, description="`min_vcpus` is always 0: idle costs nothing"
    )
    image_type: Annotated[str, OneOf(IMAGE_TYPE_CPU, IMAGE_TYPE_GPU)] = Field(
        default_factory=_default_image_type,
        description="`ECS_AL2023`, or `ECS_AL2023_NVIDIA`; default: NVIDIA when a GPU family is listed"
        " (a GPU family with `ECS_AL2023` is an error)",
    )
    root_volume_size_gib: Annotated[int, Field(ge=30, le=16384)] = Field(
        default_factory=_default_root_volume,
        description="encrypted root volume of each Batch host; default: 30 with `ECS_AL2023`, 100 with"
        " `ECS_AL2023_NVIDIA` (GPU images are large)",
    )

    @property
    def kinds(self) -> tuple[str, ...]:
        """Compute environments in job-queue order."""
        if self.provisioning == "SPOT" and self.on_demand_fallback:
            return ("SPOT", "EC2")
        return (self.provisioning,)

    @property
    def has_gpus(self) -> bool:
        return any(facts.is_gpu_instance_type(t) for t in self.instance_types)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.on_demand_fallback and self.provisioning != "SPOT":
            raise Invalid("only applies when provisioning is SPOT", "on_demand_fallback")
        if self.has_gpus and self.image_type != IMAGE_TYPE_GPU:
            raise Invalid(f"GPU instance types need {IMAGE_TYPE_GPU}, got {self.image_type}", "image_type")
        return self


def _no_nul(value: str) -> str:
    if "\0" in value:
        raise Invalid(f"{echo(value)} has a NUL character, which no process argument can hold")
    return value


def _whole_vcpus(value: Any) -> Any:
    if isinstance(value, float):
        raise Invalid(f"must be a whole number of vCPUs on EC2/SPOT compute (fractions are for Fargate), got {value}")
    return value


class Job(Model):
    vcpus: Annotated[int, Field(ge=1, le=10000), BeforeValidator(_whole_vcpus)] = Field(
        default=1,
        description="a whole number, at most `compute.max_vcpus`, and at most the vCPUs of the largest"
        " `compute.instance_types` entry when every entry is a sized type (`large` 2, `xlarge` 4, `<n>xlarge` 4n)",
    )
    memory_mib: Annotated[int, Field(ge=128, le=2_000_000)] = Field(default=2048, description="MiB per job")
    gpus: Annotated[int, Field(ge=0, le=16)] = Field(
        default=0, description="needs NVIDIA GPU families in `compute.instance_types`"
    )
    timeout_seconds: Annotated[int, Field(ge=60, le=14 * 24 * 3600)] = Field(default=3600, description="per attempt")
    retry_attempts: Annotated[int, Field(ge=1, le=10)] = Field(
        default=3, description="retried only when the host went away (e.g. a reclaimed spot instance)"
    )
    image_tag: ImageTag = Field(
        default="latest", description="the tag the job runs and CodeBuild pushes on every build"
    )
    log_retention_days: LogRetentionDays = Field(default=365, description="job and CodeBuild log groups")
    command: Annotated[
        tuple[Annotated[str, Field(max_length=4096), AfterValidator(_no_nul)], ...],
        Items(min_items=1, max_items=100, unique=False),
    ] = Field(
        default=("Ref::bucket", "Ref::key"),
        description="the container command; the trigger object's bucket and key arrive as Batch parameters;"
        " no NUL characters (no process argument can hold one)",
    )


class ProjectAdopt(Model):
    """Resources that already exist (built by the old runbook) and are imported, not created."""

    data_bucket: bool = Field(default=False, description="import the existing `<project>-<env>` bucket")
    trigger_bucket: bool = Field(
        default=False, description="import the existing `<project>-<env>-batch-trigger` bucket"
    )
    ecr_repository: bool = Field(
        default=False,
        description="import the existing `<project>-<env>-algorithm` repository (not with a store KMS key:"
        " `store.encryption: kms` or `store.kms_key_retained`)",
    )


# ---------------------------------------------------------------------------
# The project config
# ---------------------------------------------------------------------------


class ProjectFile(Model):
    """``configs/<project>-<env>-algorithm-server-infra.yml``: one project in one env."""

    project: ProjectName = Field(
        description="`project-` + lowercase letters, digits, hyphens; must match the file name"
    )
    env: Env = Field(description="`dev`, `staging` or `production`; must match the file name")
    region: Region = Field(
        description="a commercial AWS region; must equal `REGION` and the platform's region for the env"
    )
    account_id: AccountId = Field(
        description="the project account, a **quoted** 12-digit string, listed in accounts.yml"
    )
    tags: Tags = Field(
        default_factory=lambda: MappingProxyType({}),
        json_schema_extra={"default": {}},
        description="extra default tags of the project's stacks: letters, digits, spaces and `_ . : / = + @ -`,"
        " keys 1-128, values up to 256, at most 45 (AWS allows 50; the tool sets `Project`, `Env`, `ManagedBy`"
        " everywhere and `Name`, `Tier` on some resources: none of them in any case, and `aws:` keys are AWS's);"
        " no two keys that differ only in case (IAM compares them ignoring case)",
    )
    github: GitHub = Field(description="the algorithm's repository")
    network: Network = Field(description="the VPC")
    store: Store = section(Store, "the data and trigger buckets and the image repository (algorithm-store)")
    compute: Compute = section(Compute, "the Batch compute environments")
    job: Job = section(Job, "the Batch job")
    adopt: ProjectAdopt = section(ProjectAdopt, "resources the old runbook built that are imported, not created")

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and "account_baseline" in data:
            raise Invalid(
                "has moved to configs/accounts.yml (accounts.<account id>.baseline): account-wide settings live with"
                " the account",
                "account_baseline",
            )
        return data

    @model_validator(mode="after")
    def _complete(self) -> Self:
        for problem in Names(self.project, self.env).problems():
            raise Invalid(problem, "project")
        zones = facts.regions()[self.region]
        for az in self.network.availability_zones:
            if az not in zones:
                raise Invalid(
                    f"{echo(az)} is not an availability zone of {self.region} ({', '.join(zones)})",
                    "network",
                    "availability_zones",
                )
        offered = facts.endpoint_services(self.region)
        for name in self.network.interface_endpoints:
            if name not in offered:
                raise Invalid(
                    f"{echo(name)} is not an interface endpoint service of {self.region}"
                    " (algoinfra/data/endpoint_services.yml; check the name with"
                    " `aws ec2 describe-vpc-endpoint-services`)",
                    "network",
                    "interface_endpoints",
                )
        if self.job.vcpus > self.compute.max_vcpus:
            raise Invalid(
                f"must be at most compute.max_vcpus ({self.compute.max_vcpus}), got {self.job.vcpus}", "job", "vcpus"
            )
        sizes = [(facts.size_vcpus(t), t) for t in self.compute.instance_types]
        if all(v is not None for v, _ in sizes):
            largest, name = max((v, t) for v, t in sizes if v is not None)
            if self.job.vcpus > largest:
                raise Invalid(
                    f"{self.job.vcpus} vCPUs fit none of compute.instance_types (the largest, {name}, has"
                    f" {largest}): the job would wait in RUNNABLE forever",
                    "job",
                    "vcpus",
                )
        if self.job.gpus and not self.compute.has_gpus:
            raise Invalid(
                "needs NVIDIA GPU families in compute.instance_types (g4dn, g5, g6, p4d, p5...)", "job", "gpus"
            )
        if self.adopt.ecr_repository and self.store.has_key:
            # The old runbook's repositories are AES256; the provider replaces a repository whose encryption changes.
            raise Invalid(
                "cannot be combined with a store KMS key (store.encryption kms or store.kms_key_retained): ECR cannot"
                " change a repository's encryption, so Terraform would replace (delete) the adopted repository",
                "adopt",
                "ecr_repository",
            )
        return self.model_copy(update={"store": self._complete_store()})

    def _complete_store(self) -> Store:
        store, ecr, tag = self.store, self.store.ecr, self.job.image_tag
        update: dict[str, Any] = {}
        if "prevent_destroy" not in store.model_fields_set:
            update["prevent_destroy"] = self.env != "dev"
        if ecr.image_tag_mutability == "IMMUTABLE":
            if "mutable_tags" not in ecr.model_fields_set:
                update["ecr"] = ecr.model_copy(update={"mutable_tags": (tag,)})
            elif not facts.tag_filter_covers(ecr.mutable_tags, tag):
                raise Invalid(
                    f"does not cover job.image_tag {tag!r}, which CodeBuild pushes on every build (the second push"
                    f" of an immutable tag fails): add {tag!r}, or leave mutable_tags out for that default",
                    "store",
                    "ecr",
                    "mutable_tags",
                )
        return store.model_copy(update=update) if update else store


class ProjectConfig(ProjectFile):
    """One project in one env, with its account, platform and backend: what the stacks read."""

    # Built by the loader from validated parts (model_construct), never validated
    # itself: no validator is built for it, which keeps the import fast.
    model_config = ConfigDict(defer_build=True)

    path: Path
    account: Account
    platform: PlatformEnv
    backend: Backend
    state_account_id: str

    @property
    def names(self) -> Names:
        return Names(self.project, self.env)

    @property
    def key(self) -> str:
        return f"{self.project}-{self.env}"


def is_gpu_instance_type(instance_type: str) -> bool:
    return facts.is_gpu_instance_type(instance_type)


__all__ = [
    "DEFAULT_INTERFACE_ENDPOINTS",
    "ENVS",
    "IMAGE_TYPE_CPU",
    "IMAGE_TYPE_GPU",
    "LOG_RETENTION_DAYS",
    "MAX_TAGS",
    "MAX_USER_TAGS",
    "RESOURCE_TAGS",
    "SUBNET_TIERS",
    "TOOL_TAGS",
    "Account",
    "AccountAdopt",
    "AccountBaseline",
    "AccountSpec",
    "Accounts",
    "AccountsFile",
    "AssumeRole",
    "Backend",
    "BackendFile",
    "Compute",
    "Ecr",
    "FlowLogs",
    "GitHub",
    "Job",
    "Network",
    "Platform",
    "PlatformAccess",
    "PlatformEnv",
    "PlatformEnvSpec",
    "PlatformFile",
    "ProjectAdopt",
    "ProjectConfig",
    "ProjectFile",
    "S3Backend",
    "Store",
    "TransitGatewayOptions",
    "is_gpu_instance_type",
]
