"""The algorithm service: job queue and definition, the S3 -> EventBridge -> Batch
trigger, the SageMaker role and the CodeBuild image build. Every IAM policy
names its actions and is scoped to this project's resources."""

from __future__ import annotations

import json
from collections.abc import Sequence

from cdktf_cdktf_provider_aws.batch_job_definition import (
    BatchJobDefinition,
    BatchJobDefinitionRetryStrategy,
    BatchJobDefinitionRetryStrategyEvaluateOnExit,
    BatchJobDefinitionTimeout,
)
from cdktf_cdktf_provider_aws.batch_job_queue import BatchJobQueue, BatchJobQueueComputeEnvironmentOrder
from cdktf_cdktf_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktf_cdktf_provider_aws.cloudwatch_event_target import (
    CloudwatchEventTarget,
    CloudwatchEventTargetBatchTarget,
    CloudwatchEventTargetInputTransformer,
)
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.codebuild_project import (
    CodebuildProject,
    CodebuildProjectArtifacts,
    CodebuildProjectEnvironment,
    CodebuildProjectEnvironmentEnvironmentVariable,
    CodebuildProjectLogsConfig,
    CodebuildProjectLogsConfigCloudwatchLogs,
    CodebuildProjectSource,
)
from constructs import Construct

from algoinfra import config as cfg
from algoinfra.components.iam import ServiceRole, Statement
from algoinfra.naming import Names

