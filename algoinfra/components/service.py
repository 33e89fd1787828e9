"""The algorithm service: the job definition, the S3 -> EventBridge -> Batch
trigger (to the queue in algorithm-compute-resource), the SageMaker role and the
CodeBuild image build. Every IAM policy
names its actions and is scoped to this project's resources.

ARNs and URLs here are built from names (``Arns``), never read from another
stack: a plan shows every policy, pattern and job definition in full."""

from __future__ import annotations

import json
from collections.abc import Sequence

from cdktf_cdktf_provider_aws.batch_job_definition import (
    BatchJobDefinition,
    BatchJobDefinitionRetryStrategy,
    BatchJobDefinitionRetryStrategyEvaluateOnExit,
    BatchJobDefinitionTimeout,
)
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
from algoinfra.components.iam import Condition, ServiceRole, Statement
from algoinfra.components.text import literal
from algoinfra.naming import Arns, Names

# Not resource-scopable in IAM: the token is for the registry, not a repository.
ECR_AUTH = Statement(sid="EcrLogin", actions=("ecr:GetAuthorizationToken",), resources=("*",))
ECR_PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
ECR_PUSH_ACTIONS = ("ecr:CompleteLayerUpload", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart")
# The default buildspec asks whether a commit's tag is already there before pushing it.
ECR_DESCRIBE_IMAGES = ("ecr:DescribeImages",)
S3_OBJECT_ACTIONS = ("s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject")
S3_READ_ACTIONS = ("s3:GetObject",)
S3_BUCKET_ACTIONS = ("s3:GetBucketLocation", "s3:ListBucket")
KMS_DATA_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
LOG_WRITE_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")

# Retry only what the infrastructure did to the job (a reclaimed spot instance,
# a host that went away); an error of the algorithm itself fails at once.
RETRY_ON_STATUS_REASONS = ("Host EC2*",)

CODEBUILD_IMAGE = "aws/codebuild/amazonlinux-x86_64-standard:5.0"
# Plain shell, as CodeBuild runs it; literal() escapes it for Terraform.
DEFAULT_BUILDSPEC = """\
version: 0.2
phases:
  pre_build:
    commands:
      - REGISTRY="${REPOSITORY_URI%%/*}"
      - aws ecr get-login-password --region "$AWS_REGION" | docker login -u AWS --password-stdin "$REGISTRY"
  build:
    commands:
      - docker build -t "$REPOSITORY_URI:$CODEBUILD_RESOLVED_SOURCE_VERSION" .
      - docker tag "$REPOSITORY_URI:$CODEBUILD_RESOLVED_SOURCE_VERSION" "$REPOSITORY_URI:$IMAGE_TAG"
  post_build:
    commands:
      # Commit tags are immutable: rebuilding a commit pushes the new build as $IMAGE_TAG only.
      - |
        if aws ecr describe-images --repository-name "$REPOSITORY_NAME" \
            --image-ids imageTag="$CODEBUILD_RESOLVED_SOURCE_VERSION" >/dev/null 2>&1; then
          echo "$CODEBUILD_RESOLVED_SOURCE_VERSION is already in $REPOSITORY_NAME: pushing $IMAGE_TAG only"
        else
          docker push "$REPOSITORY_URI:$CODEBUILD_RESOLVED_SOURCE_VERSION"
        fi
      - docker push "$REPOSITORY_URI:$IMAGE_TAG"
"""


def store_key_statement(sid: str, actions: Sequence[str], arns: Arns, key_alias: str) -> Statement:
    """Use the store's key, named by its alias: the key's ARN is random and lives in
    algorithm-store, while the alias is a name (``kms:ResourceAliases``)."""
    return Statement(
        sid=sid,
        actions=actions,
        resources=(arns.kms_keys,),
        conditions=(Condition("ForAnyValue:StringEquals", "kms:ResourceAliases", (key_alias,)),),
    )


def bucket_statements(
    arns: Arns, *, read_write: Sequence[str], read_only: Sequence[str] = (), key_alias: str | None
) -> list[Statement]:
    """List these buckets, read and write objects of ``read_write``, only read those of ``read_only``
    (and use the store's key). Arguments are bucket names."""
    out = [
        Statement(
            sid="ListBuckets",
            actions=S3_BUCKET_ACTIONS,
            resources=tuple(arns.bucket(b) for b in (*read_write, *read_only)),
        ),
        Statement(
            sid="ReadWriteObjects", actions=S3_OBJECT_ACTIONS, resources=tuple(arns.objects(b) for b in read_write)
        ),
    ]
    if read_only:
        out.append(
            Statement(
                sid="ReadOnlyObjects", actions=S3_READ_ACTIONS, resources=tuple(arns.objects(b) for b in read_only)
            )
        )
    if key_alias:
        out.append(store_key_statement("UseStoreKey", KMS_DATA_ACTIONS, arns, key_alias))
    return out


def pull_statements(repository_arn: str, arns: Arns, key_alias: str | None) -> list[Statement]:
    out = [ECR_AUTH, Statement(sid="PullImages", actions=ECR_PULL_ACTIONS, resources=(repository_arn,))]
    if key_alias:
        out.append(store_key_statement("DecryptImages", ("kms:Decrypt",), arns, key_alias))
    return out


def log_statements(log_group_arn: str) -> list[Statement]:
    return [Statement(sid="WriteLogs", actions=LOG_WRITE_ACTIONS, resources=(log_group_arn, f"{log_group_arn}:*"))]


# What SageMaker does with its execution role for a job or endpoint with a VPC configuration.
ENI_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
)
# IAM knows no resource for these reads.
EC2_UNSCOPABLE_ACTIONS = (
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
)
SAGEMAKER_LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents")
SAGEMAKER_LOG_GROUPS = "/aws/sagemaker/*"
SAGEMAKER_METRIC_NAMESPACES = "/aws/sagemaker/*"


