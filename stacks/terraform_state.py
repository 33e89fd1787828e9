"""terraform-state: the S3 bucket and DynamoDB table that hold every other stack's state.

It bootstraps the remote backend, so its own state is local. It belongs to the
state account (``state_account_id`` in configs/accounts.yml), not to the selected
project: its synthesized JSON is the same whichever config is selected.
"""

from __future__ import annotations

from pathlib import Path

from cdktf import TerraformOutput, TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.dynamodb_table import (
    DynamodbTable,
    DynamodbTableAttribute,
    DynamodbTablePointInTimeRecovery,
    DynamodbTableServerSideEncryption,
)
from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import (
    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration,
)
from constructs import Construct

from algoinfra.components.bucket import PrivateBucket, abort_multipart_rule, lifecycle_rule
from algoinfra.config import ProjectConfig
from stacks.base import BOOTSTRAP_STATE_FILE, BaseStack

STACK_ID = "terraform-state"
# Where the bootstrap's local state lives: in the repository, outside every out dir.
BOOTSTRAP_STATE_DIR = Path(__file__).resolve().parent.parent / "state"


def bootstrap_state_file(state_account_id: str) -> Path:
    """The bootstrap's state file: one per state account, whatever the out dir or the selected config."""
    return BOOTSTRAP_STATE_DIR / state_account_id / "terraform-state.tfstate"


def link_bootstrap_state(stack_dir: Path, state_account_id: str) -> None:
    """Make the stack dir's ``terraform.tfstate`` a symlink to :func:`bootstrap_state_file`.

    Terraform reads and writes the local state through the link, so the file is
    found the same way from ``cdktf.out``, ``CDKTF_OUTDIR`` or ``--all-configs``
    dirs, and ``rm -rf cdktf.out`` removes only the link.
    """
    target = bootstrap_state_file(state_account_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    (stack_dir / BOOTSTRAP_STATE_FILE).symlink_to(target)


# Old state versions are how a broken state is recovered: keep them a while.
STATE_NONCURRENT_VERSION_DAYS = 365
STATE_MULTIPART_UPLOAD_DAYS = 7


class TerraformStateStack(BaseStack):
    def __init__(self, scope: Construct, *, config: ProjectConfig) -> None:
        super().__init__(
            scope,
            STACK_ID,
            config=config,
            local_state=True,
            region=config.backend.region,
            account_id=config.state_account_id,
        )
        backend = config.backend
        self.state_bucket = PrivateBucket(
            self,
            "state_bucket",
            bucket=backend.bucket,
            arns=self.arns,
            versioned=True,
            prevent_destroy=True,
            lifecycle_rules=[
                abort_multipart_rule(STATE_MULTIPART_UPLOAD_DAYS),
                lifecycle_rule(
                    "expire-old-state-versions",
                    noncurrent_version_expiration=[
                        S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(
                            noncurrent_days=STATE_NONCURRENT_VERSION_DAYS
                        )
                    ],
                ),
            ],
        )
        self.lock_table = DynamodbTable(
            self,
            "lock_table",
            name=backend.dynamodb_table,
            billing_mode="PAY_PER_REQUEST",
            hash_key="LockID",
            attribute=[DynamodbTableAttribute(name="LockID", type="S")],
            point_in_time_recovery=DynamodbTablePointInTimeRecovery(enabled=True),
            server_side_encryption=DynamodbTableServerSideEncryption(enabled=True),
            deletion_protection_enabled=True,
            lifecycle=TerraformResourceLifecycle(prevent_destroy=True),
        )
        TerraformOutput(self, "state_bucket_name", value=self.state_bucket.name)
        TerraformOutput(self, "lock_table_name", value=self.lock_table.name)