# Not resource-scopable in IAM: the token is for the registry, not a repository.
ECR_AUTH = Statement(sid="EcrLogin", actions=("ecr:GetAuthorizationToken",), resources=("*",))
ECR_PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
ECR_PUSH_ACTIONS = ("ecr:CompleteLayerUpload", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart")
S3_OBJECT_ACTIONS = ("s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject")
S3_BUCKET_ACTIONS = ("s3:GetBucketLocation", "s3:ListBucket")
KMS_DATA_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
LOG_WRITE_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")

# Retry only what the infrastructure did to the job (a reclaimed spot instance,
# a host that went away); an error of the algorithm itself fails at once.
RETRY_ON_STATUS_REASONS = ("Host EC2*",)

CODEBUILD_IMAGE = "aws/codebuild/amazonlinux-x86_64-standard:5.0"
DEFAULT_BUILDSPEC = """\
version: 0.2
phases:
  pre_build:
    commands:
      - REGISTRY="$${REPOSITORY_URI%%/*}"
      - aws ecr get-login-password --region "$AWS_REGION" | docker login -u AWS --password-stdin "$REGISTRY"
  build:
    commands:
      - docker build -t "$REPOSITORY_URI:$CODEBUILD_RESOLVED_SOURCE_VERSION" .
      - docker tag "$REPOSITORY_URI:$CODEBUILD_RESOLVED_SOURCE_VERSION" "$REPOSITORY_URI:$IMAGE_TAG"
  post_build:
    commands:
      - docker push "$REPOSITORY_URI:$CODEBUILD_RESOLVED_SOURCE_VERSION"
      - docker push "$REPOSITORY_URI:$IMAGE_TAG"
"""


def bucket_statements(bucket_arns: Sequence[str], kms_key_arn: str | None) -> list[Statement]:
    """Read and write objects of these buckets (and use their key)."""
    out = [
        Statement(sid="ListBuckets", actions=S3_BUCKET_ACTIONS, resources=tuple(bucket_arns)),
        Statement(sid="ReadWriteObjects", actions=S3_OBJECT_ACTIONS, resources=tuple(f"{a}/*" for a in bucket_arns)),
    ]
    if kms_key_arn:
        out.append(Statement(sid="UseStoreKey", actions=KMS_DATA_ACTIONS, resources=(kms_key_arn,)))
    return out


def pull_statements(repository_arn: str, kms_key_arn: str | None) -> list[Statement]:
    out = [ECR_AUTH, Statement(sid="PullImages", actions=ECR_PULL_ACTIONS, resources=(repository_arn,))]
    if kms_key_arn:
        out.append(Statement(sid="DecryptImages", actions=("kms:Decrypt",), resources=(kms_key_arn,)))
    return out


def log_statements(log_group_arn: str) -> list[Statement]:
    return [Statement(sid="WriteLogs", actions=LOG_WRITE_ACTIONS, resources=(log_group_arn, f"{log_group_arn}:*"))]


class AlgorithmJob(Construct):
    """The job queue and the job definition of the inference container, with its roles and log group.

    Args:
        names: the project's names.
        job: the job config.
        region: for the awslogs driver.
        account_id: trusted source account of the roles.
        compute_environment_arns: in queue order.
        image: the container image (repository URL and tag).
        bucket_arns: the buckets the job reads and writes.
        repository_arn: the repository the execution role pulls from.
        kms_key_arn: the store's key, if any.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: Names,
        job: cfg.Job,
        region: str,
        account_id: str,
        compute_environment_arns: Sequence[str],
        image: str,
        bucket_arns: Sequence[str],
        repository_arn: str,
        kms_key_arn: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = CloudwatchLogGroup(
            self, "log_group", name=names.job_log_group, retention_in_days=job.log_retention_days
        )
        self.job_role = ServiceRole(
            self,
            "job_role",
            name=names.role("batch-job"),
            service="ecs-tasks.amazonaws.com",
            source_account=account_id,
            policies={"project-buckets": bucket_statements(bucket_arns, kms_key_arn)},
        )
        self.execution_role = ServiceRole(
            self,
            "execution_role",
            name=names.role("batch-execution"),
            service="ecs-tasks.amazonaws.com",
            source_account=account_id,
            policies={
                "pull-and-log": pull_statements(repository_arn, kms_key_arn) + log_statements(self.log_group.arn)
            },
        )
        resources = [{"type": "VCPU", "value": _number(job.vcpus)}, {"type": "MEMORY", "value": str(job.memory_mib)}]
        if job.gpus:
            resources.append({"type": "GPU", "value": str(job.gpus)})
        container = {
            "image": image,
            "command": list(job.command),
            "jobRoleArn": self.job_role.arn,
            "executionRoleArn": self.execution_role.arn,
            "resourceRequirements": resources,
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": self.log_group.name,
                    "awslogs-region": region,
                    "awslogs-stream-prefix": "algorithm",
                },
            },
        }
        self.definition = BatchJobDefinition(
            self,
            "definition",
            name=names.job_definition,
            type="container",
            platform_capabilities=["EC2"],
            propagate_tags=True,
            container_properties=json.dumps(container, sort_keys=True),
            parameters={"bucket": "", "key": ""},
            timeout=BatchJobDefinitionTimeout(attempt_duration_seconds=job.timeout_seconds),
            retry_strategy=BatchJobDefinitionRetryStrategy(
                attempts=job.retry_attempts,
                evaluate_on_exit=[
                    *(
                        BatchJobDefinitionRetryStrategyEvaluateOnExit(action="RETRY", on_status_reason=reason)
                        for reason in RETRY_ON_STATUS_REASONS
                    ),
                    BatchJobDefinitionRetryStrategyEvaluateOnExit(action="EXIT", on_reason="*"),
                ],
            ),
        )
        self.queue = BatchJobQueue(
            self,
            "queue",
            name=names.job_queue,
            state="ENABLED",
            priority=1,
            compute_environment_order=[
                BatchJobQueueComputeEnvironmentOrder(compute_environment=arn, order=i)
                for i, arn in enumerate(compute_environment_arns, start=1)
            ],
        )


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


class BatchTrigger(Construct):
    """An object created in the trigger bucket submits a job; bucket and key become job parameters.

    Args:
        names: the project's names.
        account_id: trusted source account of the events role.
        bucket_name: the trigger bucket (it sends its events to EventBridge).
        job: the queue and definition to submit to.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, names: Names, account_id: str, bucket_name: str, job: AlgorithmJob
    ) -> None:
        super().__init__(scope, construct_id)
        self.rule = CloudwatchEventRule(
            self,
            "rule",
            name=names.trigger_rule,
            description=f"Objects created in {names.trigger_bucket} start a batch job",
            event_pattern=json.dumps(
                {
                    "source": ["aws.s3"],
                    "detail-type": ["Object Created"],
                    "detail": {"bucket": {"name": [bucket_name]}},
                },
                sort_keys=True,
            ),
        )
        self.role = ServiceRole(
            self,
            "role",
            name=names.role("events-submit-job"),
            service="events.amazonaws.com",
            source_account=account_id,
            policies={
                "submit-job": [
                    Statement(
                        sid="SubmitToThisQueueOnly",
                        actions=("batch:SubmitJob",),
                        resources=(job.queue.arn, f"{job.definition.arn_prefix}:*"),
                    )
                ]
            },
        )
        self.target = CloudwatchEventTarget(
            self,
            "target",
            rule=self.rule.name,
            target_id="submit-batch-job",
            arn=job.queue.arn,
            role_arn=self.role.arn,
            batch_target=CloudwatchEventTargetBatchTarget(
                job_definition=job.definition.arn, job_name=names.job_definition
            ),
            input_transformer=CloudwatchEventTargetInputTransformer(
                input_paths={"bucket": "$.detail.bucket.name", "key": "$.detail.object.key"},
                input_template='{"Parameters": {"bucket": <bucket>, "key": <key>}}',
            ),
        )


