"""algorithm-service: the Batch job, the S3 trigger, SageMaker and CodeBuild (runbook 2.5).

The job queue is in algorithm-compute-resource; the trigger names it.
"""

from __future__ import annotations

from cdktf import TerraformOutput
from constructs import Construct

from algoinfra.components.iam import ServiceRole
from algoinfra.components.service import (
    AlgorithmJob,
    BatchTrigger,
    ImageBuild,
    bucket_statements,
    pull_statements,
    sagemaker_vpc_statements,
)
from algoinfra.config import ProjectConfig
from stacks.algorithm_compute_resource import AlgorithmComputeResourceStack
from stacks.algorithm_server_infra import AlgorithmServerInfraStack
from stacks.algorithm_store import AlgorithmStoreStack
from stacks.base import BaseStack

STACK_ID = "algorithm-service"


class AlgorithmServiceStack(BaseStack):
    def __init__(
        self,
        scope: Construct,
        *,
        config: ProjectConfig,
        store: AlgorithmStoreStack,
        infra: AlgorithmServerInfraStack,
        compute: AlgorithmComputeResourceStack,
    ) -> None:
        super().__init__(scope, STACK_ID, config=config)
        names, arns = config.names, self.arns
        # ARNs come from names, not from these stacks: only the deploy order remains.
        self.add_dependency(store)
        self.add_dependency(compute)
        # Readers keep decrypting with a retained key: old object versions and the repository use it.
        key_alias = names.store_key_alias if config.store.has_key else None
        self.job = AlgorithmJob(
            self,
            "job",
            names=names,
            arns=arns,
            job=config.job,
            key_alias=key_alias,
        )
        self.trigger = BatchTrigger(self, "batch_trigger", names=names, arns=arns, job=self.job)
        self.sagemaker_role = ServiceRole(
            self,
            "sagemaker_role",
            name=names.role("sagemaker-execution"),
            service="sagemaker.amazonaws.com",
            source_account=config.account_id,
            policies={
                # The inference server may start batch jobs by writing to the trigger bucket.
                "project-buckets": bucket_statements(
                    arns, read_write=[names.data_bucket, names.trigger_bucket], key_alias=key_alias
                ),
                "pull-images": pull_statements(arns.ecr_repository(names.ecr_repository), arns, key_alias),
                # Jobs and endpoints placed in the project's VPC (its workload subnets).
                "vpc-logs-metrics": sagemaker_vpc_statements(
                    arns, vpc_id=infra.network.vpc_id, subnet_ids=infra.network.workload_subnet_ids
                ),
            },
        )
        # CodeBuild refuses a GitHub project while the account has no source credential
        # ("No Access token found"): no image build until the baseline has one.
        self.image_build = (
            ImageBuild(
                self,
                "image_build",
                names=names,
                arns=arns,
                github=config.github,
                image_tag=config.job.image_tag,
                key_alias=key_alias,
                log_retention_days=config.job.log_retention_days,
            )
            if config.account.has_github_credential
            else None
        )
        TerraformOutput(self, "job_definition_arn", value=self.job.definition.arn)
        TerraformOutput(self, "job_role_arn", value=self.job.job_role.arn)
        TerraformOutput(self, "execution_role_arn", value=self.job.execution_role.arn)
        TerraformOutput(self, "sagemaker_execution_role_arn", value=self.sagemaker_role.arn)
        if self.image_build is not None:
            TerraformOutput(self, "codebuild_project_name", value=self.image_build.project.name)
