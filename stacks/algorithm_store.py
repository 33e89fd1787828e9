"""algorithm-store: the project's buckets and image repository (runbook 1.3 and 2.5).

The runbook's destroy procedure never removes the store; neither does ours.
Where the old runbook built them, ``adopt`` imports the buckets and the
repository by name; their settings (the buckets' sub-resources, the
repository's lifecycle policy) are not imported: they take over on apply.
"""

from __future__ import annotations

from cdktf import TerraformOutput
from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import (
    S3BucketLifecycleConfigurationRuleExpiration,
    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration,
)
from cdktf_cdktf_provider_aws.s3_bucket_notification import S3BucketNotification
from constructs import Construct

from algoinfra.components.adopt import import_existing
from algoinfra.components.bucket import PrivateBucket, abort_multipart_rule, lifecycle_rule
from algoinfra.components.kms import ManagedKey, forget_not_destroy, key_addresses
from algoinfra.components.registry import ImageRepository
from algoinfra.config import ProjectConfig
from stacks.base import BaseStack

STACK_ID = "algorithm-store"
STORE_KEY_ID = "kms_key"


class AlgorithmStoreStack(BaseStack):
    """Public attributes: ``data_bucket``, ``trigger_bucket``, ``repository``, ``kms_key`` (or ``None``)."""

    def __init__(self, scope: Construct, *, config: ProjectConfig) -> None:
        super().__init__(scope, STACK_ID, config=config)
        names, store = config.names, config.store
        # Noncurrent object versions outlive a change of encryption: the key is
        # protected exactly like the buckets it encrypts, and kept (kms_key_retained)
        # when new objects move to SSE-S3.
        self.kms_key = (
            ManagedKey(
                self, STORE_KEY_ID, alias=names.store_key_alias, arns=self.arns,
                description=f"Buckets and images of {names.base}", prevent_destroy=store.prevent_destroy,
            )
            if store.has_key
            else None
        )  # fmt: skip
        if self.kms_key is None and store.prevent_destroy:
            # prevent_destroy leaves with the resource block: a key this store had before a change of
            # encryption is forgotten by Terraform, never scheduled for deletion (old versions need it).
            forget_not_destroy(self, key_addresses(STORE_KEY_ID))
        key_arn = self.kms_key.arn if self.kms_key else None
        # New objects: the key only while it is in use (retained: SSE-S3 for new objects).
        kms_arn = key_arn if store.kms_key else None
        abort_multipart = abort_multipart_rule(store.abort_incomplete_multipart_upload_days)
        self.data_bucket = PrivateBucket(
            self,
            "data_bucket",
            bucket=names.data_bucket,
            arns=self.arns,
            versioned=True,
            kms_key_arn=kms_arn,
            prevent_destroy=store.prevent_destroy,
            cors_allowed_origins=store.cors_allowed_origins,
            lifecycle_rules=[
                abort_multipart,
                lifecycle_rule(
                    "expire-noncurrent-versions",
                    noncurrent_version_expiration=[
                        S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(
                            noncurrent_days=store.noncurrent_version_expiration_days
                        )
                    ],
                ),
            ],
        )
        # Uploads here start batch jobs; the objects are inputs, kept only a while.
        self.trigger_bucket = PrivateBucket(
            self,
            "trigger_bucket",
            bucket=names.trigger_bucket,
            arns=self.arns,
            versioned=False,
            kms_key_arn=kms_arn,
            prevent_destroy=store.prevent_destroy,
            cors_allowed_origins=store.cors_allowed_origins,
            lifecycle_rules=[
                abort_multipart,
                lifecycle_rule(
                    "expire-trigger-objects",
                    expiration=[
                        S3BucketLifecycleConfigurationRuleExpiration(days=store.trigger_object_expiration_days)
                    ],
                ),
            ],
        )
        # algorithm-service's EventBridge rule consumes these events.
        S3BucketNotification(self, "trigger_events", bucket=self.trigger_bucket.bucket.id, eventbridge=True)
        self.repository = ImageRepository(
            # A repository's encryption cannot change in place (AWS replaces it, images and all):
            # it keeps the key while the store keeps it.
            self,
            "repository",
            name=names.ecr_repository,
            ecr=store.ecr,
            kms_key_arn=key_arn,
        )
        adopt = config.adopt
        if adopt.data_bucket:
            import_existing(self.data_bucket.bucket, names.data_bucket)
        if adopt.trigger_bucket:
            import_existing(self.trigger_bucket.bucket, names.trigger_bucket)
        if adopt.ecr_repository:
            import_existing(self.repository.repository, names.ecr_repository)
        TerraformOutput(self, "data_bucket_name", value=self.data_bucket.name)
        TerraformOutput(self, "data_bucket_arn", value=self.data_bucket.arn)
        TerraformOutput(self, "trigger_bucket_name", value=self.trigger_bucket.name)
        TerraformOutput(self, "trigger_bucket_arn", value=self.trigger_bucket.arn)
        TerraformOutput(self, "repository_url", value=self.repository.url)
        TerraformOutput(self, "repository_arn", value=self.repository.arn)
