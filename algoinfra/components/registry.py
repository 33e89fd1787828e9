"""The ECR repository of the inference container images."""

from __future__ import annotations

import json

from cdktf_cdktf_provider_aws.ecr_lifecycle_policy import EcrLifecyclePolicy
from cdktf_cdktf_provider_aws.ecr_repository import (
    EcrRepository,
    EcrRepositoryEncryptionConfiguration,
    EcrRepositoryImageScanningConfiguration,
    EcrRepositoryImageTagMutabilityExclusionFilter,
)
from constructs import Construct

from algoinfra import config as cfg


def lifecycle_policy(ecr: cfg.Ecr) -> str:
    """Expire untagged images after N days; keep the newest N tagged images."""
    rules = [
        {
            "rulePriority": 1,
            "description": f"Expire untagged images after {ecr.untagged_image_expiration_days} days",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": ecr.untagged_image_expiration_days,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "description": f"Keep the newest {ecr.tagged_images_to_keep} tagged images",
            "selection": {
                "tagStatus": "tagged",
                "tagPatternList": ["*"],
                "countType": "imageCountMoreThan",
                "countNumber": ecr.tagged_images_to_keep,
            },
            "action": {"type": "expire"},
        },
    ]
    return json.dumps({"rules": rules}, indent=2, sort_keys=True)


class ImageRepository(Construct):
    """An ECR repository: scanned on push, encrypted, immutable tags unless excluded, never force-deleted.

    Args:
        name: the repository name (from ``Names``).
        ecr: the repository settings.
        kms_key_arn: encrypt with this key; AES256 when ``None``.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, name: str, ecr: cfg.Ecr, kms_key_arn: str | None
    ) -> None:
        super().__init__(scope, construct_id)
        mutability = ecr.image_tag_mutability
        if mutability == "IMMUTABLE" and ecr.mutable_tags:
            mutability = "IMMUTABLE_WITH_EXCLUSION"
        self.repository = EcrRepository(
            self,
            "repository",
            name=name,
            force_delete=False,
            image_tag_mutability=mutability,
            image_tag_mutability_exclusion_filter=[
                EcrRepositoryImageTagMutabilityExclusionFilter(filter=tag, filter_type="WILDCARD")
                for tag in ecr.mutable_tags
            ]
            or None,
            image_scanning_configuration=EcrRepositoryImageScanningConfiguration(scan_on_push=True),
            encryption_configuration=[
                EcrRepositoryEncryptionConfiguration(encryption_type="KMS", kms_key=kms_key_arn)
                if kms_key_arn
                else EcrRepositoryEncryptionConfiguration(encryption_type="AES256")
            ],
        )
        EcrLifecyclePolicy(self, "lifecycle_policy", repository=self.repository.name, policy=lifecycle_policy(ecr))

    @property
    def arn(self) -> str:
        return self.repository.arn

    @property
    def url(self) -> str:
        return self.repository.repository_url
