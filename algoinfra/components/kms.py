"""A customer managed KMS key whose policy names its actions."""

from __future__ import annotations

import json

from cdktf import App, TerraformResourceLifecycle, TerraformStack
from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from constructs import Construct

from algoinfra.naming import Arns

# The account may administer and use the key through IAM policies; without the
# usage actions here, no IAM policy in the account could grant them.
KEY_ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion", "kms:Create*", "kms:Delete*", "kms:Describe*", "kms:Disable*", "kms:Enable*",
    "kms:Get*", "kms:List*", "kms:Put*", "kms:Revoke*", "kms:ScheduleKeyDeletion", "kms:TagResource",
    "kms:UntagResource", "kms:Update*",
)  # fmt: skip
KEY_USAGE_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*")


def key_policy(arns: Arns) -> str:
    """The key policy as plain JSON: a key policy is not an IAM identity policy
    (its ``Resource`` must be ``*``, meaning this key), so it is kept out of
    ``aws_iam_policy_document``, where IAM checks would misread it."""
    statement = {
        "Sid": "AccountAdministersAndUsesTheKey",
        "Effect": "Allow",
        "Principal": {"AWS": arns.account_root},
        "Action": list(KEY_ADMIN_ACTIONS + KEY_USAGE_ACTIONS),
        "Resource": "*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, indent=2, sort_keys=True)


class ManagedKey(Construct):
    """A rotating key, deletable only after 30 days.

    Args:
        alias: ``alias/...``.
        arns: the account (and partition) that administers and uses the key.
        description: what the key protects.
        prevent_destroy: Terraform refuses to destroy (schedule the deletion of)
            the key, like the buckets whose old object versions need it.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alias: str,
        arns: Arns,
        description: str,
        prevent_destroy: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = KmsKey(
            self,
            "key",
            description=description,
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=key_policy(arns),
            lifecycle=TerraformResourceLifecycle(prevent_destroy=prevent_destroy),
        )
        self.alias = KmsAlias(self, "alias", name=alias, target_key_id=self.key.key_id)

    @property
    def arn(self) -> str:
        return self.key.arn


def key_addresses(construct_id: str) -> tuple[str, str]:
    """The Terraform addresses (key, alias) of a :class:`ManagedKey` built as ``construct_id`` directly in a
    stack. Logical ids come from the construct path within the stack, so a scratch stack that is never
    synthesized gives exactly the ids the real stack uses (a test compares them with a synthesized one)."""
    scratch = TerraformStack(App(skip_validation=True), "scratch")
    key = ManagedKey(
        scratch,
        construct_id,
        alias="alias/scratch",
        arns=Arns(region="us-east-1", account_id="111111111111"),
        description="scratch",
        prevent_destroy=False,
    )
    return f"aws_kms_key.{key.key.friendly_unique_id}", f"aws_kms_alias.{key.alias.friendly_unique_id}"


def forget_not_destroy(stack: TerraformStack, addresses: tuple[str, ...]) -> None:
    """``removed`` blocks (Terraform >= 1.7): if state still holds these resources after the configuration
    dropped them, Terraform forgets them instead of destroying them (a KMS key old data needs stays in AWS)."""
    stack.add_override("removed", [{"from": a, "lifecycle": {"destroy": False}} for a in addresses])
