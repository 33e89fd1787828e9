"""algorithm-dns: the VPC joins the platform's private hosted zone (runbook 3.2).

A second, aliased AWS provider reaches the platform account (by assuming its
role, or with a profile) and is pinned to that account.
"""

from __future__ import annotations

from cdktf import TerraformOutput
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderAssumeRole, AwsProviderDefaultTags
from constructs import Construct

from algoinfra.components.dns import ZoneAssociation
from algoinfra.components.text import literal
from algoinfra.config import ProjectConfig
from stacks.algorithm_server_infra import AlgorithmServerInfraStack
from stacks.base import BaseStack

STACK_ID = "algorithm-dns"
PLATFORM_ALIAS = "platform"


class AlgorithmDnsStack(BaseStack):
    def __init__(self, scope: Construct, *, config: ProjectConfig, infra: AlgorithmServerInfraStack) -> None:
        super().__init__(scope, STACK_ID, config=config)
        platform = config.platform
        self.platform_provider: AwsProvider | None = None
        if platform.account_id != config.account_id:
            self.platform_provider = AwsProvider(
                self,
                "aws_platform",
                alias=PLATFORM_ALIAS,
                region=config.region,
                # Never acts on the project account, whatever the profile says.
                allowed_account_ids=[platform.account_id],
                profile=literal(platform.profile) if platform.profile else None,
                assume_role=[AwsProviderAssumeRole(role_arn=platform.role_arn, session_name=f"{config.key}-dns")]
                if platform.role_arn
                else None,
                default_tags=[AwsProviderDefaultTags(tags=self.default_tags)],
            )
        self.zone = ZoneAssociation(
            self,
            "private_zone",
            zone_id=platform.private_hosted_zone_id,
            vpc_id=infra.network.vpc_id,
            vpc_region=config.region,
            zone_owner=self.platform_provider,
        )
        TerraformOutput(self, "private_hosted_zone_id", value=self.zone.association.zone_id)
