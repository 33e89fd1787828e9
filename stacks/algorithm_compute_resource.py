"""algorithm-compute-resource: AWS Batch compute environments and the job queue (runbook 2.5).

The queue is here, with the environments it orders: a replaced environment and
the queue's update must land in one apply (see ``algoinfra.components.batch``).
"""

from __future__ import annotations

from cdktf import TerraformOutput
from constructs import Construct

from algoinfra.components.batch import BatchCompute
from algoinfra.components.network import EgressOnlySecurityGroup
from algoinfra.config import ProjectConfig
from stacks.algorithm_server_infra import AlgorithmServerInfraStack
from stacks.base import BaseStack

STACK_ID = "algorithm-compute-resource"


class AlgorithmComputeResourceStack(BaseStack):
    def __init__(self, scope: Construct, *, config: ProjectConfig, infra: AlgorithmServerInfraStack) -> None:
        super().__init__(scope, STACK_ID, config=config)
        names = config.names
        self.security_group = EgressOnlySecurityGroup(
            self,
            "batch_security_group",
            name=names.security_group("batch"),
            description="Batch instances: egress to endpoints and the platform only",
            vpc_id=infra.network.vpc_id,
            vpc_cidr=config.network.vpc_cidr,
            s3_prefix_list_id=infra.endpoints.s3.prefix_list_id,
            platform=config.platform,
        )
        self.compute = BatchCompute(
            self,
            "batch",
            names=names,
            arns=self.arns,
            compute=config.compute,
            subnet_ids=infra.network.workload_subnet_ids,
            security_group_ids=[self.security_group.id],
        )
        for kind, environment in self.compute.environments.items():
            TerraformOutput(self, f"compute_environment_{kind.lower()}_arn", value=environment.arn)
        TerraformOutput(self, "job_queue_arn", value=self.compute.queue.arn)
