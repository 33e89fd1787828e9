"""The VPC and what hangs on it: subnets per tier and AZ, routes, the transit
gateway attachment, VPC endpoints, flow logs and egress-only security groups.

Every collection is keyed by tier, AZ or name, never by list position, so
adding an AZ, a tier or an endpoint never replaces what exists.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdktf import TerraformProvider
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.default_security_group import DefaultSecurityGroup
from cdktf_cdktf_provider_aws.ec2_transit_gateway_vpc_attachment import Ec2TransitGatewayVpcAttachment
from cdktf_cdktf_provider_aws.ec2_transit_gateway_vpc_attachment_accepter import (
    Ec2TransitGatewayVpcAttachmentAccepter,
)
from cdktf_cdktf_provider_aws.flow_log import FlowLog
from cdktf_cdktf_provider_aws.route import Route
from cdktf_cdktf_provider_aws.route_table import RouteTable
from cdktf_cdktf_provider_aws.route_table_association import RouteTableAssociation
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.subnet import Subnet
from cdktf_cdktf_provider_aws.vpc import Vpc
from cdktf_cdktf_provider_aws.vpc_endpoint import VpcEndpoint
from cdktf_cdktf_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

from algoinfra import config as cfg
from algoinfra.components.iam import ServiceRole, Statement
from algoinfra.components.text import ec2_description, literal
from algoinfra.naming import Arns, Names

HTTPS = 443
ANYWHERE = "0.0.0.0/0"


def key(text: str) -> str:
    """A logical-id fragment from an AZ, a CIDR or a service name."""
    return "".join(c if c.isalnum() else "_" for c in text)


def _on_off(value: bool | None) -> str | None:
    return None if value is None else ("enable" if value else "disable")


class Network(Construct):
    """VPC, subnets, route tables and the transit gateway attachment (and its acceptance).

    Args:
        names: the project's names.
        network: the network config.
        platform: the platform of this env (transit gateway, routed CIDRs).
        accepter: the gateway owner's provider, when the owner does not auto-accept
            shared attachments: the attachment is accepted through it.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: Names,
        network: cfg.Network,
        platform: cfg.PlatformEnv,
        accepter: TerraformProvider | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.cidr = network.vpc_cidr
        # DNS support and hostnames: interface endpoints with private DNS and the
        # platform's private hosted zone need both.
        self.vpc = Vpc(
            self,
            "vpc",
            cidr_block=network.vpc_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={"Name": names.base},
        )
        vpc_id = self.vpc_id = self.vpc.id  # read once: every attribute read is a round trip to jsii
        # Taking over the default security group with no rules empties it.
        DefaultSecurityGroup(self, "default_security_group", vpc_id=vpc_id, tags={"Name": f"{names.base}-default"})

        self.subnets: dict[str, dict[str, Subnet]] = {}
        self.route_tables: dict[str, dict[str, RouteTable]] = {}
        subnet_ids: dict[str, dict[str, str]] = {}
        route_table_ids: dict[str, dict[str, str]] = {}
        for tier, by_az in network.subnets.items():
            self.subnets[tier] = {}
            self.route_tables[tier] = {}
            for az, cidr in by_az.items():
                suffix = f"{tier}_{key(az)}"
                subnet = Subnet(
                    self,
                    f"subnet_{suffix}",
                    vpc_id=vpc_id,
                    cidr_block=cidr,
                    availability_zone=az,
                    map_public_ip_on_launch=False,
                    tags={"Name": f"{names.base}-{tier}-{az}", "Tier": tier},
                )
                table = RouteTable(
                    self, f"route_table_{suffix}", vpc_id=vpc_id, tags={"Name": f"{names.base}-{tier}-{az}"}
                )
                subnet_id, table_id = subnet.id, table.id
                RouteTableAssociation(
                    self, f"route_table_association_{suffix}", subnet_id=subnet_id, route_table_id=table_id
                )
                self.subnets[tier][az] = subnet
                self.route_tables[tier][az] = table
                subnet_ids.setdefault(tier, {})[az] = subnet_id
                route_table_ids.setdefault(tier, {})[az] = table_id
        # Token strings, each read from jsii once.
        self.subnet_ids = subnet_ids
        self.route_table_ids = route_table_ids

        tgw = network.transit_gateway
        # The gateway's route table options belong to whoever accepts the attachment:
        # the accepter below when there is one, the attachment otherwise.
        route_table_options = {
            "transit_gateway_default_route_table_association": tgw.default_route_table_association,
            "transit_gateway_default_route_table_propagation": tgw.default_route_table_propagation,
        }
        self.attachment = Ec2TransitGatewayVpcAttachment(
            self,
            "transit_gateway_attachment",
            vpc_id=vpc_id,
            transit_gateway_id=platform.transit_gateway_id,
            subnet_ids=list(self.subnet_ids["attachment"].values()),
            dns_support="enable",
            appliance_mode_support=_on_off(tgw.appliance_mode_support),
            # On a shared gateway the owner decides these; unset unless configured.
            **({} if accepter else route_table_options),
            tags={"Name": names.base},
        )
        self.accepter: Ec2TransitGatewayVpcAttachmentAccepter | None = None
        if accepter is not None:
            # The owner does not auto-accept: the attachment waits in pendingAcceptance
            # until the owner's account accepts it, and routes to it fail until then.
            self.accepter = Ec2TransitGatewayVpcAttachmentAccepter(
                self,
                "transit_gateway_attachment_accepter",
                provider=accepter,
                transit_gateway_attachment_id=self.attachment.id,
                **route_table_options,
                tags={"Name": names.base},
            )
        ready = [self.attachment] if self.accepter is None else [self.attachment, self.accepter]
        # Attaching a VPC adds no VPC-side routes: one route per table and destination.
        destinations = list(platform.routed_cidrs) + ([ANYWHERE] if platform.egress else [])
        for az, table_id in self.route_table_ids["workload"].items():
            for destination in destinations:
                Route(
                    self,
                    f"route_workload_{key(az)}_{key(destination)}",
                    route_table_id=table_id,
                    destination_cidr_block=destination,
                    transit_gateway_id=platform.transit_gateway_id,
                    depends_on=ready,
                )

    @property
    def workload_subnet_ids(self) -> list[str]:
        return list(self.subnet_ids["workload"].values())

    @property
    def workload_route_table_ids(self) -> list[str]:
        return list(self.route_table_ids["workload"].values())


