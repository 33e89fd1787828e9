"""A private S3 bucket: ACLs off, public access blocked, encrypted, TLS only."""

from __future__ import annotations

from collections.abc import Sequence

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_cors_configuration import (
    S3BucketCorsConfiguration,
    S3BucketCorsConfigurationCorsRule,
)
from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import (
    S3BucketLifecycleConfiguration,
    S3BucketLifecycleConfigurationRule,
    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload,
    S3BucketLifecycleConfigurationRuleFilter,
)
from cdktf_cdktf_provider_aws.s3_bucket_ownership_controls import (
    S3BucketOwnershipControls,
    S3BucketOwnershipControlsRule,
)
from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktf_cdktf_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationA,
    S3BucketServerSideEncryptionConfigurationRuleA,
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
)
from cdktf_cdktf_provider_aws.s3_bucket_versioning import (
    S3BucketVersioningA,
    S3BucketVersioningVersioningConfiguration,
)
from constructs import Construct

from algoinfra.components.iam import Condition, Statement, policy_document
from algoinfra.naming import Arns

# CORS as the runbook sets it by hand on the data buckets.
CORS_METHODS = ("GET", "PUT")
CORS_MAX_AGE_SECONDS = 3000


def lifecycle_rule(rule_id: str, **actions: object) -> S3BucketLifecycleConfigurationRule:
    """An enabled lifecycle rule for the whole bucket."""
    return S3BucketLifecycleConfigurationRule(
        id=rule_id, status="Enabled", filter=[S3BucketLifecycleConfigurationRuleFilter(prefix="")], **actions
    )


def abort_multipart_rule(days: int) -> S3BucketLifecycleConfigurationRule:
    return lifecycle_rule(
        "abort-incomplete-multipart-uploads",
        abort_incomplete_multipart_upload=[
            S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(days_after_initiation=days)
        ],
    )


class PrivateBucket(Construct):
    """An S3 bucket that cannot be made public and refuses plain HTTP.

    Args:
        bucket: the bucket name (from ``Names``).
        arns: ARNs of the account and region (the bucket's partition).
        versioned: keep object versions.
        kms_key_arn: encrypt with this KMS key; SSE-S3 when ``None``.
        prevent_destroy: Terraform refuses to destroy the bucket.
        cors_allowed_origins: add the runbook's CORS rule for these origins.
        lifecycle_rules: lifecycle rules, each with a unique id.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: str,
        arns: Arns,
        versioned: bool,
        kms_key_arn: str | None = None,
        prevent_destroy: bool,
        cors_allowed_origins: Sequence[str] = (),
        lifecycle_rules: Sequence[S3BucketLifecycleConfigurationRule] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        # No force_destroy: a bucket with objects is never emptied by Terraform.
        self.bucket = S3Bucket(
            self,
            "bucket",
            bucket=bucket,
            force_destroy=False,
            lifecycle=TerraformResourceLifecycle(prevent_destroy=prevent_destroy),
        )
        self.arn: str = self.bucket.arn
        # Known when Terraform plans, so the policy below reads in full even before the bucket exists.
        named_arn = arns.bucket(bucket)
        bucket_id = self.bucket.id  # read once: every attribute read is a round trip to jsii
        S3BucketOwnershipControls(
            self,
            "ownership",
            bucket=bucket_id,
            rule=S3BucketOwnershipControlsRule(object_ownership="BucketOwnerEnforced"),
        )
        self.public_access_block = S3BucketPublicAccessBlock(
            self,
            "public_access_block",
            bucket=bucket_id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        )
        by_default = (
            S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                sse_algorithm="aws:kms", kms_master_key_id=kms_key_arn
            )
            if kms_key_arn
            else S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                sse_algorithm="AES256"
            )
        )
        S3BucketServerSideEncryptionConfigurationA(
            self,
            "encryption",
            bucket=bucket_id,
            rule=[
                S3BucketServerSideEncryptionConfigurationRuleA(
                    apply_server_side_encryption_by_default=by_default,
                    bucket_key_enabled=bool(kms_key_arn),
                )
            ],
        )
        if versioned:
            S3BucketVersioningA(
                self,
                "versioning",
                bucket=bucket_id,
                versioning_configuration=S3BucketVersioningVersioningConfiguration(status="Enabled"),
            )
        if cors_allowed_origins:
            S3BucketCorsConfiguration(
                self,
                "cors",
                bucket=bucket_id,
                cors_rule=[
                    S3BucketCorsConfigurationCorsRule(
                        allowed_headers=["*"],
                        allowed_methods=list(CORS_METHODS),
                        allowed_origins=list(cors_allowed_origins),
                        max_age_seconds=CORS_MAX_AGE_SECONDS,
                    )
                ],
            )
        if lifecycle_rules:
            S3BucketLifecycleConfiguration(self, "lifecycle", bucket=bucket_id, rule=list(lifecycle_rules))
        tls_only = policy_document(
            self,
            "tls_only",
            [
                Statement(
                    sid="DenyInsecureTransport",
                    effect="Deny",
                    principals={"*": ("*",)},
                    actions=("s3:*",),
                    resources=(named_arn, f"{named_arn}/*"),
                    conditions=(Condition("Bool", "aws:SecureTransport", ("false",)),),
                )
            ],
        )
        # The public access block must exist first, or a policy change can race it.
        S3BucketPolicy(self, "policy", bucket=bucket_id, policy=tls_only.json, depends_on=[self.public_access_block])

        self.name: str = self.bucket.bucket