class ImageBuild(Construct):
    """CodeBuild: build the algorithm image from the project's GitHub repository and push it to ECR.

    Args:
        names: the project's names.
        github: repository, branch and buildspec.
        account_id: trusted source account of the role.
        repository_url: the ECR repository URL.
        repository_arn: the ECR repository the role may push to.
        image_tag: the moving tag the job runs.
        kms_key_arn: the store's key, if any.
        log_retention_days: of the build log group.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: Names,
        github: cfg.GitHub,
        account_id: str,
        repository_url: str,
        repository_arn: str,
        image_tag: str,
        kms_key_arn: str | None,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = CloudwatchLogGroup(
            self, "log_group", name=names.codebuild_log_group, retention_in_days=log_retention_days
        )
        push = [Statement(sid="PushImages", actions=ECR_PULL_ACTIONS + ECR_PUSH_ACTIONS, resources=(repository_arn,))]
        if kms_key_arn:
            push.append(Statement(sid="EncryptImages", actions=KMS_DATA_ACTIONS, resources=(kms_key_arn,)))
        self.role = ServiceRole(
            self,
            "role",
            name=names.role("codebuild"),
            service="codebuild.amazonaws.com",
            source_account=account_id,
            policies={"build-and-push": [ECR_AUTH, *push, *log_statements(self.log_group.arn)]},
        )
        self.project = CodebuildProject(
            self,
            "project",
            name=names.codebuild_project,
            description=f"Builds the algorithm image of {names.base} from {github.repository}",
            service_role=self.role.arn,
            # The account's GitHub source credential (account-baseline) authenticates the clone.
            source=CodebuildProjectSource(
                type="GITHUB",
                location=f"https://github.com/{github.repository}.git",
                git_clone_depth=1,
                buildspec=github.buildspec or DEFAULT_BUILDSPEC,
            ),
            source_version=github.branch,
            artifacts=CodebuildProjectArtifacts(type="NO_ARTIFACTS"),
            environment=CodebuildProjectEnvironment(
                type="LINUX_CONTAINER",
                compute_type="BUILD_GENERAL1_SMALL",
                image=CODEBUILD_IMAGE,
                privileged_mode=True,  # docker build needs the Docker daemon
                environment_variable=[
                    CodebuildProjectEnvironmentEnvironmentVariable(name="REPOSITORY_URI", value=repository_url),
                    CodebuildProjectEnvironmentEnvironmentVariable(name="IMAGE_TAG", value=image_tag),
                ],
            ),
            logs_config=CodebuildProjectLogsConfig(
                cloudwatch_logs=CodebuildProjectLogsConfigCloudwatchLogs(group_name=self.log_group.name)
            ),
            encryption_key=kms_key_arn,
        )
