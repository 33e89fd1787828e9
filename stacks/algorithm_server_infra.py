"""algorithm-server-infra: the project's network (runbook 2.5 and 3.1)."""

from __future__ import annotations

from cdktf import TerraformOutput
from cdktf_cdktf_provider_aws.ssm_parameter import SsmParameter
from constructs import Construct

from algoinfra.components.network import EgressOnlySecurityGroup, Endpoints, FlowLogs, Network
from algoinfra.config import ProjectConfig
from stacks.base import BaseStack

STACK_ID = "algorithm-server-infra"


class AlgorithmServerInfraStack(BaseStack):
    """VPC, subnets, routes, transit gateway attachment, endpoints, flow logs, the vpc-id parameter.

    When the platform does not auto-accept shared attachments, an aliased provider
    in the platform account (the same access as algorithm-dns) accepts ours.

    Public attributes for later stacks: ``network`` (VPC, subnets, route
    tables), ``endpoints`` (S3 prefix list), ``workload_security_group``.
    """

    def __init__(self, scope: Construct, *, config: ProjectConfig) -> None:
        super().__init__(scope, STACK_ID, config=config)
        names, net = config.names, config.network
        self.platform_provider = (
            None if config.platform.transit_gateway_auto_accept else self.add_platform_provider(purpose="tgw")
        )
        self.network = Network(
            self, "network", names=names, network=net, platform=config.platform, accepter=self.platform_provider
        )
        self.endpoints = Endpoints(
            self,
            "endpoints",
            names=names,
            network=self.network,
            region=config.region,
            services=net.interface_endpoints,
            subnet_ids=[self.network.subnet_ids["workload"][az] for az in net.endpoint_availability_zones],
        )
        FlowLogs(
            self,
            "flow_logs",
            names=names,
            arns=self.arns,
            vpc_id=self.network.vpc_id,
            settings=net.flow_logs,
        )
        # For SageMaker and other workloads placed in the VPC by hand.
        self.workload_security_group = EgressOnlySecurityGroup(
            self,
            "workload_security_group",
            name=names.security_group("workload"),
            description="Workloads: egress to endpoints and the platform only",
            vpc_id=self.network.vpc_id,
            vpc_cidr=net.vpc_cidr,
            s3_prefix_list_id=self.endpoints.s3.prefix_list_id,
            platform=config.platform,
        )
        # Runbook 3.1 reads the VPC id from here; other tools still may.
        self.vpc_id_parameter = SsmParameter(
            self,
            "vpc_id_parameter",
            name=names.vpc_id_parameter,
            type="String",
            value=self.network.vpc_id,
            description=f"VPC id of {names.base}",
        )
        TerraformOutput(self, "vpc_id", value=self.network.vpc_id)
        TerraformOutput(self, "workload_subnet_ids", value=self.network.workload_subnet_ids)
        TerraformOutput(self, "vpc_id_parameter_name", value=self.vpc_id_parameter.name)
