"""A customer managed KMS key whose policy names its actions."""

from __future__ import annotations

from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from constructs import Construct

from algoinfra.components.iam import Statement, policy_document

# The account may administer and use the key through IAM policies; without the
# usage actions here, no IAM policy in the account could grant them.
KEY_ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion", "kms:Create*", "kms:Delete*", "kms:Describe*", "kms:Disable*", "kms:Enable*",
    "kms:Get*", "kms:List*", "kms:Put*", "kms:Revoke*", "kms:ScheduleKeyDeletion", "kms:TagResource",
    "kms:UntagResource", "kms:Update*",
)  # fmt: skip
KEY_USAGE_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*")


class ManagedKey(Construct):
    """Args: alias (without ``alias/``), account_id, description."""

    def __init__(self, scope: Construct, construct_id: str, *, alias: str, account_id: str, description: str) -> None:
        super().__init__(scope, construct_id)
        policy = policy_document(
            self,
            "policy",
            [
                Statement(
                    sid="AccountAdministersAndUsesTheKey",
                    principals={"AWS": (f"arn:aws:iam::{account_id}:root",)},
                    actions=KEY_ADMIN_ACTIONS + KEY_USAGE_ACTIONS,
                    resources=("*",),  # in a key policy "*" means this key
                )
            ],
        )
        self.key = KmsKey(
            self,
            "key",
            description=description,
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=policy.json,
        )
        KmsAlias(self, "alias", name=f"alias/{alias}", target_key_id=self.key.key_id)

    @property
    def arn(self) -> str:
        return self.key.arn
