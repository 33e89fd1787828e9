"""Every AWS name this project creates, built in one place and checked against AWS rules.

The runbook's names are kept exactly: ``<project>-<env>`` and
``<project>-<env>-batch-trigger`` for the buckets, ``<project>-<env>-algorithm``
for the ECR repository, ``/<env>/<project>/vpc-id`` for the SSM parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PROJECT_RE = re.compile(r"^project-[a-z0-9]+(?:-[a-z0-9]+)*$")
_S3_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# S3's general purpose bucket naming rules beyond the characters (Amazon S3 User Guide, "Bucket naming rules").
_S3_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_S3_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_IPV4_RE = re.compile(r"^[0-9]{1,3}(?:\.[0-9]{1,3}){3}$")


def s3_bucket_name_problem(name: str) -> str | None:
    """Why S3 refuses ``name`` as a general purpose bucket name, or None."""
    if not 3 <= len(name) <= 63:
        return f"is {len(name)} characters; S3 allows 3-63"
    if not _S3_BUCKET_RE.match(name):
        return (
            "is not a valid S3 bucket name (lowercase letters, digits, '.' and '-',"
            " starting and ending with a letter or digit)"
        )
    for bad in ("..", ".-", "-."):
        if bad in name:
            return f"is not a valid S3 bucket name ({bad!r} is not allowed)"
    if _IPV4_RE.match(name):
        return "is not a valid S3 bucket name (it looks like an IP address)"
    for prefix in _S3_RESERVED_PREFIXES:
        if name.startswith(prefix):
            return f"is not a valid S3 bucket name (the prefix {prefix!r} is reserved)"
    for suffix in _S3_RESERVED_SUFFIXES:
        if name.endswith(suffix):
            return f"is not a valid S3 bucket name (the suffix {suffix!r} is reserved)"
    return None


_ECR_REPO_RE = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_IAM_NAME_RE = re.compile(r"^[\w+=,.@-]+$")
_BATCH_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_LAUNCH_TEMPLATE_RE = re.compile(r"^[A-Za-z0-9().\-/_]{3,128}$")
_SESSION_NAME_RE = re.compile(r"^[\w+=,.@-]{2,64}$")

# Terraform appends a 26-character unique suffix to a name_prefix.
TERRAFORM_PREFIX_SUFFIX_LEN = 26

# GitHub token secret: the name the runbook's account preparation uses.
GITHUB_TOKEN_SECRET_NAME = "GITHUB_PERSONAL_ACCESS_TOKEN"

# Purposes of the platform provider's role sessions (algorithm-dns, algorithm-server-infra).
PLATFORM_SESSION_PURPOSES = ("dns", "tgw")


@dataclass(frozen=True)
class Names:
    """Names derived from a project and an environment."""

    project: str
    env: str

    @property
    def base(self) -> str:
        return f"{self.project}-{self.env}"

    # --- algorithm-store -------------------------------------------------
    @property
    def data_bucket(self) -> str:
        return self.base

    @property
    def trigger_bucket(self) -> str:
        return f"{self.base}-batch-trigger"

    @property
    def ecr_repository(self) -> str:
        return f"{self.base}-algorithm"

    # --- algorithm-server-infra -----------------------------------------
    @property
    def vpc_id_parameter(self) -> str:
        return f"/{self.env}/{self.project}/vpc-id"

    @property
    def flow_log_group(self) -> str:
        return f"/vpc-flow-logs/{self.base}"

    def security_group(self, purpose: str) -> str:
        """``endpoints``, ``workload``, ``batch``."""
        return f"{self.base}-{purpose}"

    @property
    def store_key_alias(self) -> str:
        return f"alias/{self.base}-store"

    # --- IAM roles ----------------------------------------------------------
    def role(self, purpose: str) -> str:
        return f"{self.base}-{purpose}"

    ROLE_PURPOSES = (
        "flow-logs",
        "batch-instance",
        "batch-job",
        "batch-execution",
        "sagemaker-execution",
        "events-submit-job",
        "codebuild",
    )

    def platform_session_name(self, purpose: str) -> str:
        """The role session name of the platform provider (``dns``, ``tgw``): CloudTrail names the project."""
        return f"{self.base}-{purpose}"

    # --- algorithm-compute-resource / algorithm-service ------------------
    def compute_environment_prefix(self, kind: str) -> str:
        return f"{self.base}-{kind.lower()}-"

    @property
    def launch_template(self) -> str:
        return f"{self.base}-batch"

    @property
    def job_queue(self) -> str:
        return f"{self.base}-queue"

    @property
    def job_definition(self) -> str:
        return f"{self.base}-algorithm"

    @property
    def job_log_group(self) -> str:
        return f"/aws/batch/{self.base}"

    @property
    def codebuild_project(self) -> str:
        return f"{self.base}-algorithm-image"

    @property
    def codebuild_log_group(self) -> str:
        return f"/aws/codebuild/{self.codebuild_project}"

    @property
    def trigger_rule(self) -> str:
        return f"{self.base}-batch-trigger"

    def problems(self) -> list[str]:
        """Every derived name that AWS would refuse, as human-readable sentences."""
        out: list[str] = []
        for name in (self.data_bucket, self.trigger_bucket):
            if (problem := s3_bucket_name_problem(name)) is not None:
                out.append(f"derived S3 bucket name '{name}' {problem}")
        if not _ECR_REPO_RE.match(self.ecr_repository) or not 2 <= len(self.ecr_repository) <= 256:
            out.append(f"derived ECR repository name '{self.ecr_repository}' is not valid")
        for purpose in self.ROLE_PURPOSES:
            name = self.role(purpose)
            if len(name) > 64:
                out.append(f"derived IAM role name '{name}' is {len(name)} characters; IAM allows 64")
            elif not _IAM_NAME_RE.match(name):
                out.append(f"derived IAM role name '{name}' is not valid")
        for name in (self.job_queue, self.job_definition, self.codebuild_project, self.trigger_rule):
            if len(name) > 64 or not _BATCH_NAME_RE.match(name):
                out.append(f"derived name '{name}' must be at most 64 letters, digits, '-' or '_'")
        for kind in ("SPOT", "EC2"):
            prefix = self.compute_environment_prefix(kind)
            if len(prefix) + TERRAFORM_PREFIX_SUFFIX_LEN > 128:
                out.append(f"derived compute environment prefix '{prefix}' is too long")
        if not _LAUNCH_TEMPLATE_RE.match(self.launch_template):
            out.append(f"derived launch template name '{self.launch_template}' is not valid")
        for purpose in PLATFORM_SESSION_PURPOSES:
            session = self.platform_session_name(purpose)
            if not _SESSION_NAME_RE.match(session):
                out.append(f"derived role session name '{session}' must be at most 64 characters")
        return out


# Every state key starts with the tool's name, so the estate's bucket can hold other tools' state too.
STATE_KEY_PREFIX = "algorithm-server-infra"


def state_key(*, project: str, env: str, region: str, stack: str) -> str:
    """State key of a per-project stack: one per project, env, region and stack."""
    return f"{STATE_KEY_PREFIX}/{project}/{env}/{region}/{stack}.tfstate"


def account_state_key(*, account_id: str, region: str, stack: str) -> str:
    """State key of an account-wide stack: one per account and region."""
    return f"{STATE_KEY_PREFIX}/accounts/{account_id}/{region}/{stack}.tfstate"


def partition(region: str) -> str:
    """The AWS partition of a region (``aws``, ``aws-cn``, ``aws-us-gov``)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


