"""IAM helpers: policy documents as data, roles with inline policies keyed by name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cdktf_cdktf_provider_aws.data_aws_iam_policy_document import (
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
    DataAwsIamPolicyDocumentStatementCondition,
    DataAwsIamPolicyDocumentStatementPrincipals,
)
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from constructs import Construct


@dataclass(frozen=True)
class Condition:
    test: str
    variable: str
    values: Sequence[str]


@dataclass(frozen=True)
class Statement:
    """One IAM statement; actions are always named, never ``*``."""

    sid: str
    actions: Sequence[str]
    resources: Sequence[str]
    effect: str = "Allow"
    conditions: Sequence[Condition] = field(default_factory=tuple)
    principals: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def render(self) -> DataAwsIamPolicyDocumentStatement:
        return DataAwsIamPolicyDocumentStatement(
            sid=self.sid,
            effect=self.effect,
            actions=list(self.actions),
            resources=list(self.resources) or None,
            condition=[
                DataAwsIamPolicyDocumentStatementCondition(test=c.test, variable=c.variable, values=list(c.values))
                for c in self.conditions
            ]
            or None,
            principals=[
                DataAwsIamPolicyDocumentStatementPrincipals(type=kind, identifiers=list(ids))
                for kind, ids in sorted(self.principals.items())
            ]
            or None,
        )


def policy_document(scope: Construct, construct_id: str, statements: Sequence[Statement]) -> DataAwsIamPolicyDocument:
    return DataAwsIamPolicyDocument(scope, construct_id, statement=[s.render() for s in statements])


def trust_statement(service: str, *, account_id: str | None = None) -> Statement:
    """Trust an AWS service; with ``account_id``, only on behalf of that account (confused deputy)."""
    conditions = (Condition("StringEquals", "aws:SourceAccount", (account_id,)),) if account_id else ()
    return Statement(
        sid="TrustService",
        actions=("sts:AssumeRole",),
        resources=(),
        principals={"Service": (service,)},
        conditions=conditions,
    )


class ServiceRole(Construct):
    """An IAM role for one AWS service, with inline policies and managed attachments.

    Args:
        name: the role name (from ``Names.role``).
        service: the service principal, such as ``batch.amazonaws.com``.
        policies: inline policy name -> statements.
        managed_policy_arns: AWS managed policies to attach, keyed by a short name.
        source_account: restrict the trust to this account (``aws:SourceAccount``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        service: str,
        policies: Mapping[str, Sequence[Statement]] | None = None,
        managed_policy_arns: Mapping[str, str] | None = None,
        source_account: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        trust = policy_document(self, "trust", [trust_statement(service, account_id=source_account)])
        self.role = IamRole(self, "role", name=name, assume_role_policy=trust.json)
        self.attachments: list[IamRolePolicyAttachment | IamRolePolicy] = []
        for policy_name, statements in sorted((policies or {}).items()):
            doc = policy_document(self, f"{policy_name}_document", statements)
            self.attachments.append(
                IamRolePolicy(self, f"{policy_name}_policy", name=policy_name, role=self.role.id, policy=doc.json)
            )
        for short, arn in sorted((managed_policy_arns or {}).items()):
            self.attachments.append(
                IamRolePolicyAttachment(self, f"{short}_attachment", role=self.role.name, policy_arn=arn)
            )

    @property
    def arn(self) -> str:
        return self.role.arn
