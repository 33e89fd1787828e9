"""Configuration: YAML files turned into frozen, typed objects, validated completely.

Three inputs, all in the config dir or the repo root:

* ``configs/<project>-<env>-algorithm-server-infra.yml``: one project in one env;
* ``configs/platform.yml``: facts of the shared platform, per env;
* ``backend.tf.json``: where Terraform keeps state.

Everything here is plain Python (no provider bindings), so a bad config fails
fast. Every problem raises :class:`ConfigError` naming the file and the field.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import yaml

from algoinfra.errors import ConfigError
from algoinfra.naming import PROJECT_RE, Names

ENVS = ("dev", "staging", "production")
CONFIG_SUFFIX = "-algorithm-server-infra.yml"
PLATFORM_FILE = "platform.yml"

_ACCOUNT_RE = re.compile(r"^\d{12}$")
_REGION_RE = re.compile(r"^[a-z]{2}(?:-gov)?-[a-z]+-\d$")
_TGW_RE = re.compile(r"^tgw-[0-9a-f]{8,17}$")
_ZONE_RE = re.compile(r"^Z[0-9A-Z]{1,31}$")
_ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")
_S3_ARN_RE = re.compile(r"^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](?:/.*)?$")
_GITHUB_REPO_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_ENDPOINT_RE = re.compile(r"^[a-z0-9-]+(?:\.[a-z0-9-]+)*$")
_INSTANCE_TYPE_RE = re.compile(r"^(?:optimal|[a-z][a-z0-9-]*(?:\.[a-z0-9]+)?)$")
_TAG_RE = re.compile(r"^[\w.:/=+@ -]{1,128}$")
_IMAGE_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_BRANCH_RE = re.compile(r"^[A-Za-z0-9._/-]{1,255}$")

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
# NVIDIA GPU instance families (accelerated computing, P and G families).
_NVIDIA_FAMILY_RE = re.compile(r"^(?:p[2-6]|p4de|p5e|p5en|g3s?|g4dn|g5|g5g|g6|g6e|g6f|gr6|g7)(?:$|[a-z])")
_AMD_GPU_FAMILY_RE = re.compile(r"^g4ad$")

SUBNET_TIERS = ("workload", "attachment")

# Root volumes of Batch hosts: the ECS AMIs' snapshots need 30 GiB; GPU images are large.
ROOT_VOLUME_GIB = {IMAGE_TYPE_CPU: 30, IMAGE_TYPE_GPU: 100}
ROOT_VOLUME_GIB_RANGE = (30, 16384)

T = TypeVar("T")


# ---------------------------------------------------------------------------
# The typed model
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Backend:
    """The S3 remote backend shared by every stack but ``terraform-state``."""

    path: Path
    bucket: str
    region: str
    dynamodb_table: str
    encrypt: bool
    use_lockfile: bool


@dataclass(frozen=True)
class PlatformEnv:
    """The shared platform of one env: its account, transit gateway and private zone."""

    env: str
    account_id: str
    account_name: str
    region: str
    transit_gateway_id: str
    routed_cidrs: tuple[str, ...]
    egress: bool
    private_hosted_zone_id: str
    role_arn: str | None
    profile: str | None
    # false: the gateway's owner does not auto-accept shared attachments; algorithm-server-infra accepts ours.
    transit_gateway_auto_accept: bool = True


@dataclass(frozen=True)
class Platform:
    path: Path
    envs: Mapping[str, PlatformEnv]


@dataclass(frozen=True)
class FlowLogs:
    destination: str  # "cloud-watch-logs" or "s3"
    retention_days: int
    s3_bucket_arn: str | None
    traffic_type: str


@dataclass(frozen=True)
class TransitGatewayOptions:
    """Options a shared gateway's owner may control; ``None`` leaves them unset."""

    appliance_mode_support: bool | None
    default_route_table_association: bool | None
    default_route_table_propagation: bool | None


