"""account-baseline: account-wide singletons, once per account and region (runbook 1.3).

The GitHub token secret is created empty; the operator puts its value with
``aws secretsmanager put-secret-value``. The CodeBuild source credential reads
it through a data source, so the token never appears in the repo or the
synthesized JSON, but it does land in Terraform state (the state bucket is
encrypted and private for that reason).

Where the old runbook built them, ``adopt`` imports the secret (found by name
when Terraform plans: its ARN ends in a random suffix) and the credential (by
its ARN, one per account, region and server type).
"""

from __future__ import annotations

from cdktf import TerraformOutput
from cdktf_cdktf_provider_aws.codebuild_source_credential import CodebuildSourceCredential
from cdktf_cdktf_provider_aws.data_aws_secretsmanager_secret import DataAwsSecretsmanagerSecret
from cdktf_cdktf_provider_aws.data_aws_secretsmanager_secret_version import DataAwsSecretsmanagerSecretVersion
from cdktf_cdktf_provider_aws.secretsmanager_secret import SecretsmanagerSecret
from constructs import Construct

from algoinfra.components.adopt import import_existing
from algoinfra.config import ProjectConfig
from algoinfra.naming import GITHUB_TOKEN_SECRET_NAME
from stacks.base import BaseStack

STACK_ID = "account-baseline"


class AccountBaselineStack(BaseStack):
    def __init__(self, scope: Construct, *, config: ProjectConfig) -> None:
        super().__init__(scope, STACK_ID, config=config, account_wide=True)
        self.github_token = SecretsmanagerSecret(
            self,
            "github_token",
            name=GITHUB_TOKEN_SECRET_NAME,
            description="GitHub personal access token for CodeBuild; value put by the operator, never by Terraform",
            recovery_window_in_days=30,
        )
        adopt = config.account.adopt
        if adopt.github_token_secret:
            existing = DataAwsSecretsmanagerSecret(self, "github_token_existing", name=GITHUB_TOKEN_SECRET_NAME)
            import_existing(self.github_token, existing.arn)
        TerraformOutput(self, "github_token_secret_arn", value=self.github_token.arn)
        if not config.account.baseline.codebuild_source_credential:
            return
        token = DataAwsSecretsmanagerSecretVersion(self, "github_token_value", secret_id=self.github_token.id)
        credential = CodebuildSourceCredential(
            self,
            "github_source_credential",
            server_type="GITHUB",
            auth_type="PERSONAL_ACCESS_TOKEN",
            token=token.secret_string,
        )
        if adopt.codebuild_source_credential:
            import_existing(credential, self.arns.codebuild_source_credential("GITHUB"))