def sagemaker_vpc_statements(arns: Arns, *, vpc_id: str, subnet_ids: Sequence[str]) -> list[Statement]:
    """Network interfaces in the project's VPC and subnets only, its logs and metrics; nothing else.

    ``ec2:Vpc`` and ``ec2:Subnet`` take ARNs. Network interfaces carry both keys,
    subnets and security groups only ``ec2:Vpc``: hence two statements.
    """
    vpc = (arns.ec2("vpc", vpc_id),)
    subnets = tuple(arns.ec2("subnet", s) for s in subnet_ids)
    return [
        Statement(
            sid="NetworkInterfacesInTheProjectSubnets",
            actions=ENI_ACTIONS,
            resources=(arns.ec2("network-interface"),),
            conditions=(Condition("StringEquals", "ec2:Vpc", vpc), Condition("StringEquals", "ec2:Subnet", subnets)),
        ),
        Statement(
            sid="ProjectSubnetsAndSecurityGroups",
            actions=("ec2:CreateNetworkInterface",),
            resources=(*subnets, arns.ec2("security-group")),
            conditions=(Condition("StringEquals", "ec2:Vpc", vpc),),
        ),
        Statement(sid="DescribeTheNetwork", actions=EC2_UNSCOPABLE_ACTIONS, resources=("*",)),
        Statement(
            sid="SageMakerLogs",
            actions=SAGEMAKER_LOG_ACTIONS,
            resources=(arns.log_group(SAGEMAKER_LOG_GROUPS), arns.log_streams(SAGEMAKER_LOG_GROUPS)),
        ),
        # PutMetricData has no resource; the namespace condition is its scope.
        Statement(
            sid="SageMakerMetrics",
            actions=("cloudwatch:PutMetricData",),
            resources=("*",),
            conditions=(Condition("StringLike", "cloudwatch:namespace", (SAGEMAKER_METRIC_NAMESPACES,)),),
        ),
    ]


