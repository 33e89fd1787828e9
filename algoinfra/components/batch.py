"""AWS Batch compute: the ECS instance role, the managed compute environments and
the job queue that orders them.

The queue and its environments live in one stack, so one apply replaces an
environment as create new -> point the queue at it -> delete old. Across two
stacks the old environment would be deleted first, and AWS refuses that
("found existing JobQueue relationship").
"""

from __future__ import annotations

from collections.abc import Sequence

from cdktf import TerraformResourceLifecycle, Token
from cdktf_cdktf_provider_aws.batch_compute_environment import (
    BatchComputeEnvironment,
    BatchComputeEnvironmentComputeResources,
    BatchComputeEnvironmentComputeResourcesEc2Configuration,
    BatchComputeEnvironmentComputeResourcesLaunchTemplate,
)
from cdktf_cdktf_provider_aws.batch_job_queue import BatchJobQueue, BatchJobQueueComputeEnvironmentOrder
from cdktf_cdktf_provider_aws.iam_instance_profile import IamInstanceProfile
from cdktf_cdktf_provider_aws.launch_template import (
    LaunchTemplate,
    LaunchTemplateBlockDeviceMappings,
    LaunchTemplateBlockDeviceMappingsEbs,
    LaunchTemplateMetadataOptions,
)
from constructs import Construct

from algoinfra import config as cfg
from algoinfra.components.iam import ServiceRole
from algoinfra.components.text import literal
from algoinfra.naming import Arns, Names

# The AWS managed policy for ECS container instances (register with ECS, pull from ECR, logs).
ECS_INSTANCE_POLICY = "service-role/AmazonEC2ContainerServiceforEC2Role"

ALLOCATION_STRATEGY = {"SPOT": "SPOT_PRICE_CAPACITY_OPTIMIZED", "EC2": "BEST_FIT_PROGRESSIVE"}

# The root device of the Amazon Linux 2023 ECS AMIs (ECS_AL2023 and ECS_AL2023_NVIDIA).
ROOT_DEVICE = "/dev/xvda"


class BatchCompute(Construct):
    """Managed compute environments and the job queue that orders them (spot first, on-demand behind it).

    Args:
        names: the project's names.
        arns: ARNs of the account and region.
        compute: the compute config.
        subnet_ids: the workload subnets.
        security_group_ids: the instances' security groups.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: Names,
        arns: Arns,
        compute: cfg.Compute,
        subnet_ids: Sequence[str],
        security_group_ids: Sequence[str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.instance_role = ServiceRole(
            self,
            "instance_role",
            name=names.role("batch-instance"),
            service="ec2.amazonaws.com",
            managed_policy_arns={"ecs_instance": arns.aws_managed_policy(ECS_INSTANCE_POLICY)},
        )
        self.instance_profile = IamInstanceProfile(
            self, "instance_profile", name=names.role("batch-instance"), role=self.instance_role.role.name
        )
        # Instance metadata only with IMDSv2 tokens and one hop: the host's agent (host network)
        # reaches it, containers (one hop further) do not, so a job cannot take the instance
        # role's credentials; jobs get theirs from their job role.
        self.launch_template = LaunchTemplate(
            self,
            "launch_template",
            name=names.launch_template,
            description=literal(f"Batch hosts of {names.base}: IMDSv2 only, encrypted root volume"),
            metadata_options=LaunchTemplateMetadataOptions(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1
            ),
            block_device_mappings=[
                LaunchTemplateBlockDeviceMappings(
                    device_name=ROOT_DEVICE,
                    ebs=LaunchTemplateBlockDeviceMappingsEbs(
                        volume_size=compute.root_volume_size_gib,
                        volume_type="gp3",
                        encrypted="true",
                        delete_on_termination="true",
                    ),
                )
            ],
        )
        # A pinned version, not "$Latest": Batch resolves "$Latest" once, when the environment
        # is created, and Terraform would see no change when the template gets a new version.
        # The version number changes with the template, so the environment is updated with it.
        launch_template = BatchComputeEnvironmentComputeResourcesLaunchTemplate(
            launch_template_id=self.launch_template.id,
            version=Token.as_string(self.launch_template.latest_version),
        )
        self.environments: dict[str, BatchComputeEnvironment] = {}
        for kind in compute.kinds:
            self.environments[kind] = BatchComputeEnvironment(
                self,
                kind.lower(),
                # A prefix, created before destroyed: a queue's environment cannot be deleted first.
                name_prefix=names.compute_environment_prefix(kind),
                type="MANAGED",
                compute_resources=BatchComputeEnvironmentComputeResources(
                    type=kind,
                    allocation_strategy=ALLOCATION_STRATEGY[kind],
                    min_vcpus=0,  # idle costs nothing
                    max_vcpus=compute.max_vcpus,
                    instance_type=list(compute.instance_types),
                    subnets=list(subnet_ids),
                    security_group_ids=list(security_group_ids),
                    instance_role=self.instance_profile.arn,
                    # The ECS AMI Batch picks for the image type; the template sets no AMI.
                    ec2_configuration=[
                        BatchComputeEnvironmentComputeResourcesEc2Configuration(image_type=compute.image_type)
                    ],
                    launch_template=launch_template,
                    tags={"Name": f"{names.base}-batch-{kind.lower()}"},
                ),
                lifecycle=TerraformResourceLifecycle(
                    create_before_destroy=True,
                    # Batch moves desired_vcpus by itself.
                    ignore_changes=["compute_resources[0].desired_vcpus"],
                ),
                # Instances without their role's policies cannot join the cluster.
                depends_on=list(self.instance_role.attachments),
            )

        self.queue = BatchJobQueue(
            self,
            "queue",
            name=names.job_queue,
            state="ENABLED",
            priority=1,
            compute_environment_order=[
                BatchJobQueueComputeEnvironmentOrder(compute_environment=env.arn, order=i)
                for i, env in enumerate(self.environments.values(), start=1)
            ],
        )
