"""The base stack: every stack gets its AWS provider and its backend from here."""

from __future__ import annotations

import re

from cdktf import LocalBackend, S3Backend, S3BackendAssumeRoleConfig, TerraformOutput, TerraformStack
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderAssumeRole, AwsProviderDefaultTags
from constructs import Construct

from algoinfra.components.text import literal, literal_tags
from algoinfra.config import ProjectConfig
from algoinfra.naming import Arns, account_state_key, state_key

MANAGED_BY = "cdktf:algorithm-server-infra"

# use_lockfile (S3 native locking) needs Terraform 1.10: older ones stop with this
# requirement instead of "Unsupported argument".
TERRAFORM_REQUIRED_VERSION = ">= 1.10"

# The aliased provider of the platform account (algorithm-dns, algorithm-server-infra).
PLATFORM_ALIAS = "platform"

# A cross-stack output whose attribute path names one of these stays sensitive.
_SECRET_ATTRIBUTE_RE = re.compile(r"secret|password|token|private_key|credential", re.IGNORECASE)

# The bootstrap stack's local state file, in its working dir. Synthesis makes it a
# symlink to a file outside the out dir (see stacks/app.py), so the JSON holds no
# machine path and `rm -rf cdktf.out` never takes the state with it.
BOOTSTRAP_STATE_FILE = "terraform.tfstate"


class BaseStack(TerraformStack):
    """A stack with the project's AWS provider and the S3 backend.

    Args:
        scope: the app.
        stack_id: the stack id users type (``algorithm-store``...).
        config: the project config.
        account_wide: shared by every project of the account: one state per
            account and region instead of per project, no project tags.
        local_state: keep state locally (only the bootstrap of the backend itself).
        region: the provider's region when it is not the config's (the state bucket).
        account_id: the account the provider is pinned to when it is not the
            config's (the state account for the bootstrap).
    """

    def __init__(
        self,
        scope: Construct,
        stack_id: str,
        *,
        config: ProjectConfig,
        account_wide: bool = False,
        local_state: bool = False,
        region: str | None = None,
        account_id: str | None = None,
    ) -> None:
        super().__init__(scope, stack_id)
        self.config = config
        account_id = account_id or config.account_id
        # ARNs of this account and region, built from names (see Arns).
        self.arns = Arns(region=region or config.region, account_id=account_id)
        # An account-wide stack serves every project of the account: no project tags.
        # The bootstrap serves the whole estate: no project tags either.
        shared = account_wide or local_state
        project_tags = {} if shared else {"Project": config.project, "Env": config.env, **config.tags}
        # Tag values are the user's text: literal, or Terraform would read ${...} in them.
        self.default_tags = literal_tags({**project_tags, "ManagedBy": MANAGED_BY})
        self.provider = AwsProvider(
            self,
            "aws",
            region=region or config.region,
            # A wrong AWS_PROFILE fails at plan time instead of touching another account.
            allowed_account_ids=[account_id],
            default_tags=[AwsProviderDefaultTags(tags=self.default_tags)],
        )
        # cdktf writes the ambiguous "aws"; Terraform and OpenTofu agree on this one.
        self.add_override("terraform.required_providers.aws.source", "hashicorp/aws")
        self.add_override("terraform.required_version", TERRAFORM_REQUIRED_VERSION)
        if local_state:
            LocalBackend(self, path=BOOTSTRAP_STATE_FILE)
            return
        backend = config.backend
        key = (
            account_state_key(account_id=config.account_id, region=config.region, stack=stack_id)
            if account_wide
            else state_key(project=config.project, env=config.env, region=config.region, stack=stack_id)
        )
        # cdktf gives every terraform_remote_state that reads this stack the same
        # settings, role and profile included: backend and reads cannot drift apart.
        role = backend.assume_role
        S3Backend(
            self,
            bucket=backend.bucket,
            key=key,
            region=backend.region,
            dynamodb_table=backend.dynamodb_table,
            encrypt=backend.encrypt,
            profile=backend.profile,
            assume_role=S3BackendAssumeRoleConfig(
                role_arn=role.role_arn, external_id=role.external_id, session_name=role.session_name
            )
            if role
            else None,
        )
        # cdktf 0.21's S3Backend has no use_lockfile (Terraform >= 1.10 S3 native locking).
        if backend.use_lockfile:
            self.add_override("terraform.backend.s3.use_lockfile", True)

    def register_outgoing_cross_stack_reference(self, identifier: str) -> TerraformOutput:
        """CDKTF makes every cross-stack output sensitive, and so every value built
        from one (an IAM policy, an event pattern) reads ``(sensitive value)`` in a
        plan. What crosses our stacks is ids, names and ARNs: only an attribute that
        names a secret stays sensitive. (cdktf calls this while it synthesizes.)"""
        output = super().register_outgoing_cross_stack_reference(identifier)
        output.sensitive = is_secret_reference(identifier)
        return output

    def add_platform_provider(self, *, purpose: str) -> AwsProvider | None:
        """The aliased provider of the env's platform account, or ``None`` when the
        project lives in that account (nothing to reach across then). It assumes the
        platform's role (or uses its profile) and is pinned to the platform account,
        so it never acts on the project account, whatever the profile says.

        Args:
            purpose: one of ``PLATFORM_SESSION_PURPOSES`` (the role session name says it).
        """
        config, platform = self.config, self.config.platform
        if platform.account_id == config.account_id:
            return None
        return AwsProvider(
            self,
            "aws_platform",
            alias=PLATFORM_ALIAS,
            region=config.region,
            allowed_account_ids=[platform.account_id],
            profile=literal(platform.profile) if platform.profile else None,
            assume_role=[
                AwsProviderAssumeRole(
                    role_arn=platform.role_arn, session_name=config.names.platform_session_name(purpose)
                )
            ]
            if platform.role_arn
            else None,
            default_tags=[AwsProviderDefaultTags(tags=self.default_tags)],
        )


def is_secret_reference(identifier: str) -> bool:
    """``aws_x.name.attr`` or ``data.aws_x.name.attr``: does the attribute path name a secret?"""
    parts = identifier.split(".")
    attribute_path = parts[3:] if parts[0] == "data" else parts[2:]
    return bool(_SECRET_ATTRIBUTE_RE.search(".".join(attribute_path)))