class AlgorithmJob(Construct):
    """The job definition of the inference container, with its roles and log group.

    Args:
        names: the project's names.
        arns: ARNs of the project's account and region (the awslogs region, the roles' source account).
        job: the job config.
        key_alias: the store key's alias, if the store has a key.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: Names,
        arns: Arns,
        job: cfg.Job,
        key_alias: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        account_id, repository = arns.account_id, names.ecr_repository
        self.log_group = CloudwatchLogGroup(
            self, "log_group", name=names.job_log_group, retention_in_days=job.log_retention_days
        )
        self.job_role = ServiceRole(
            self,
            "job_role",
            name=names.role("batch-job"),
            service="ecs-tasks.amazonaws.com",
            source_account=account_id,
            # Reads its input from the trigger bucket, writes only to the data bucket: an object
            # created in the trigger bucket starts a job, so a job writing there would start itself.
            policies={
                "project-buckets": bucket_statements(
                    arns, read_write=[names.data_bucket], read_only=[names.trigger_bucket], key_alias=key_alias
                )
            },
        )
        self.execution_role = ServiceRole(
            self,
            "execution_role",
            name=names.role("batch-execution"),
            service="ecs-tasks.amazonaws.com",
            source_account=account_id,
            policies={
                "pull-and-log": pull_statements(arns.ecr_repository(repository), arns, key_alias)
                + log_statements(arns.log_group(names.job_log_group))
            },
        )
        resources = [{"type": "VCPU", "value": _number(job.vcpus)}, {"type": "MEMORY", "value": str(job.memory_mib)}]
        if job.gpus:
            resources.append({"type": "GPU", "value": str(job.gpus)})
        container = {
            "image": f"{arns.ecr_repository_url(repository)}:{job.image_tag}",
            # The user's words: ${...} in them is for the container, not for Terraform.
            "command": [literal(word) for word in job.command],
            "jobRoleArn": arns.role(names.role("batch-job")),
            "executionRoleArn": arns.role(names.role("batch-execution")),
            "resourceRequirements": resources,
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": self.log_group.name,
                    "awslogs-region": arns.region,
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
            # The roles are named above, not referenced: create them first.
            depends_on=[self.job_role.role, self.execution_role.role],
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


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


class BatchTrigger(Construct):
    """An object created in the trigger bucket submits a job; bucket and key become job parameters.

    Args:
        names: the project's names (the trigger bucket sends its events to EventBridge).
        arns: ARNs of the project's account and region.
        job: the definition to submit (to the project's queue, by name).
    """

    def __init__(self, scope: Construct, construct_id: str, *, names: Names, arns: Arns, job: AlgorithmJob) -> None:
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
                    "detail": {"bucket": {"name": [names.trigger_bucket]}},
                },
                sort_keys=True,
            ),
        )
        self.role = ServiceRole(
            self,
            "role",
            name=names.role("events-submit-job"),
            service="events.amazonaws.com",
            source_account=arns.account_id,
            policies={
                "submit-job": [
                    Statement(
                        sid="SubmitToThisQueueOnly",
                        actions=("batch:SubmitJob",),
                        resources=(arns.job_queue(names.job_queue), arns.job_definitions(names.job_definition)),
                    )
                ]
            },
        )
        self.target = CloudwatchEventTarget(
            self,
            "target",
            rule=self.rule.name,
            target_id="submit-batch-job",
            # The queue lives with its compute environments (algorithm-compute-resource).
            arn=arns.job_queue(names.job_queue),
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
        names: the project's names (the ECR repository to push to).
        arns: ARNs of the project's account and region.
        github: repository, branch and buildspec.
        image_tag: the moving tag the job runs.
        key_alias: the store key's alias, if the store has a key.
        log_retention_days: of the build log group.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: Names,
        arns: Arns,
        github: cfg.GitHub,
        image_tag: str,
        key_alias: str | None,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = CloudwatchLogGroup(
            self, "log_group", name=names.codebuild_log_group, retention_in_days=log_retention_days
        )
        repository_arn = arns.ecr_repository(names.ecr_repository)
        push = [
            Statement(
                sid="PushImages",
                actions=ECR_PULL_ACTIONS + ECR_PUSH_ACTIONS + ECR_DESCRIBE_IMAGES,
                resources=(repository_arn,),
            )
        ]
        if key_alias:
            push.append(store_key_statement("EncryptImages", KMS_DATA_ACTIONS, arns, key_alias))
        self.role = ServiceRole(
            self,
            "role",
            name=names.role("codebuild"),
            service="codebuild.amazonaws.com",
            source_account=arns.account_id,
            policies={"build-and-push": [ECR_AUTH, *push, *log_statements(arns.log_group(names.codebuild_log_group))]},
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
                buildspec=literal(github.buildspec or DEFAULT_BUILDSPEC),
            ),
            source_version=literal(github.branch),  # git allows $ { and % in branch names
            artifacts=CodebuildProjectArtifacts(type="NO_ARTIFACTS"),
            environment=CodebuildProjectEnvironment(
                type="LINUX_CONTAINER",
                compute_type="BUILD_GENERAL1_SMALL",
                image=CODEBUILD_IMAGE,
                privileged_mode=True,  # docker build needs the Docker daemon
                environment_variable=[
                    CodebuildProjectEnvironmentEnvironmentVariable(
                        name="REPOSITORY_URI", value=arns.ecr_repository_url(names.ecr_repository)
                    ),
                    CodebuildProjectEnvironmentEnvironmentVariable(name="REPOSITORY_NAME", value=names.ecr_repository),
                    CodebuildProjectEnvironmentEnvironmentVariable(name="IMAGE_TAG", value=image_tag),
                ],
            ),
            logs_config=CodebuildProjectLogsConfig(
                cloudwatch_logs=CodebuildProjectLogsConfigCloudwatchLogs(group_name=self.log_group.name)
            ),
            # CodeBuild takes the key by its alias.
            encryption_key=arns.kms_alias(key_alias) if key_alias else None,
        )