@dataclass(frozen=True)
class Network:
    vpc_cidr: str
    availability_zones: tuple[str, ...]
    # tier -> AZ -> CIDR, derived from vpc_cidr unless given.
    subnets: Mapping[str, Mapping[str, str]]
    interface_endpoints: tuple[str, ...]
    endpoint_availability_zones: tuple[str, ...]
    flow_logs: FlowLogs
    transit_gateway: TransitGatewayOptions


@dataclass(frozen=True)
class Ecr:
    image_tag_mutability: str  # IMMUTABLE or MUTABLE
    mutable_tags: tuple[str, ...]
    untagged_image_expiration_days: int
    tagged_images_to_keep: int


@dataclass(frozen=True)
class Store:
    cors_allowed_origins: tuple[str, ...]
    kms_key: bool
    noncurrent_version_expiration_days: int
    abort_incomplete_multipart_upload_days: int
    trigger_object_expiration_days: int
    prevent_destroy: bool
    ecr: Ecr


@dataclass(frozen=True)
class Compute:
    provisioning: str  # SPOT or EC2
    instance_types: tuple[str, ...]
    max_vcpus: int
    on_demand_fallback: bool
    image_type: str
    root_volume_size_gib: int

    @property
    def kinds(self) -> tuple[str, ...]:
        """Compute environments in job-queue order."""
        if self.provisioning == "SPOT" and self.on_demand_fallback:
            return ("SPOT", "EC2")
        return (self.provisioning,)


@dataclass(frozen=True)
class Job:
    vcpus: float
    memory_mib: int
    gpus: int
    timeout_seconds: int
    retry_attempts: int
    image_tag: str
    log_retention_days: int
    command: tuple[str, ...]


@dataclass(frozen=True)
class GitHub:
    repository: str
    branch: str
    buildspec: str | None


@dataclass(frozen=True)
class AccountBaseline:
    enabled: bool
    codebuild_source_credential: bool


@dataclass(frozen=True)
class ProjectConfig:
    """One project in one env, with the platform and backend it uses."""

    path: Path
    project: str
    env: str
    region: str
    account_id: str
    tags: Mapping[str, str]
    network: Network
    store: Store
    compute: Compute
    job: Job
    github: GitHub
    account_baseline: AccountBaseline
    platform: PlatformEnv
    backend: Backend

    @property
    def names(self) -> Names:
        return Names(self.project, self.env)

    @property
    def key(self) -> str:
        return f"{self.project}-{self.env}"


# ---------------------------------------------------------------------------
# Reading helpers: one error boundary, field paths in every message
# ---------------------------------------------------------------------------