@dataclass(frozen=True)
class Arns:
    """ARNs and URLs that AWS defines from names, in one account and region.

    Built from names, they are known when Terraform plans (a reviewer reads
    them in full) and need no value from another stack: CDKTF's cross-stack
    values would be ``(sensitive value)`` in a plan otherwise.
    """

    region: str
    account_id: str

    @property
    def partition(self) -> str:
        return partition(self.region)

    @property
    def dns_suffix(self) -> str:
        return "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com"

    def _regional(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account_id}:{resource}"

    # --- S3 (global names: no region or account in the ARN) ----------------
    def bucket(self, name: str) -> str:
        return f"arn:{self.partition}:s3:::{name}"

    def objects(self, bucket: str, prefix: str = "") -> str:
        return f"{self.bucket(bucket)}/{prefix}*"

    # --- ECR ------------------------------------------------------------------
    def ecr_repository(self, name: str) -> str:
        return self._regional("ecr", f"repository/{name}")

    def ecr_repository_url(self, name: str) -> str:
        return f"{self.account_id}.dkr.ecr.{self.region}.{self.dns_suffix}/{name}"

    # --- CodeBuild ------------------------------------------------------------
    def codebuild_source_credential(self, server_type: str) -> str:
        """The account's one source credential for ``GITHUB`` (``.../token/github``) in this region."""
        return self._regional("codebuild", f"token/{server_type.lower()}")

    # --- CloudWatch Logs ------------------------------------------------------
    def log_group(self, name: str) -> str:
        return self._regional("logs", f"log-group:{name}")

    def log_streams(self, group: str) -> str:
        return f"{self.log_group(group)}:log-stream:*"

    # --- Batch ----------------------------------------------------------------
    def job_queue(self, name: str) -> str:
        return self._regional("batch", f"job-queue/{name}")

    def job_definitions(self, name: str) -> str:
        """Every revision of a job definition."""
        return self._regional("batch", f"job-definition/{name}:*")

    # --- IAM (global: no region) ----------------------------------------------
    def role(self, name: str) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:role/{name}"

    @property
    def account_root(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:root"

    def aws_managed_policy(self, path: str) -> str:
        return f"arn:{self.partition}:iam::aws:policy/{path}"

    # --- KMS ------------------------------------------------------------------
    @property
    def kms_keys(self) -> str:
        """Every key of the account and region: narrow it with ``kms:ResourceAliases``."""
        return self._regional("kms", "key/*")

    def kms_alias(self, alias: str) -> str:
        """``alias/...`` as an ARN."""
        return self._regional("kms", alias)

    # --- EC2 (ids come from the network stack) --------------------------------
    def ec2(self, resource_type: str, resource_id: str = "*") -> str:
        """``vpc``, ``subnet``, ``security-group``, ``network-interface``..."""
        return self._regional("ec2", f"{resource_type}/{resource_id}")
