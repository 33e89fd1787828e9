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
_ECR_REPO_RE = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_IAM_NAME_RE = re.compile(r"^[\w+=,.@-]+$")
_BATCH_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")

# Terraform appends a 26-character unique suffix to a name_prefix.
TERRAFORM_PREFIX_SUFFIX_LEN = 26

# GitHub token secret: the name the runbook's account preparation uses.
GITHUB_TOKEN_SECRET_NAME = "GITHUB_PERSONAL_ACCESS_TOKEN"


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

    # --- algorithm-compute-resource / algorithm-service ------------------
    def compute_environment_prefix(self, kind: str) -> str:
        return f"{self.base}-{kind.lower()}-"

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
        for label, name in (("S3 bucket", self.data_bucket), ("S3 bucket", self.trigger_bucket)):
            if not 3 <= len(name) <= 63:
                out.append(f"derived {label} name '{name}' is {len(name)} characters; S3 allows 3-63")
            elif not _S3_BUCKET_RE.match(name) or ".." in name:
                out.append(f"derived {label} name '{name}' is not a valid S3 bucket name")
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
        return out


# Every state key starts with the tool's name, so the estate's bucket can hold other tools' state too.
STATE_KEY_PREFIX = "algorithm-server-infra"


def state_key(*, project: str, env: str, region: str, stack: str) -> str:
    """State key of a per-project stack: one per project, env, region and stack."""
    return f"{STATE_KEY_PREFIX}/{project}/{env}/{region}/{stack}.tfstate"


def account_state_key(*, account_id: str, region: str, stack: str) -> str:
    """State key of an account-wide stack: one per account and region."""
    return f"{STATE_KEY_PREFIX}/accounts/{account_id}/{region}/{stack}.tfstate"
