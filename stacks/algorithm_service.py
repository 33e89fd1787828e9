"""algorithm-service: Batch queue and job, the S3 trigger, SageMaker and CodeBuild (runbook 2.5)."""

from __future__ import annotations

from cdktf import TerraformOutput
from constructs import Construct

from algoinfra.components.iam import ServiceRole
from algoinfra.components.service import AlgorithmJob, BatchTrigger, ImageBuild, bucket_statements, pull_statements
from algoinfra.config import ProjectConfig
from stacks.algorithm_compute_resource import AlgorithmComputeResourceStack
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
        compute: AlgorithmComputeResourceStack,
    ) -> None:
        super().__init__(scope, STACK_ID, config=config)
        names = config.names
        kms_arn = store.kms_key.arn if store.kms_key else None
        bucket_arns = [store.data_bucket.arn, store.trigger_bucket.arn]
        self.job = AlgorithmJob(
            self,
            "job",
            names=names,
            job=config.job,
            region=config.region,
            account_id=config.account_id,
            compute_environment_arns=[env.arn for env in compute.compute.ordered],
            image=f"{store.repository.url}:{config.job.image_tag}",
            bucket_arns=bucket_arns,
            repository_arn=store.repository.arn,
            kms_key_arn=kms_arn,
        )
        self.trigger = BatchTrigger(
            self,
            "batch_trigger",
            names=names,
            account_id=config.account_id,
            bucket_name=store.trigger_bucket.name,
            job=self.job,
        )
        self.sagemaker_role = ServiceRole(
            self,
            "sagemaker_role",
            name=names.role("sagemaker-execution"),
            service="sagemaker.amazonaws.com",
            source_account=config.account_id,
            policies={
                "project-buckets": bucket_statements(bucket_arns, kms_arn),
                "pull-images": pull_statements(store.repository.arn, kms_arn),
            },
        )
        self.image_build = ImageBuild(
            self,
            "image_build",
            names=names,
            github=config.github,
            account_id=config.account_id,
            repository_url=store.repository.url,
            repository_arn=store.repository.arn,
            image_tag=config.job.image_tag,
            kms_key_arn=kms_arn,
            log_retention_days=config.job.log_retention_days,
        )
        TerraformOutput(self, "job_queue_arn", value=self.job.queue.arn)
        TerraformOutput(self, "job_definition_arn", value=self.job.definition.arn)
        TerraformOutput(self, "job_role_arn", value=self.job.job_role.arn)
        TerraformOutput(self, "execution_role_arn", value=self.job.execution_role.arn)
        TerraformOutput(self, "sagemaker_execution_role_arn", value=self.sagemaker_role.arn)
        TerraformOutput(self, "codebuild_project_name", value=self.image_build.project.name)
