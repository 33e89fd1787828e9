"""Every rule of the loader, each with a good input next to the bad one (issue 19's classes, the new settings).

A case changes a copy of the samples (the project config, platform.yml,
accounts.yml, backend.tf.json) twice: the good change must load, the bad one
must be refused naming the file and the field. ``schema`` says whether the
JSON Schema can refuse the bad one too (tests/test_schema.py holds it to that).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from algoinfra import config as cfg
from algoinfra.config.types import echo
from algoinfra.errors import ConfigError
from tests.helpers import BACKEND, CONFIG_DIR, sample_data

KEY = "project-sample-dev"
ACCOUNT = "200000000001"  # the dev sample's account
STATE_ACCOUNT = "300000000000"


@dataclass
class Files:
    """A config dir's files as data, changed before they are written."""

    project: dict[str, Any]
    platform: dict[str, Any]
    accounts: dict[str, Any]
    backend: dict[str, Any]
    others: dict[str, Any] = field(default_factory=dict)  # file name -> data or raw text
    key: str = KEY

    @classmethod
    def samples(cls, key: str = KEY) -> Files:
        return cls(
            project=sample_data(key),
            platform=yaml.safe_load((CONFIG_DIR / cfg.PLATFORM_FILE).read_text()),
            accounts=yaml.safe_load((CONFIG_DIR / cfg.ACCOUNTS_FILE).read_text()),
            backend=json.loads(BACKEND.read_text()),
            key=key,
        )

    @property
    def dev(self) -> dict[str, Any]:
        return self.platform["environments"]["dev"]

    @property
    def s3(self) -> dict[str, Any]:
        return self.backend["terraform"]["backend"]["s3"]

    def write(self, tmp: Path) -> Path:
        d = tmp / "configs"
        d.mkdir(parents=True)
        (d / f"{self.key}{cfg.CONFIG_SUFFIX}").write_text(yaml.safe_dump(self.project, sort_keys=False))
        (d / cfg.PLATFORM_FILE).write_text(yaml.safe_dump(self.platform, sort_keys=False))
        (d / cfg.ACCOUNTS_FILE).write_text(yaml.safe_dump(self.accounts, sort_keys=False))
        (tmp / "backend.tf.json").write_text(json.dumps(self.backend))
        for name, data in self.others.items():
            (d / name).write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
        return d

    def load(self, tmp: Path) -> cfg.ProjectConfig:
        d = self.write(tmp)
        return cfg.load_file(d / f"{self.key}{cfg.CONFIG_SUFFIX}", backend_path=tmp / "backend.tf.json")


Change = Callable[[Files], Any]