class _Section:
    """A mapping being read; whatever is left unread at the end is a typo."""

    def __init__(self, path: Path, prefix: str, data: Any) -> None:
        self.path = path
        self.prefix = prefix
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(path, prefix or "(top level)", f"must be a mapping, got {type(data).__name__}")
        self.data: dict[str, Any] = dict(data)

    def field(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(self.path, self.field(key), message)

    def has(self, key: str) -> bool:
        return key in self.data

    def section(self, key: str) -> _Section:
        return _Section(self.path, self.field(key), self.data.pop(key, None))

    def _take(self, key: str, kind: type[T] | tuple[type, ...], default: Any, required: bool) -> Any:
        if key not in self.data:
            if required:
                raise self.error(key, "is required")
            return default
        value = self.data.pop(key)
        # bool is an int in Python; YAML "yes" must not pass as a number.
        if isinstance(value, bool) and kind in (int, float, (int, float)):
            raise self.error(key, f"must be a number, got {value!r}")
        if not isinstance(value, kind):
            raise self.error(key, f"must be {_kind_name(kind)}, got {value!r}")
        return value

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> Any:
        return self._take(key, str, default, required)

    def flag(self, key: str, default: bool | None = None) -> Any:
        return self._take(key, bool, default, False)

    def integer(self, key: str, default: int, *, low: int, high: int) -> int:
        value: int = self._take(key, int, default, False)
        if not low <= value <= high:
            raise self.error(key, f"must be between {low} and {high}, got {value}")
        return value

    def texts(self, key: str, default: tuple[str, ...] | None = None, *, required: bool = False) -> tuple[str, ...]:
        value = self._take(key, list, None, required)
        if value is None:
            return default if default is not None else ()
        for item in value:
            if not isinstance(item, str):
                raise self.error(key, f"must be a list of strings, got item {item!r}")
        if len(set(value)) != len(value):
            raise self.error(key, "must not repeat an item")
        return tuple(value)

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value: str = self.text(key, default)
        if value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    def done(self) -> None:
        if self.data:
            key = sorted(self.data)[0]
            raise self.error(key, "unknown key (check the spelling against the README's config reference)")


def _kind_name(kind: Any) -> str:
    names: dict[Any, str] = {str: "a string", bool: "true or false", int: "an integer", list: "a list"}
    if isinstance(kind, tuple):
        return "a number"
    return names.get(kind, str(kind))


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read: {exc.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(path, "", f"YAML syntax error: {where}{problem}") from None


def _network(sec: _Section, key: str) -> ipaddress.IPv4Network:
    """An IPv4 network in CIDR form with no host bits set."""
    value = sec.text(key, required=True)
    return _parse_cidr(sec, key, value)


def _parse_cidr(sec: _Section, key: str, value: Any) -> ipaddress.IPv4Network:
    if not isinstance(value, str) or "/" not in value:
        raise sec.error(key, f"must be an IPv4 CIDR such as 10.0.0.0/16, got {value!r}")
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise sec.error(key, f"invalid CIDR {value!r}: {exc}") from None
    if not isinstance(net, ipaddress.IPv4Network):
        raise sec.error(key, f"must be an IPv4 CIDR, got {value!r}")
    return net


def _account(sec: _Section, key: str) -> str:
    if key not in sec.data:
        raise sec.error(key, "is required")
    value = sec.data.pop(key)
    if not isinstance(value, str) or not _ACCOUNT_RE.match(value):
        raise sec.error(key, f"must be a quoted 12-digit AWS account id, got {value!r}")
    return value


# ---------------------------------------------------------------------------
# backend.tf.json
# ---------------------------------------------------------------------------


def load_backend(path: Path) -> Backend:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(path, "", f"JSON syntax error: line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    top = _Section(path, "", raw)
    terraform = top.section("terraform")
    backend = terraform.section("backend")
    s3 = backend.section("s3")
    bucket = s3.text("bucket", required=True)
    if not re.match(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", bucket):
        raise s3.error("bucket", f"not a valid S3 bucket name: {bucket!r}")
    region = s3.text("region", required=True)
    if not _REGION_RE.match(region):
        raise s3.error("region", f"not an AWS region: {region!r}")
    table = s3.text("dynamodb_table", required=True)
    if not re.match(r"^[A-Za-z0-9_.-]{3,255}$", table):
        raise s3.error("dynamodb_table", f"not a valid DynamoDB table name: {table!r}")
    encrypt = s3.flag("encrypt", True)
    if encrypt is not True:
        raise s3.error("encrypt", "must be true: the state holds the CodeBuild GitHub token")
    use_lockfile = s3.flag("use_lockfile", True)
    for sec in (s3, backend, terraform, top):
        sec.done()
    return Backend(path, bucket, region, table, encrypt, use_lockfile)


# ---------------------------------------------------------------------------
# platform.yml
# ---------------------------------------------------------------------------


def load_platform(path: Path) -> Platform:
    top = _Section(path, "", _read_yaml(path))
    envs_sec = top.section("environments")
    envs: dict[str, PlatformEnv] = {}
    for env in list(envs_sec.data):
        if env not in ENVS:
            raise envs_sec.error(env, f"unknown env; use one of {', '.join(ENVS)}")
        envs[env] = _platform_env(envs_sec.section(env), env)
    envs_sec.done()
    top.done()
    return Platform(path, MappingProxyType(envs))


def _platform_env(sec: _Section, env: str) -> PlatformEnv:
    account_id = _account(sec, "account_id")
    account_name = sec.text("account_name", env)
    region = sec.text("region", required=True)
    if not _REGION_RE.match(region):
        raise sec.error("region", f"not an AWS region: {region!r}")
    tgw = sec.text("transit_gateway_id", required=True)
    if not _TGW_RE.match(tgw):
        raise sec.error("transit_gateway_id", f"must look like tgw-0123456789abcdef0, got {tgw!r}")
    routed = sec.texts("routed_cidrs", required=True)
    if not routed:
        raise sec.error("routed_cidrs", "must name at least one CIDR reached through the transit gateway")
    nets = [_parse_cidr(sec, "routed_cidrs", c) for c in routed]
    for i, a in enumerate(nets):
        for b in nets[i + 1 :]:
            if a.overlaps(b):
                raise sec.error("routed_cidrs", f"{a} and {b} overlap")
    egress = sec.flag("egress", False)
    auto_accept = sec.flag("transit_gateway_auto_accept", True)
    zone = sec.text("private_hosted_zone_id", required=True)
    if not _ZONE_RE.match(zone):
        raise sec.error("private_hosted_zone_id", f"not a Route 53 hosted zone id: {zone!r}")
    access = sec.section("access")
    role_arn = access.text("role_arn")
    profile = access.text("profile")
    if role_arn is None and profile is None:
        raise access.error("role_arn", "give a role ARN to assume or a profile (or both) to reach the platform account")
    if role_arn is not None:
        m = _ROLE_ARN_RE.match(role_arn)
        if not m:
            raise access.error("role_arn", f"not an IAM role ARN: {role_arn!r}")
        if m.group(1) != account_id:
            raise access.error("role_arn", f"role is in account {m.group(1)}, not the platform account {account_id}")
    access.done()
    sec.done()
    return PlatformEnv(
        env, account_id, account_name, region, tgw, tuple(routed), egress, zone, role_arn, profile, auto_accept
    )


# ---------------------------------------------------------------------------
# project configs
# ---------------------------------------------------------------------------


def config_path(config_dir: Path, project: str, env: str) -> Path:
    return config_dir / f"{project}-{env}{CONFIG_SUFFIX}"


def list_configs(config_dir: Path) -> list[Path]:
    return sorted(config_dir.glob(f"*{CONFIG_SUFFIX}"))


def load_project(
    config_dir: Path,
    project: str,
    env: str,
    *,
    region: str | None = None,
    backend_path: Path | None = None,
) -> ProjectConfig:
    """Load the config selected by ``Project``/``Env``; ``region`` is checked against it."""
    if env not in ENVS:
        raise ConfigError("Env", "", f"unknown env {env!r}; use one of {', '.join(ENVS)}")
    path = config_path(config_dir, project, env)
    if not path.is_file():
        existing = ", ".join(p.name for p in list_configs(config_dir)) or "none"
        raise ConfigError(path, "", f"no such config (existing configs: {existing})")
    return load_file(path, region=region, backend_path=backend_path)


def load_all(config_dir: Path, *, backend_path: Path | None = None) -> list[ProjectConfig]:
    """Every project config in the dir, sorted by file name."""
    return [load_file(p, backend_path=backend_path) for p in list_configs(config_dir)]


def load_file(path: Path, *, region: str | None = None, backend_path: Path | None = None) -> ProjectConfig:
    config_dir = path.parent
    backend = load_backend(backend_path or Path("backend.tf.json"))
    platform = load_platform(config_dir / PLATFORM_FILE)
    top = _Section(path, "", _read_yaml(path))

    project = top.text("project", required=True)
    if not PROJECT_RE.match(project):
        raise top.error(
            "project", f"must be 'project-' followed by lowercase letters, digits and hyphens, got {project!r}"
        )
    env = top.text("env", required=True)
    if env not in ENVS:
        raise top.error("env", f"unknown env {env!r}; use one of {', '.join(ENVS)}")
    expected = f"{project}-{env}{CONFIG_SUFFIX}"
    if path.name != expected:
        raise top.error("project", f"file name must match project and env: expected {expected}")
    cfg_region = top.text("region", required=True)
    if not _REGION_RE.match(cfg_region):
        raise top.error("region", f"not an AWS region: {cfg_region!r}")
    if region is not None and region != cfg_region:
        raise top.error("region", f"REGION={region} but the config says {cfg_region}")
    account_id = _account(top, "account_id")
    if env not in platform.envs:
        raise ConfigError(platform.path, "environments", f"has no entry for env {env!r} used by {path.name}")
    plat = platform.envs[env]
    if plat.region != cfg_region:
        raise top.error("region", f"{cfg_region} differs from the platform's {env} region {plat.region}")

    names = Names(project, env)
    for problem in names.problems():
        raise top.error("project", problem)

    tags = _tags(top.section("tags"))
    network = _network_config(top.section("network"), cfg_region, plat)
    store = _store(top.section("store"), env)
    compute = _compute(top.section("compute"))
    job = _job(top.section("job"), compute, store)
    github = _github(top.section("github"))
    baseline_sec = top.section("account_baseline")
    baseline = AccountBaseline(
        enabled=baseline_sec.flag("enabled", True),
        codebuild_source_credential=baseline_sec.flag("codebuild_source_credential", True),
    )
    baseline_sec.done()
    top.done()

    cfg = ProjectConfig(
        path, project, env, cfg_region, account_id, tags, network, store, compute, job, github, baseline, plat, backend
    )
    _check_estate(cfg)
    return cfg


def _tags(sec: _Section) -> Mapping[str, str]:
    reserved = {"Project", "Env", "ManagedBy"}
    out: dict[str, str] = {}
    for key in sorted(sec.data):
        value = sec.data.pop(key)
        if key in reserved:
            raise sec.error(key, "is set by the tool itself")
        if not isinstance(key, str) or not _TAG_RE.match(key) or key.startswith("aws:"):
            raise sec.error(str(key), "not a valid tag key")
        if not isinstance(value, str) or len(value) > 256:
            raise sec.error(key, "tag values must be strings of at most 256 characters")
        out[key] = value
    return MappingProxyType(out)


def _network_config(sec: _Section, region: str, plat: PlatformEnv) -> Network:
    vpc = _network(sec, "vpc_cidr")
    if not 16 <= vpc.prefixlen <= 28:
        raise sec.error("vpc_cidr", f"VPC prefix must be between /16 and /28, got /{vpc.prefixlen}")
    for routed in plat.routed_cidrs:
        if vpc.overlaps(ipaddress.ip_network(routed)):
            raise sec.error(
                "vpc_cidr",
                f"{vpc} overlaps the platform's {routed}"
                f" (transit gateway {plat.transit_gateway_id} drops overlapping routes)",
            )
    azs = sec.texts("availability_zones", required=True)
    if not azs:
        raise sec.error("availability_zones", "must list at least one availability zone")
    for az in azs:
        if not re.match(rf"^{re.escape(region)}[a-z]$", az):
            raise sec.error("availability_zones", f"{az!r} is not an availability zone of {region}")

    subnets = _subnets(sec, vpc, azs) if sec.has("subnets") else _derive_subnets(sec, vpc, azs)

    endpoints = sec.texts("interface_endpoints", DEFAULT_INTERFACE_ENDPOINTS)
    for name in endpoints:
        if not _ENDPOINT_RE.match(name):
            raise sec.error("interface_endpoints", f"{name!r} is not a service name such as ecr.api")
        if name == "s3":
            raise sec.error("interface_endpoints", "s3 always gets a gateway endpoint (free); do not list it here")
    endpoint_azs = sec.texts("endpoint_availability_zones", azs)
    if not endpoint_azs:
        raise sec.error("endpoint_availability_zones", "must list at least one availability zone")
    for az in endpoint_azs:
        if az not in azs:
            raise sec.error("endpoint_availability_zones", f"{az!r} is not in network.availability_zones")

    fl = sec.section("flow_logs")
    destination = fl.choice("destination", "cloud-watch-logs", ("cloud-watch-logs", "s3"))
    retention = fl.integer("retention_days", 365, low=1, high=3653)
    if retention not in LOG_RETENTION_DAYS:
        raise fl.error("retention_days", f"CloudWatch Logs accepts {', '.join(map(str, LOG_RETENTION_DAYS))}")
    s3_arn = fl.text("s3_bucket_arn")
    if destination == "s3" and s3_arn is None:
        raise fl.error("s3_bucket_arn", "is required when destination is s3")
    if s3_arn is not None and not _S3_ARN_RE.match(s3_arn):
        raise fl.error("s3_bucket_arn", f"not an S3 bucket ARN: {s3_arn!r}")
    traffic = fl.choice("traffic_type", "ALL", ("ALL", "ACCEPT", "REJECT"))
    fl.done()

    tg = sec.section("transit_gateway")
    tgw = TransitGatewayOptions(
        appliance_mode_support=tg.flag("appliance_mode_support"),
        default_route_table_association=tg.flag("default_route_table_association"),
        default_route_table_propagation=tg.flag("default_route_table_propagation"),
    )
    tg.done()
    sec.done()
    return Network(
        str(vpc),
        azs,
        subnets,
        endpoints,
        tuple(az for az in azs if az in endpoint_azs),
        FlowLogs(destination, retention, s3_arn, traffic),
        tgw,
    )


def _az_slot(az: str) -> int:
    """A stable slot per AZ from its letter, so adding an AZ never moves another."""
    return ord(az[-1]) - ord("a")


def _frozen_plan(plan: dict[str, dict[str, str]]) -> Mapping[str, Mapping[str, str]]:
    return MappingProxyType({tier: MappingProxyType(by_az) for tier, by_az in plan.items()})


def _derive_subnets(sec: _Section, vpc: ipaddress.IPv4Network, azs: tuple[str, ...]) -> Mapping[str, Mapping[str, str]]:
    """The default CIDR plan: the VPC in eighths.

    Workload subnets take eighth number <AZ letter> (a=0 ... f=5); eighth 6 is
    kept free for a later tier; eighth 7 holds the /28 attachment subnets, again
    one slot per AZ letter. Keyed by AZ letter, not list position.
    """
    if vpc.prefixlen > 22:
        raise sec.error(
            "vpc_cidr",
            f"/{vpc.prefixlen} is too small to derive the subnet plan (needs /22 or larger);"
            " give network.subnets explicitly",
        )
    eighths = list(vpc.subnets(prefixlen_diff=3))
    attachment_pool = list(eighths[7].subnets(new_prefix=28))
    workload: dict[str, str] = {}
    attachment: dict[str, str] = {}
    for az in azs:
        slot = _az_slot(az)
        if slot > 5:
            raise sec.error(
                "availability_zones", f"{az!r}: the derived plan covers AZ letters a-f; give network.subnets"
            )
        workload[az] = str(eighths[slot])
        attachment[az] = str(attachment_pool[slot])
    return _frozen_plan({"workload": workload, "attachment": attachment})


def _subnets(sec: _Section, vpc: ipaddress.IPv4Network, azs: tuple[str, ...]) -> Mapping[str, Mapping[str, str]]:
    sub = sec.section("subnets")
    plan: dict[str, dict[str, str]] = {}
    seen: list[tuple[str, ipaddress.IPv4Network]] = []
    for tier in SUBNET_TIERS:
        tier_sec = sub.section(tier)
        plan[tier] = {}
        for az in azs:
            value = tier_sec.data.pop(az, None)
            if value is None:
                raise tier_sec.error(az, "is required: every tier needs a subnet in every availability zone")
            net = _parse_cidr(tier_sec, az, value)
            if not net.subnet_of(vpc):
                raise tier_sec.error(az, f"{net} is not inside the VPC {vpc}")
            if net.prefixlen > 28:
                raise tier_sec.error(az, f"{net} is smaller than /28, the smallest subnet AWS allows")
            for other_field, other in seen:
                if net.overlaps(other):
                    raise tier_sec.error(az, f"{net} overlaps {other_field} {other}")
            seen.append((tier_sec.field(az), net))
            plan[tier][az] = str(net)
        tier_sec.done()
    sub.done()
    return _frozen_plan(plan)


def _store(sec: _Section, env: str) -> Store:
    origins = sec.texts("cors_allowed_origins", ("*",))
    if not origins:
        raise sec.error("cors_allowed_origins", "must list at least one origin (the runbook uses '*')")
    for origin in origins:
        if origin != "*" and not re.match(r"^https?://[A-Za-z0-9.*-]+(?::\d+)?$", origin):
            raise sec.error("cors_allowed_origins", f"{origin!r} is not '*' or an origin such as https://example.com")
    encryption = sec.choice("encryption", "sse-s3", ("sse-s3", "kms"))
    noncurrent = sec.integer("noncurrent_version_expiration_days", 90, low=1, high=3650)
    multipart = sec.integer("abort_incomplete_multipart_upload_days", 7, low=1, high=365)
    trigger = sec.integer("trigger_object_expiration_days", 30, low=1, high=3650)
    prevent = sec.flag("prevent_destroy", env != "dev")
    ecr_sec = sec.section("ecr")
    mutability = ecr_sec.choice("image_tag_mutability", "IMMUTABLE", ("IMMUTABLE", "MUTABLE"))
    mutable_tags = ecr_sec.texts("mutable_tags", ())
    for tag in mutable_tags:
        if not re.match(r"^[A-Za-z0-9_.*-]{1,128}$", tag):
            raise ecr_sec.error("mutable_tags", f"{tag!r} is not an image tag filter")
    if mutable_tags and mutability == "MUTABLE":
        raise ecr_sec.error("mutable_tags", "only makes sense with image_tag_mutability IMMUTABLE")
    ecr = Ecr(
        mutability,
        mutable_tags,
        ecr_sec.integer("untagged_image_expiration_days", 14, low=1, high=3650),
        ecr_sec.integer("tagged_images_to_keep", 30, low=1, high=10000),
    )
    ecr_sec.done()
    sec.done()
    return Store(origins, encryption == "kms", noncurrent, multipart, trigger, prevent, ecr)


def is_gpu_instance_type(instance_type: str) -> bool:
    return bool(_NVIDIA_FAMILY_RE.match(instance_type.split(".")[0]))


def _compute(sec: _Section) -> Compute:
    provisioning = sec.choice("provisioning", "SPOT", ("SPOT", "EC2"))
    types = sec.texts("instance_types", ("m6i.large", "m6i.xlarge", "c6i.xlarge"))
    if not types:
        raise sec.error("instance_types", "must list at least one instance type or family")
    for t in types:
        if not _INSTANCE_TYPE_RE.match(t):
            raise sec.error("instance_types", f"{t!r} is not an EC2 instance type or family")
        if _AMD_GPU_FAMILY_RE.match(t.split(".")[0]):
            raise sec.error("instance_types", f"{t!r} has AMD GPUs; Batch has no ECS image for them")
    gpu = any(is_gpu_instance_type(t) for t in types)
    max_vcpus = sec.integer("max_vcpus", 16, low=1, high=10000)
    fallback = sec.flag("on_demand_fallback", False)
    if fallback and provisioning != "SPOT":
        raise sec.error("on_demand_fallback", "only applies when provisioning is SPOT")
    image_type = sec.choice("image_type", IMAGE_TYPE_GPU if gpu else IMAGE_TYPE_CPU, (IMAGE_TYPE_CPU, IMAGE_TYPE_GPU))
    if gpu and image_type != IMAGE_TYPE_GPU:
        raise sec.error("image_type", f"GPU instance types need {IMAGE_TYPE_GPU}, got {image_type}")
    low, high = ROOT_VOLUME_GIB_RANGE
    root_volume = sec.integer("root_volume_size_gib", ROOT_VOLUME_GIB[image_type], low=low, high=high)
    sec.done()
    return Compute(provisioning, types, max_vcpus, fallback, image_type, root_volume)


def _job(sec: _Section, compute: Compute, store: Store) -> Job:
    vcpus = sec._take("vcpus", (int, float), 1, False)
    if not 0.25 <= vcpus <= compute.max_vcpus:
        raise sec.error("vcpus", f"must be between 0.25 and compute.max_vcpus ({compute.max_vcpus}), got {vcpus}")
    memory = sec.integer("memory_mib", 2048, low=128, high=2_000_000)
    gpus = sec.integer("gpus", 0, low=0, high=16)
    if gpus and compute.image_type != IMAGE_TYPE_GPU:
        raise sec.error("gpus", "needs GPU instance types in compute.instance_types")
    timeout = sec.integer("timeout_seconds", 3600, low=60, high=14 * 24 * 3600)
    retries = sec.integer("retry_attempts", 3, low=1, high=10)
    tag = sec.text("image_tag", "latest")
    if not _IMAGE_TAG_RE.match(tag):
        raise sec.error("image_tag", f"not a valid image tag: {tag!r}")
    retention = sec.integer("log_retention_days", 365, low=1, high=3653)
    if retention not in LOG_RETENTION_DAYS:
        raise sec.error("log_retention_days", f"CloudWatch Logs accepts {', '.join(map(str, LOG_RETENTION_DAYS))}")
    # The trigger's bucket and key reach the container as Batch parameters.
    command = sec.texts("command", ("Ref::bucket", "Ref::key"))
    if not command:
        raise sec.error("command", "must not be empty (leave it out for the default)")
    sec.done()
    return Job(float(vcpus), memory, gpus, timeout, retries, tag, retention, command)


def _github(sec: _Section) -> GitHub:
    repo = sec.text("repository", required=True)
    if not _GITHUB_REPO_RE.match(repo):
        raise sec.error("repository", f"must be owner/name, got {repo!r}")
    branch = sec.text("branch", "main")
    if not _BRANCH_RE.match(branch):
        raise sec.error("branch", f"not a branch name: {branch!r}")
    buildspec = sec.text("buildspec")
    sec.done()
    return GitHub(repo, branch, buildspec)


def _check_estate(cfg: ProjectConfig) -> None:
    """No two projects of one env may overlap: they share the transit gateway."""
    mine = ipaddress.ip_network(cfg.network.vpc_cidr)
    for other in _other_vpcs(cfg.path.parent, cfg.env, exclude=cfg.path):
        path, cidr = other
        if mine.overlaps(cidr):
            raise ConfigError(
                cfg.path, "network.vpc_cidr", f"{mine} overlaps {cidr} of {path.name} (same {cfg.env} transit gateway)"
            )


def _other_vpcs(config_dir: Path, env: str, *, exclude: Path) -> Iterator[tuple[Path, ipaddress.IPv4Network]]:
    for path in list_configs(config_dir):
        if path == exclude:
            continue
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            if data.get("env") != env:
                continue
            net = ipaddress.ip_network(data["network"]["vpc_cidr"], strict=True)
        except Exception:  # noqa: BLE001 - a broken neighbour fails its own validation
            continue
        if isinstance(net, ipaddress.IPv4Network):
            yield path, net