class Endpoints(Construct):
    """The S3 gateway endpoint and the interface endpoints, each keyed by service name.

    Args:
        names: the project's names.
        network: the VPC it belongs to.
        region: the region of the service names.
        services: interface endpoint services (``ecr.api``...).
        subnet_ids: the subnets, one per AZ, that carry the interface endpoints.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: Names,
        network: Network,
        region: str,
        services: Sequence[str],
        subnet_ids: Sequence[str],
    ) -> None:
        super().__init__(scope, construct_id)
        # ECR image layers come from S3: without this, Batch instances cannot pull.
        self.s3 = VpcEndpoint(
            self,
            "s3",
            vpc_id=network.vpc_id,
            service_name=f"com.amazonaws.{region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=network.workload_route_table_ids,
            tags={"Name": f"{names.base}-s3"},
        )
        group_name = names.security_group("endpoints")
        self.security_group = SecurityGroup(
            self,
            "security_group",
            name=group_name,
            description=ec2_description("Interface endpoints: HTTPS from the VPC only"),
            vpc_id=network.vpc_id,
            tags={"Name": group_name},
        )
        security_group_id = self.security_group.id
        VpcSecurityGroupIngressRule(
            self,
            "https_from_vpc",
            security_group_id=security_group_id,
            description=ec2_description("HTTPS from the VPC"),
            ip_protocol="tcp",
            from_port=HTTPS,
            to_port=HTTPS,
            cidr_ipv4=network.cidr,
        )
        self.interface: dict[str, VpcEndpoint] = {}
        for service in services:
            self.interface[service] = VpcEndpoint(
                self,
                key(service),
                vpc_id=network.vpc_id,
                service_name=f"com.amazonaws.{region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=list(subnet_ids),
                security_group_ids=[security_group_id],
                tags={"Name": f"{names.base}-{service}"},
            )


class FlowLogs(Construct):
    """VPC flow logs to CloudWatch Logs (with retention) or to an S3 bucket."""

    def __init__(
        self, scope: Construct, construct_id: str, *, names: Names, arns: Arns, vpc_id: str, settings: cfg.FlowLogs
    ) -> None:
        super().__init__(scope, construct_id)
        if settings.destination == "s3":
            if not settings.s3_bucket_arn:  # the config refuses this; never a silent fallback
                raise ValueError("flow logs to s3 need s3_bucket_arn")
            FlowLog(
                self,
                "flow_log",
                vpc_id=vpc_id,
                traffic_type=settings.traffic_type,
                log_destination_type="s3",
                # The ARN may carry a key prefix, which is the user's text.
                log_destination=literal(settings.s3_bucket_arn),
            )
            return
        group = CloudwatchLogGroup(
            self, "log_group", name=names.flow_log_group, retention_in_days=settings.retention_days
        )
        role = ServiceRole(
            self,
            "role",
            name=names.role("flow-logs"),
            service="vpc-flow-logs.amazonaws.com",
            source_account=arns.account_id,
            policies={
                "write-flow-logs": [
                    Statement(
                        sid="WriteFlowLogs",
                        actions=("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"),
                        resources=(arns.log_group(names.flow_log_group), f"{arns.log_group(names.flow_log_group)}:*"),
                    )
                ]
            },
        )
        FlowLog(
            self,
            "flow_log",
            vpc_id=vpc_id,
            traffic_type=settings.traffic_type,
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
        )


class EgressOnlySecurityGroup(Construct):
    """A security group with no ingress and egress only where workloads need it:
    HTTPS to the VPC (interface endpoints) and to S3 (gateway endpoint prefix
    list), anything to the platform's CIDRs, HTTPS anywhere only when the
    platform provides egress.

    Args:
        name: the group name.
        vpc_id: the VPC.
        vpc_cidr: the VPC CIDR (interface endpoints live there).
        s3_prefix_list_id: the S3 gateway endpoint's prefix list.
        platform: the platform of this env.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        description: str,
        vpc_id: str,
        vpc_cidr: str,
        s3_prefix_list_id: str,
        platform: cfg.PlatformEnv,
    ) -> None:
        super().__init__(scope, construct_id)
        self.security_group = SecurityGroup(
            self,
            "security_group",
            name=name,
            description=ec2_description(description),
            vpc_id=vpc_id,
            tags={"Name": name},
        )
        # (rule id, description, protocol, CIDR, prefix list); protocol "-1" is all traffic.
        rules: list[tuple[str, str, str, str | None, str | None]] = [
            ("https_to_vpc_endpoints", "HTTPS to the interface endpoints", "tcp", vpc_cidr, None),
            ("https_to_s3", "HTTPS to S3 (gateway endpoint)", "tcp", None, s3_prefix_list_id),
        ]
        rules += [(f"all_to_platform_{key(c)}", "To the platform", "-1", c, None) for c in platform.routed_cidrs]
        if platform.egress:
            rules.append(("https_to_internet", "HTTPS through the platform egress", "tcp", ANYWHERE, None))
        self.id = self.security_group.id
        for rule_id, description, protocol, cidr, prefix_list in rules:
            https = protocol == "tcp"
            VpcSecurityGroupEgressRule(
                self,
                rule_id,
                security_group_id=self.id,
                description=ec2_description(description),
                ip_protocol=protocol,
                from_port=HTTPS if https else None,
                to_port=HTTPS if https else None,
                cidr_ipv4=cidr,
                prefix_list_id=prefix_list,
            )