def at(data: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted path in nested mappings, creating what is missing."""
    *parents, last = path.split(".")
    node = data
    for p in parents:
        node = node.setdefault(p, {})
    node[last] = value


def project(path: str, value: Any) -> Change:
    return lambda f: at(f.project, path, value)


def platform(path: str, value: Any) -> Change:
    return lambda f: at(f.dev, path, value)


def accounts(path: str, value: Any) -> Change:
    return lambda f: at(f.accounts, path, value)


def backend(path: str, value: Any) -> Change:
    return lambda f: at(f.s3, path, value)


def both(*changes: Change) -> Change:
    def run(f: Files) -> None:
        for change in changes:
            change(f)

    return run


def other_config(name: str, **overrides: Any) -> Change:
    """Another project config in the dir (a copy of the dev sample with changes)."""

    def run(f: Files) -> None:
        data = copy.deepcopy(sample_data(KEY))
        for path, value in overrides.items():
            at(data, path.replace("__", "."), value)
        f.others[name] = data

    return run


FILE_OF = {
    "project": f"{KEY}{cfg.CONFIG_SUFFIX}",
    "platform": cfg.PLATFORM_FILE,
    "accounts": cfg.ACCOUNTS_FILE,
    "backend": "backend.tf.json",
}


@dataclass(frozen=True)
class Case:
    id: str
    good: Change | None  # None: the samples themselves are the good input
    bad: Change
    field: str
    fragment: str
    file: str = "project"  # which file the error names (a key of FILE_OF, or a file name)
    schema: bool = False  # the JSON Schema can say it too


def _tags(n: int) -> dict[str, str]:
    return {f"Team{i:02d}": "x" for i in range(n)}


CASES = [
    # --- regions and availability zones (algoinfra/data/regions.yml) ---
    Case("region-unknown", None, project("region", "ap-northeast-9"), "region", "unknown region 'ap-northeast-9'", schema=True),
    Case("region-gov", None, project("region", "us-gov-west-1"), "region", "unknown region", schema=True),
    Case("az-not-in-region", project("network.availability_zones", ["ap-northeast-1a", "ap-northeast-1d"]), project("network.availability_zones", ["ap-northeast-1a", "ap-northeast-1b"]), "network.availability_zones", "ap-northeast-1 has ap-northeast-1a, ap-northeast-1c, ap-northeast-1d", schema=True),
    Case("az-of-another-region", None, both(project("network.availability_zones", ["us-east-1a"]), project("network.endpoint_availability_zones", ["us-east-1a"])), "network.availability_zones", "not an availability zone of ap-northeast-1"),
    Case("az-shape", None, project("network.availability_zones", ["tokyo-a"]), "network.availability_zones", "an availability zone such as", schema=True),
    Case("platform-region-unknown", None, platform("region", "mars-north-1"), "environments.dev.region", "unknown region", file="platform", schema=True),
    Case("backend-region-unknown", backend("region", "us-east-1"), backend("region", "us-east-9"), "terraform.backend.s3.region", "unknown region", file="backend"),
    # --- interface endpoints (algoinfra/data/endpoint_services.yml) ---
    Case("endpoint-unknown", project("network.interface_endpoints", ["ecr.api", "sagemaker.runtime"]), project("network.interface_endpoints", ["ecr.api", "sagemaker.runtme"]), "network.interface_endpoints", "'sagemaker.runtme' is not an interface endpoint service of ap-northeast-1", schema=True),
    Case("endpoint-s3", None, project("network.interface_endpoints", ["ecr.api", "s3"]), "network.interface_endpoints", "gateway endpoint", schema=True),
    Case("endpoint-shape", None, project("network.interface_endpoints", ["ECR API"]), "network.interface_endpoints", "service name such as ecr.api", schema=True),
    # --- instance types ---
    Case("instance-type-shape", project("compute.instance_types", ["optimal", "m6i", "c7i.16xlarge", "m7i.metal-24xl", "m7i-flex.large", "u-6tb1.112xlarge"]), project("compute.instance_types", ["m6i.xlargee"]), "compute.instance_types", "an EC2 instance family", schema=True),
    Case("instance-type-class", project("compute.instance_types", ["r7i"]), project("compute.instance_types", ["zz9.large"]), "compute.instance_types", "'zz9.large'", schema=True),
    Case("instance-type-zero-size", project("compute.instance_types", ["m6i.2xlarge"]), project("compute.instance_types", ["m6i.0xlarge"]), "compute.instance_types", "an EC2 instance family", schema=True),
    Case("backend-role-long-path", None, backend("assume_role", {"role_arn": f"arn:aws:iam::{STATE_ACCOUNT}:role/" + "p/" * 40 + "r" * 65}), "terraform.backend.s3.assume_role.role_arn", "a name of at most 64", file="backend"),
    Case("instance-type-dotted-twice", project("compute.instance_types", ["m6i.xlarge"]), project("compute.instance_types", ["m6i.xlarge.big"]), "compute.instance_types", "an EC2 instance family", schema=True),
    Case("instance-type-optimal-size", project("compute.instance_types", ["optimal"]), project("compute.instance_types", ["optimal.large"]), "compute.instance_types", "an EC2 instance family", schema=True),
    Case("instance-type-amd-gpu", project("compute.instance_types", ["g4dn.xlarge"]), project("compute.instance_types", ["g4ad.xlarge"]), "compute.instance_types", "AMD GPUs"),
    # arm64 (Graviton) families in every shape the names take, next to x86_64 ones that look alike
    *(
        Case(f"instance-type-arm64-{bad}", project("compute.instance_types", [good]), project("compute.instance_types", [bad]), "compute.instance_types", "arm64 (Graviton)")
        for good, bad in [("p6-b200.48xlarge", "p6e-gb200.36xlarge"), ("m6i.large", "m6g.large"), ("c7i", "c7gn"), ("r7iz.xlarge", "r8g.xlarge"), ("t3.micro", "t4g.micro"), ("x2idn", "x2gd"), ("i4i.large", "im4gn.large"), ("i4i", "is4gen"), ("g5.xlarge", "g5g.xlarge"), ("hpc7a", "hpc7g"), ("m5.large", "a1.large")]
    ),
    Case("instance-type-mac", project("compute.instance_types", ["m7i.metal-24xl"]), project("compute.instance_types", ["mac2.metal"]), "compute.instance_types", "AWS Batch cannot launch"),
    Case("job-vcpus-fit-the-largest-type", both(project("compute.instance_types", ["m6i.large", "m6i.2xlarge"]), project("job.vcpus", 8)), both(project("compute.instance_types", ["m6i.large", "m6i.xlarge"]), project("job.vcpus", 8)), "job.vcpus", "the largest, m6i.xlarge, has 4"),
    Case("job-vcpus-fit-a-family", both(project("compute.instance_types", ["m6i.large", "c6i"]), project("job.vcpus", 8)), both(project("compute.instance_types", ["m6i.large", "c6i.large"]), project("job.vcpus", 8)), "job.vcpus", "fit none of compute.instance_types"),
    Case("gpus-need-nvidia", both(project("compute.instance_types", ["g5.xlarge", "p4d.24xlarge"]), project("job.gpus", 1)), both(project("compute.instance_types", ["m6i.xlarge", "inf2.xlarge"]), project("job.gpus", 1)), "job.gpus", "NVIDIA GPU families"),
    Case("gpu-type-cpu-image", project("compute", {"instance_types": ["g6.xlarge"], "image_type": "ECS_AL2023_NVIDIA"}), project("compute", {"instance_types": ["g6.xlarge"], "image_type": "ECS_AL2023"}), "compute.image_type", "need ECS_AL2023_NVIDIA"),
    Case("instance-types-empty", None, project("compute.instance_types", []), "compute.instance_types", "at least 1 item", schema=True),
    Case("instance-types-repeated", None, project("compute.instance_types", ["m6i", "m6i"]), "compute.instance_types", "must not repeat", schema=True),
    # --- VPC CIDRs in reserved ranges ---
    *[
        Case(f"vpc-reserved-{cidr}", project("network.vpc_cidr", "100.64.0.0/20") if i == 0 else None, project("network.vpc_cidr", cidr), "network.vpc_cidr", "a VPC cannot use it")
        for i, cidr in enumerate(["127.0.0.0/20", "169.254.0.0/20", "224.0.0.0/20", "240.0.0.0/20", "0.0.0.0/20", "255.255.255.0/24", "192.0.2.0/24", "172.17.0.0/20"])
    ],
    Case("routed-reserved", platform("routed_cidrs", ["10.0.0.0/16", "192.168.0.0/16"]), platform("routed_cidrs", ["10.0.0.0/16", "169.254.169.0/24"]), "environments.dev.routed_cidrs", "cannot be routed", file="platform"),
    Case("routed-default", None, platform("routed_cidrs", ["0.0.0.0/0"]), "environments.dev.routed_cidrs", "egress: true", file="platform"),
    Case("routed-overlap", platform("routed_cidrs", ["10.0.0.0/16", "10.1.0.0/16"]), platform("routed_cidrs", ["10.0.0.0/16", "10.0.128.0/17"]), "environments.dev.routed_cidrs", "10.0.0.0/16 and 10.0.128.0/17 overlap", file="platform"),
    Case("routed-too-many", platform("routed_cidrs", [f"10.0.{i}.0/24" for i in range(100)]), platform("routed_cidrs", [f"10.0.{i}.0/24" for i in range(101)]), "environments.dev.routed_cidrs", "at most 100 items", file="platform", schema=True),
    Case("routed-empty", None, platform("routed_cidrs", []), "environments.dev.routed_cidrs", "at least 1 item", file="platform", schema=True),
    # --- job.vcpus: a positive integer on EC2/SPOT ---
    Case("vcpus-fraction", project("job.vcpus", 1), project("job.vcpus", 0.5), "job.vcpus", "whole number of vCPUs", schema=True),
    Case("vcpus-zero", project("job.vcpus", 4), project("job.vcpus", 0), "job.vcpus", "at least 1", schema=True),
    Case("vcpus-string", None, project("job.vcpus", "2"), "job.vcpus", "must be an integer, got '2'", schema=True),
    Case("vcpus-bool", None, project("job.vcpus", True), "job.vcpus", "must be an integer", schema=True),
    Case("vcpus-above-compute", None, project("job.vcpus", 9), "job.vcpus", "at most compute.max_vcpus (8)"),
    # --- tags ---
    Case("tag-characters", project("tags", {"Cost Center": "ml/platform:a+b=c@d_e.f-g", "owner": "山田"}), project("tags", {"Cost#Center": "x"}), "tags.'Cost#Center'", "a tag key is", schema=True),
    Case("tag-value-characters", None, project("tags", {"Owner": "${var.x}"}), "tags.Owner", "a tag value is", schema=True),
    Case("tag-value-newline", project("tags", {"Owner": ""}), project("tags", {"Owner": "me\n"}), "tags.Owner", "a tag value is"),
    Case("tag-key-newline", None, project("tags", {"Owner\n": "me"}), "tags.'Owner\\n'", "a tag key is"),
    Case("tag-value-not-string", project("tags", {"CostCenter": "123"}), project("tags", {"CostCenter": 123}), "tags.CostCenter", "must be a string", schema=True),
    Case("tag-value-long", project("tags", {"Owner": "x" * 256}), project("tags", {"Owner": "x" * 257}), "tags.Owner", "at most 256", schema=True),
    Case("tag-key-long", project("tags", {"K" * 128: "x"}), project("tags", {"K" * 129: "x"}), f"tags.{echo('K' * 129)}", "1-128", schema=True),
    *[
        Case(f"tag-tool-{key}", None, project("tags", {key: "x"}), f"tags.{key}", "collides with the tool's own tag", schema=True)
        for key in ("Project", "project", "ENV", "managedBy", "Name", "tier")
    ],
    Case("tag-keys-differ-in-case", project("tags", {"Team": "a", "Team2": "b"}), project("tags", {"Team": "a", "team": "b"}), "tags.team", "collides with the tag 'Team'"),
    Case("tag-aws-prefix", project("tags", {"awsome": "x"}), project("tags", {"AWS:cost": "x"}), "tags.AWS:cost", "reserved for AWS", schema=True),
    Case("tags-too-many", project("tags", _tags(45)), project("tags", _tags(46)), "tags", "46 tags, plus the tool's 5", schema=True),
    # --- account ids ---
    Case("account-zero", None, project("account_id", "000000000000"), "account_id", "000000000000 is not an AWS account id", schema=True),
    Case("platform-account-zero", None, both(platform("account_id", "000000000000"), platform("access", {"profile": "p"})), "environments.dev.account_id", "not an AWS account id", file="platform", schema=True),
    Case("state-account-zero", None, accounts("state_account_id", "000000000000"), "state_account_id", "not an AWS account id", file="accounts", schema=True),
    Case("accounts-key-zero", None, accounts("accounts.000000000000", {"name": "zero"}), "accounts.000000000000", "not an AWS account id", file="accounts", schema=True),
    Case("accounts-key-unquoted", None, accounts("accounts", {200000000001: {"name": "x"}}), "accounts", "is read as a number: quote it", file="accounts", schema=True),
    # --- github.branch: a valid git ref ---
    Case("branch-double-dot", project("github.branch", "release/2026.01"), project("github.branch", "release..2026"), "github.branch", "must not contain '..'"),
    Case("branch-at-brace", project("github.branch", "user@host"), project("github.branch", "main@{1}"), "github.branch", "'@{'"),
    Case("branch-lock", project("github.branch", "locked"), project("github.branch", "feature/x.lock"), "github.branch", "'.lock'"),
    Case("branch-trailing-slash", project("github.branch", "feature/x"), project("github.branch", "feature/"), "github.branch", "'/'"),
    Case("branch-dot-part", project("github.branch", "v1.2"), project("github.branch", "feature/.hidden"), "github.branch", "start with '.'"),
    Case("branch-space", None, project("github.branch", "my branch"), "github.branch", "a git branch name", schema=True),
    Case("branch-control", None, project("github.branch", "main\x07"), "github.branch", "a git branch name", schema=True),
    Case("branch-dash", None, project("github.branch", "-main"), "github.branch", "must not start with '-'"),
    Case("branch-at", None, project("github.branch", "@"), "github.branch", "names the current commit"),
    Case("branch-head", project("github.branch", "HEADS"), project("github.branch", "HEAD"), "github.branch", "names the current commit"),
    # --- file name against project/env ---
    Case("name-env", None, project("env", "staging"), "env", "expected project-sample-staging-algorithm-server-infra.yml"),
    Case("name-project", None, project("project", "project-other"), "project", "expected project-other-dev-algorithm-server-infra.yml"),
    # --- duplicates and empty lists stay refused ---
    Case("azs-repeated", None, project("network.availability_zones", ["ap-northeast-1a", "ap-northeast-1a"]), "network.availability_zones", "must not repeat", schema=True),
    Case("azs-empty", None, project("network.availability_zones", []), "network.availability_zones", "at least 1 item", schema=True),
    Case("endpoints-repeated", None, project("network.interface_endpoints", ["logs", "logs"]), "network.interface_endpoints", "must not repeat", schema=True),
    Case("origins-empty", None, project("store.cors_allowed_origins", []), "store.cors_allowed_origins", "at least 1 item", schema=True),
    Case("command-empty", project("job.command", ["python", "run.py", "Ref::key", "Ref::key"]), project("job.command", []), "job.command", "at least 1 item", schema=True),
    # --- backend.tf.json: assume_role and profile ---
    Case("backend-role-account", backend("assume_role", {"role_arn": f"arn:aws:iam::{STATE_ACCOUNT}:role/terraform-state", "external_id": "estate-42", "session_name": "algorithm-server-infra"}), backend("assume_role", {"role_arn": f"arn:aws:iam::{ACCOUNT}:role/terraform-state"}), "terraform.backend.s3.assume_role.role_arn", f"but the state account (state_account_id in accounts.yml) is {STATE_ACCOUNT}", file="backend"),
    Case("backend-role-arn", None, backend("assume_role", {"role_arn": "terraform-state"}), "terraform.backend.s3.assume_role.role_arn", "an IAM role ARN", file="backend"),
    Case("backend-role-missing", None, backend("assume_role", {"session_name": "x1"}), "terraform.backend.s3.assume_role.role_arn", "is required", file="backend"),
    Case("backend-external-id", None, backend("assume_role", {"role_arn": f"arn:aws:iam::{STATE_ACCOUNT}:role/r", "external_id": "x"}), "terraform.backend.s3.assume_role.external_id", "an external id", file="backend"),
    Case("backend-session-name", None, backend("assume_role", {"role_arn": f"arn:aws:iam::{STATE_ACCOUNT}:role/r", "session_name": "has space"}), "terraform.backend.s3.assume_role.session_name", "a session name", file="backend"),
    Case("backend-assume-role-unknown", None, backend("assume_role", {"role_arn": f"arn:aws:iam::{STATE_ACCOUNT}:role/r", "duration": "1h"}), "terraform.backend.s3.assume_role.duration", "unknown key", file="backend"),
    Case("backend-profile", backend("profile", "estate-state"), backend("profile", "bad profile\nname"), "terraform.backend.s3.profile", "an AWS profile name", file="backend"),
    Case("backend-encrypt", None, backend("encrypt", False), "terraform.backend.s3.encrypt", "must be true", file="backend"),
    # S3 bucket naming rules beyond the characters, on the state bucket (the flow-logs bucket ARN below)
    *(
        Case(f"backend-bucket-{bad}", backend("bucket", good), backend("bucket", bad), "terraform.backend.s3.bucket", fragment, file="backend")
        for good, bad, fragment in [
            ("state.bucket", "state..bucket", "'..' is not allowed"),
            ("state-bucket", "state.-bucket", "'.-' is not allowed"),
            ("state-bucket.x", "state-.bucket", "'-.' is not allowed"),
            ("192-168-1-1", "192.168.1.1", "looks like an IP address"),
            ("xn-state", "xn--state", "the prefix 'xn--' is reserved"),
            ("three-state", "sthree-state", "the prefix 'sthree-' is reserved"),
            ("amzn-s3-state", "amzn-s3-demo-state", "the prefix 'amzn-s3-demo-' is reserved"),
            ("state-s3alias-x", "state-bucket-s3alias", "the suffix '-s3alias' is reserved"),
            ("state-bucket-ol-s3", "state-bucket--ol-s3", "the suffix '--ol-s3' is reserved"),
            ("state-bucket-x-s3", "state-bucket--x-s3", "the suffix '--x-s3' is reserved"),
            ("state-table-s3", "state--table-s3", "the suffix '--table-s3' is reserved"),
            ("state.mrap-x", "state.mrap", "the suffix '.mrap' is reserved"),
        ]
    ),
    # IAM role names: at most 64 after an optional path, never empty
    Case("backend-role-name-long", backend("assume_role", {"role_arn": f"arn:aws:iam::{STATE_ACCOUNT}:role/" + "p/" * 40 + "r" * 64}), backend("assume_role", {"role_arn": f"arn:aws:iam::{STATE_ACCOUNT}:role/" + "r" * 65}), "terraform.backend.s3.assume_role.role_arn", "a name of at most 64", file="backend"),
    Case("backend-role-name-empty", None, backend("assume_role", {"role_arn": f"arn:aws:iam::{STATE_ACCOUNT}:role/estate/"}), "terraform.backend.s3.assume_role.role_arn", "an IAM role ARN", file="backend"),
    Case("backend-role-name-slashes", None, backend("assume_role", {"role_arn": f"arn:aws:iam::{STATE_ACCOUNT}:role//"}), "terraform.backend.s3.assume_role.role_arn", "an IAM role ARN", file="backend"),
    Case("platform-role-name-long", platform("access.role_arn", "arn:aws:iam::100000000001:role/dns/" + "r" * 64), platform("access.role_arn", "arn:aws:iam::100000000001:role/" + "r" * 65), "environments.dev.access.role_arn", "a name of at most 64", file="platform.yml"),
    # --- accounts.yml ---
    Case("account-not-listed", both(project("account_id", "210000000001"), accounts("accounts.210000000001", {"name": "new"})), project("account_id", "210000000001"), "account_id", "account 210000000001 is not in accounts.yml"),
    Case("account-baseline-moved", None, project("account_baseline", {"enabled": False}), "account_baseline", "has moved to configs/accounts.yml", schema=True),
    Case("adopt-secret-without-baseline", accounts("accounts.200000000002.adopt", {"github_token_secret": True, "codebuild_source_credential": True}), accounts(f"accounts.{ACCOUNT}.adopt", {"github_token_secret": True}), f"accounts.{ACCOUNT}.adopt.github_token_secret", "baseline.enabled is false", file="accounts"),
    Case("adopt-credential-not-created", accounts("accounts.200000000002.baseline", {"codebuild_source_credential": False}), both(accounts("accounts.200000000002.baseline", {"codebuild_source_credential": False}), accounts("accounts.200000000002.adopt", {"codebuild_source_credential": True})), "accounts.200000000002.adopt.codebuild_source_credential", "the baseline does not create one", file="accounts"),
    Case("account-name-missing", None, accounts(f"accounts.{ACCOUNT}", {"baseline": {"enabled": False}}), f"accounts.{ACCOUNT}.name", "is required", file="accounts", schema=True),
    Case("account-unknown-key", None, accounts(f"accounts.{ACCOUNT}.baseline.enable", True), f"accounts.{ACCOUNT}.baseline.enable", "unknown key", file="accounts", schema=True),
    # --- project adopt ---
    Case("adopt-not-bool", project("adopt", {"data_bucket": True, "trigger_bucket": True, "ecr_repository": True}), project("adopt", {"data_bucket": "yes"}), "adopt.data_bucket", "true or false", schema=True),
    Case("adopt-unknown", None, project("adopt", {"vpc": True}), "adopt.vpc", "unknown key", schema=True),
    Case("adopt-repository-kms", both(project("store.encryption", "kms"), project("adopt", {"data_bucket": True, "trigger_bucket": True})), both(project("store.encryption", "kms"), project("adopt", {"ecr_repository": True})), "adopt.ecr_repository", "Terraform would replace (delete) the adopted repository"),
    Case("adopt-repository-retained-key", project("adopt", {"ecr_repository": True}), both(project("store.kms_key_retained", True), project("adopt", {"ecr_repository": True})), "adopt.ecr_repository", "store KMS key"),
    # --- transit gateway acceptance ---
    Case("tgw-options-shared", both(platform("transit_gateway_auto_accept", False), project("network.transit_gateway", {"default_route_table_association": False})), project("network.transit_gateway", {"default_route_table_association": False}), "network.transit_gateway.default_route_table_association", "transit_gateway_auto_accept: false"),
    Case("tgw-propagation-shared", project("network.transit_gateway", {"appliance_mode_support": True}), project("network.transit_gateway", {"default_route_table_propagation": True}), "network.transit_gateway.default_route_table_propagation", "belongs to the platform account"),
    Case("tgw-auto-accept-type", platform("transit_gateway_auto_accept", False), platform("transit_gateway_auto_accept", "no"), "environments.dev.transit_gateway_auto_accept", "true or false", file="platform", schema=True),
    Case("tgw-shared-by-envs-account", None, lambda f: at(f.platform["environments"]["staging"], "transit_gateway_id", f.dev["transit_gateway_id"]), "environments.staging.account_id", "both name transit gateway", file="platform"),
    # --- compute.root_volume_size_gib ---
    Case("root-volume-low", project("compute.root_volume_size_gib", 30), project("compute.root_volume_size_gib", 29), "compute.root_volume_size_gib", "at least 30", schema=True),
    Case("root-volume-high", project("compute.root_volume_size_gib", 16384), project("compute.root_volume_size_gib", 16385), "compute.root_volume_size_gib", "at most 16384", schema=True),
    # --- store.ecr.mutable_tags must cover job.image_tag ---
    Case("mutable-tags-cover", project("store.ecr.mutable_tags", ["lat*", "dev-*"]), project("store.ecr.mutable_tags", ["dev-*"]), "store.ecr.mutable_tags", "does not cover job.image_tag 'latest', which CodeBuild pushes on every build"),
    Case("mutable-tags-empty", project("store.ecr.image_tag_mutability", "MUTABLE"), project("store.ecr.mutable_tags", []), "store.ecr.mutable_tags", "does not cover job.image_tag"),
    Case("mutable-tags-prefix", both(project("job.image_tag", "release-2026"), project("store.ecr.mutable_tags", ["release-*"])), both(project("job.image_tag", "release"), project("store.ecr.mutable_tags", ["release-*"])), "store.ecr.mutable_tags", "'release'"),
    Case("mutable-tags-mutable", None, both(project("store.ecr.image_tag_mutability", "MUTABLE"), project("store.ecr.mutable_tags", ["latest"])), "store.ecr.mutable_tags", "only makes sense with image_tag_mutability IMMUTABLE"),
    Case("mutable-tags-filter", None, project("store.ecr.mutable_tags", ["latest", "v?"]), "store.ecr.mutable_tags", "an ECR tag filter", schema=True),
    # --- store.kms_key_retained ---
    Case("kms-key-retained", project("store.kms_key_retained", True), both(project("store.encryption", "kms"), project("store.kms_key_retained", True)), "store.kms_key_retained", "only applies with encryption sse-s3"),
    # --- flow logs ---
    Case("flow-logs-s3-arn", project("network.flow_logs", {"destination": "s3", "s3_bucket_arn": "arn:aws:s3:::estate-flow-logs/vpc"}), project("network.flow_logs", {"destination": "s3"}), "network.flow_logs.s3_bucket_arn", "is required when destination is s3"),
    Case("flow-logs-bucket-name", project("network.flow_logs", {"destination": "s3", "s3_bucket_arn": "arn:aws:s3:::flow.logs"}), project("network.flow_logs", {"destination": "s3", "s3_bucket_arn": "arn:aws:s3:::flow..logs"}), "network.flow_logs.s3_bucket_arn", "'..' is not allowed"),
    Case("flow-logs-bucket-reserved", None, project("network.flow_logs", {"destination": "s3", "s3_bucket_arn": "arn:aws:s3:::xn--flowlogs"}), "network.flow_logs.s3_bucket_arn", "the prefix 'xn--' is reserved"),
    *(
        Case(f"flow-logs-awslogs-{i}", project("network.flow_logs", {"destination": "s3", "s3_bucket_arn": "arn:aws:s3:::flow-logs/vpc/AWSLogsX/awslogs"}), project("network.flow_logs", {"destination": "s3", "s3_bucket_arn": f"arn:aws:s3:::flow-logs/{prefix}"}), "network.flow_logs.s3_bucket_arn", "a folder named AWSLogs")
        for i, prefix in enumerate(["AWSLogs", "vpc/AWSLogs", "vpc/AWSLogs/x"])
    ),
    Case("github-repository-dot", project("github.repository", "owner/.github"), project("github.repository", "owner/.."), "github.repository", "cannot be named '..'"),
    Case("github-repository-single-dot", project("github.repository", "owner/a.b"), project("github.repository", "owner/."), "github.repository", "cannot be named '.'"),
    Case("github-owner-old-style", project("github.repository", "owner-/x"), project("github.repository", "owner-/."), "github.repository", "cannot be named '.'"),
    Case("command-nul", project("job.command", ["bash", "-c", "set -e\n\techo done"]), project("job.command", ["a\0b"]), "job.command", "a NUL character"),
    Case("flow-logs-arn-unused", None, project("network.flow_logs", {"s3_bucket_arn": "arn:aws:s3:::estate-flow-logs"}), "network.flow_logs.s3_bucket_arn", "only applies with destination s3"),
    # --- buildspec ---
    Case("buildspec-path", project("github.buildspec", "ci/buildspec.yml"), project("github.buildspec", "ci/../../etc/buildspec.yml"), "github.buildspec", "without '.' or '..' parts"),
]  # fmt: skip


def _where(case: Case) -> str:
    return FILE_OF.get(case.file, case.file)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule_refuses_the_bad_input_and_accepts_the_good_one(tmp_path: Path, case: Case) -> None:
    if case.good is not None:
        good = Files.samples()
        case.good(good)
        assert good.load(tmp_path / "good").key == KEY

    bad = Files.samples()
    case.bad(bad)
    with pytest.raises(ConfigError) as err:
        bad.load(tmp_path / "bad")
    assert (Path(err.value.path).name, err.value.field) == (_where(case), case.field), str(err.value)
    assert case.fragment in err.value.message, str(err.value)
    line = str(err.value)
    assert "\n" not in line and len(line) < 700, line


def test_every_case_id_is_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


# ---------------------------------------------------------------------------
# Defaults that depend on other settings
# ---------------------------------------------------------------------------


def _load(tmp: Path, *changes: Change, key: str = KEY) -> cfg.ProjectConfig:
    files = Files.samples(key)
    for change in changes:
        change(files)
    return files.load(tmp)


def test_root_volume_defaults_by_image(tmp_path: Path) -> None:
    assert _load(tmp_path / "cpu").compute.root_volume_size_gib == 30
    gpu = _load(tmp_path / "gpu", project("compute.instance_types", ["g5.xlarge"]))
    assert (gpu.compute.image_type, gpu.compute.root_volume_size_gib) == (cfg.IMAGE_TYPE_GPU, 100)
    assert _load(tmp_path / "set", project("compute.root_volume_size_gib", 250)).compute.root_volume_size_gib == 250


def test_mutable_tags_default_to_the_pushed_image_tag(tmp_path: Path) -> None:
    c = _load(tmp_path / "a", project("job.image_tag", "moving"), project("store", {}))
    assert c.store.ecr.mutable_tags == ("moving",)
    mutable = _load(tmp_path / "b", project("store.ecr.image_tag_mutability", "MUTABLE"))
    assert mutable.store.ecr.mutable_tags == ()
    explicit = _load(tmp_path / "c", project("store.ecr.mutable_tags", ["lat*"]))
    assert explicit.store.ecr.mutable_tags == ("lat*",)


def test_every_sample_pushes_a_tag_it_may_overwrite(sample_configs: dict[str, cfg.ProjectConfig]) -> None:
    from algoinfra.config import facts

    for c in sample_configs.values():
        ecr = c.store.ecr
        assert ecr.image_tag_mutability == "MUTABLE" or facts.tag_filter_covers(ecr.mutable_tags, c.job.image_tag)


def test_new_settings_reach_the_loaded_config(tmp_path: Path) -> None:
    role = f"arn:aws:iam::{STATE_ACCOUNT}:role/terraform-state"
    c = _load(
        tmp_path,
        backend("assume_role", {"role_arn": role, "session_name": "algorithm-server-infra"}),
        backend("profile", "estate"),
        project("adopt", {"data_bucket": True, "trigger_bucket": True}),  # the repository: not with a retained key
        platform("transit_gateway_auto_accept", False),
        project("network.transit_gateway", {"default_route_table_association": False}),
        project("store.kms_key_retained", True),
        accounts(f"accounts.{ACCOUNT}", {"name": "dev", "adopt": {"github_token_secret": True}}),
    )
    assert c.backend.assume_role == cfg.AssumeRole(role_arn=role, session_name="algorithm-server-infra")
    assert c.backend.profile == "estate" and c.backend.path.name == "backend.tf.json"
    assert c.state_account_id == STATE_ACCOUNT
    assert (c.adopt.data_bucket, c.adopt.trigger_bucket, c.adopt.ecr_repository) == (True, True, False)
    assert c.platform.transit_gateway_auto_accept is False
    assert c.network.transit_gateway.default_route_table_association is False
    assert c.store.kms_key_retained is True
    assert c.account.account_id == ACCOUNT and c.account.name == "dev"
    assert c.account.baseline == cfg.AccountBaseline(enabled=True, codebuild_source_credential=True)
    assert c.account.adopt == cfg.AccountAdopt(github_token_secret=True, codebuild_source_credential=False)


def test_platform_defaults(sample_configs: dict[str, cfg.ProjectConfig], tmp_path: Path) -> None:
    assert all(c.platform.transit_gateway_auto_accept for c in sample_configs.values())
    c = _load(tmp_path, lambda f: f.dev.pop("account_name"))
    assert c.platform.account_name == "dev" and c.platform.env == "dev"


def test_accounts_of_the_samples(sample_configs: dict[str, cfg.ProjectConfig]) -> None:
    by_env = {c.env: c.account for c in sample_configs.values()}
    assert by_env["dev"].baseline.enabled is False  # the shared dev account: unmanaged, as before
    assert by_env["staging"].baseline.enabled and by_env["production"].baseline.enabled
    assert {c.state_account_id for c in sample_configs.values()} == {STATE_ACCOUNT}


def test_same_account_may_set_route_table_options(tmp_path: Path) -> None:
    platform_account = Files.samples().dev["account_id"]
    c = _load(
        tmp_path,
        project("account_id", platform_account),
        accounts(f"accounts.{platform_account}", {"name": "platform dev"}),
        project("network.transit_gateway", {"default_route_table_propagation": False}),
    )
    assert c.network.transit_gateway.default_route_table_propagation is False


# ---------------------------------------------------------------------------
# The estate: overlap per transit gateway, neighbours read and named
# ---------------------------------------------------------------------------


def _share_dev_gateway_with_staging(f: Files) -> None:
    staging = f.platform["environments"]["staging"]
    for key in ("transit_gateway_id", "account_id", "region"):
        staging[key] = f.dev[key]
    staging["access"] = {"role_arn": f.dev["access"]["role_arn"]}


def test_overlap_across_envs_on_one_gateway(tmp_path: Path) -> None:
    neighbour = other_config(
        f"project-other-staging{cfg.CONFIG_SUFFIX}",
        project="project-other",
        env="staging",
        network__vpc_cidr="10.64.8.0/21",
    )
    # Separate gateways: the same addresses are fine.
    assert _load(tmp_path / "good", neighbour).key == KEY
    # One gateway for dev and staging: one routing domain.
    with pytest.raises(ConfigError) as err:
        _load(tmp_path / "bad", neighbour, _share_dev_gateway_with_staging)
    assert err.value.field == "network.vpc_cidr"
    assert "10.64.0.0/20 overlaps 10.64.8.0/21 of project-other-staging-algorithm-server-infra.yml" in err.value.message
    assert "tgw-0a1b2c3d4e5f60001" in err.value.message


def test_overlap_with_routed_cidrs_of_another_env_on_the_gateway(tmp_path: Path) -> None:
    def staging_routes(f: Files) -> None:
        f.platform["environments"]["staging"]["routed_cidrs"] = ["10.64.0.0/24"]

    assert _load(tmp_path / "good", staging_routes).key == KEY
    with pytest.raises(ConfigError) as err:
        _load(tmp_path / "bad", staging_routes, _share_dev_gateway_with_staging)
    assert err.value.field == "network.vpc_cidr"
    assert "overlaps 10.64.0.0/24 of the platform's routed_cidrs (staging)" in err.value.message


def test_same_routed_cidr_in_envs_sharing_a_gateway_is_fine(tmp_path: Path) -> None:
    def same_routes(f: Files) -> None:
        f.platform["environments"]["staging"]["routed_cidrs"] = list(f.dev["routed_cidrs"])

    assert _load(tmp_path, same_routes, _share_dev_gateway_with_staging).key == KEY


NEIGHBOUR = f"project-broken-dev{cfg.CONFIG_SUFFIX}"
BROKEN_NEIGHBOURS = [
    ("yaml-syntax", "project: project-broken\nenv: [dev\n", "", "YAML syntax error"),
    ("not-a-mapping", "- just\n- a list\n", "(top level)", "must be a mapping"),
    ("no-env", {"project": "project-broken", "network": {"vpc_cidr": "10.70.0.0/20"}}, "env", "is required"),
    (
        "bad-env",
        {"env": "qa", "network": {"vpc_cidr": "10.70.0.0/20"}},
        "env",
        "must be one of dev, staging, production",
    ),
    (
        "no-cidr",
        {"env": "dev", "network": {"availability_zones": ["ap-northeast-1a"]}},
        "network.vpc_cidr",
        "is required",
    ),
    ("bad-cidr", {"env": "dev", "network": {"vpc_cidr": "10.70.0.1/20"}}, "network.vpc_cidr", "host bits set"),
]


@pytest.mark.parametrize(
    ("content", "field", "fragment"), [b[1:] for b in BROKEN_NEIGHBOURS], ids=[b[0] for b in BROKEN_NEIGHBOURS]
)
def test_a_neighbour_that_cannot_be_read_is_named(tmp_path: Path, content: Any, field: str, fragment: str) -> None:
    files = Files.samples()
    files.others[NEIGHBOUR] = content
    with pytest.raises(ConfigError) as err:
        files.load(tmp_path)
    assert Path(err.value.path).name == NEIGHBOUR and err.value.field == field
    assert fragment in err.value.message


def test_a_neighbour_in_an_env_without_platform_entry_is_named(tmp_path: Path) -> None:
    files = Files.samples()
    del files.platform["environments"]["production"]
    files.others[f"project-sample-production{cfg.CONFIG_SUFFIX}"] = sample_data("project-sample-production")
    with pytest.raises(ConfigError) as err:
        files.load(tmp_path)
    assert Path(err.value.path).name == f"project-sample-production{cfg.CONFIG_SUFFIX}" and err.value.field == "env"
    assert "no entry for env 'production'" in err.value.message


def test_load_all_reports_the_first_file_in_name_order(tmp_path: Path) -> None:
    files = Files.samples()
    files.others[f"project-aaa-dev{cfg.CONFIG_SUFFIX}"] = {**sample_data(KEY), "project": "project-aaa"}
    d = files.write(tmp_path)
    with pytest.raises(ConfigError) as err:
        cfg.load_all(d, backend_path=tmp_path / "backend.tf.json")
    # Both overlap; the first file by name is the one reported, naming the other.
    assert Path(err.value.path).name == f"project-aaa-dev{cfg.CONFIG_SUFFIX}"
    assert f"of {KEY}{cfg.CONFIG_SUFFIX}" in err.value.message


# ---------------------------------------------------------------------------
# Messages: one line, values quoted and cut, the same first error every time
# ---------------------------------------------------------------------------

HOSTILE = [
    ("newline-value", project("github.repository", "owner/name\nerror: fake")),
    ("huge-value", project("github.repository", "x" * 1_000_000)),
    ("newline-key", project("network.vpc\ncidr", "10.0.0.0/16")),
    ("huge-key", project("tags", {"k" * 100_000: "v"})),
    ("control-key", project("store.\x1b[31mred", 1)),
    ("huge-list", project("network.availability_zones", ["ap-northeast-1a"] * 100_000)),
    ("nested-huge", project("store.ecr", {"mutable_tags": [["x" * 10_000]]})),
    ("platform-newline", platform("account_name", "ACES\nerror: fake")),
    ("accounts-key", accounts("accounts", {"line\nbreak": {"name": "x"}})),
]


@pytest.mark.parametrize("change", [h[1] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_echoed_values_and_keys_stay_one_short_line(tmp_path: Path, change: Change) -> None:
    files = Files.samples()
    change(files)
    with pytest.raises(ConfigError) as err:
        files.load(tmp_path)
    line = str(err.value)
    assert "\n" not in line and "\x1b" not in line and len(line) < 400, line[:500]


def test_the_first_error_is_stable_and_in_model_order(tmp_path: Path) -> None:
    def many(f: Files) -> None:
        f.project["zzz_unknown"] = 1
        f.project["job"]["memory_mib"] = "lots"
        f.project["network"]["vpc_cidr"] = "10.0.0.1/16"

    lines = set()
    for n in range(3):
        files = Files.samples()
        many(files)
        with pytest.raises(ConfigError) as err:
            files.load(tmp_path / str(n))
        lines.add((err.value.field, err.value.message))
    # network comes before job in the model, unknown keys after every field.
    assert lines == {("network.vpc_cidr", "invalid CIDR '10.0.0.1/16': 10.0.0.1/16 has host bits set")}
