"""algorithm-dns: the VPC joins the platform's private hosted zone (runbook 3.2).

A second, aliased AWS provider reaches the platform account (by assuming its
role, or with a profile) and is pinned to that account (``BaseStack.add_platform_provider``).
"""

from __future__ import annotations

from cdktf import TerraformOutput
from constructs import Construct

from algoinfra.components.dns import ZoneAssociation
from algoinfra.config import ProjectConfig
from stacks.algorithm_server_infra import AlgorithmServerInfraStack
from stacks.base import BaseStack

STACK_ID = "algorithm-dns"


class AlgorithmDnsStack(BaseStack):
    def __init__(self, scope: Construct, *, config: ProjectConfig, infra: AlgorithmServerInfraStack) -> None:
        super().__init__(scope, STACK_ID, config=config)
        self.platform_provider = self.add_platform_provider(purpose="dns")
        self.zone = ZoneAssociation(
            self,
            "private_zone",
            zone_id=config.platform.private_hosted_zone_id,
            vpc_id=infra.network.vpc_id,
            vpc_region=config.region,
            zone_owner=self.platform_provider,
        )
        TerraformOutput(self, "private_hosted_zone_id", value=self.zone.association.zone_id)
