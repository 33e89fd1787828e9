"""What the stand-in AWS provider does, on plain Python values (no gRPC here: see server.py).

- **Plan** = Terraform's proposed new state, with computed attributes that
  are still null made unknown, write-only attributes null, and ``tags_all``
  = the provider's ``default_tags`` + ``tags``. An attribute in
  :data:`FORCE_NEW` (or in ``$ALGOINFRA_STANDIN_FORCE_NEW``) that changes
  asks for a replacement; nothing else ever does. One that an import left
  empty does not (AWS would have returned its real value), except those AWS
  never returns (a CodeBuild credential's token).
- **Apply** fills every unknown with a deterministic, realistically shaped
  value (see fake.py) and appends one line per call to
  ``$ALGOINFRA_STANDIN_LOG`` when set.
- **Read** returns the state as it is (nothing drifts), filling computed
  attributes an import left empty. **Import** takes the id as given.
- **Data sources**: ``aws_iam_policy_document`` is rendered for real
  (policy.py); the others get deterministic values like resources.
- No validation beyond Terraform's own (against the schema): the real
  provider's checks in code (allowed values, regexes, conflicts) are not here.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from algoinfra.rehearse import cty, fake, policy
from algoinfra.rehearse import schema as sch

LOG_ENV = "ALGOINFRA_STANDIN_LOG"
FORCE_NEW_ENV = "ALGOINFRA_STANDIN_FORCE_NEW"

# Attributes that force a new resource in hashicorp/aws 6.x (ForceNew /
# RequiresReplace in the provider's code), for the types this project uses.
# Force-new attributes AWS never returns on read: empty after a real import too, so they replace.
_NEVER_READ_BACK: Mapping[str, tuple[str, ...]] = {"aws_codebuild_source_credential": ("token",)}

# The schema does not say which attributes do: anything not listed plans as
# an in-place update. Paths go through nested blocks with dots.
FORCE_NEW: Mapping[str, tuple[str, ...]] = {
    "aws_batch_compute_environment": ("name", "name_prefix", "type"),
    "aws_batch_job_queue": ("name",),
    "aws_cloudwatch_log_group": ("name", "name_prefix"),
    "aws_codebuild_project": ("name",),
    # AWS never returns the token: an imported credential is replaced with the configured one.
    "aws_codebuild_source_credential": ("auth_type", "server_type", "token", "user_name"),
    "aws_dynamodb_table": ("name",),
    "aws_ec2_transit_gateway_vpc_attachment": ("transit_gateway_id", "vpc_id"),
    # ECR fixes a repository's encryption at creation: the provider replaces it on any change.
    "aws_ecr_repository": ("name", "encryption_configuration"),
    "aws_iam_instance_profile": ("name", "name_prefix"),
    "aws_iam_role": ("name", "name_prefix"),
    "aws_kms_alias": ("name", "name_prefix"),
    "aws_route": ("route_table_id", "destination_cidr_block"),
    "aws_route_table": ("vpc_id",),
    "aws_route_table_association": ("subnet_id", "gateway_id"),
    "aws_s3_bucket": ("bucket", "bucket_prefix"),
    "aws_secretsmanager_secret": ("name", "name_prefix"),
    "aws_security_group": ("name", "name_prefix", "description", "vpc_id"),
    "aws_ssm_parameter": ("name",),
    "aws_subnet": ("vpc_id", "cidr_block", "availability_zone"),
    "aws_vpc": ("cidr_block",),
    "aws_vpc_endpoint": ("vpc_id", "service_name", "vpc_endpoint_type"),
}


class ProviderError(Exception):
    """An error the stand-in reports to Terraform as a diagnostic."""

    def __init__(self, summary: str, detail: str = "") -> None:
        super().__init__(summary)
        self.summary = summary
        self.detail = detail


@dataclass
class StandIn:
    """One provider instance (Terraform starts one per provider configuration)."""

    region: str = fake.DEFAULT_REGION
    account: str = fake.DEFAULT_ACCOUNT
    default_tags: dict[str, Any] | None = field(default_factory=dict)
    force_new: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(FORCE_NEW))
    log_path: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_env(cls) -> StandIn:
        force_new = dict(FORCE_NEW)
        for type_name, paths in json.loads(os.environ.get(FORCE_NEW_ENV) or "{}").items():
            force_new[type_name] = tuple(force_new.get(type_name, ())) + tuple(paths)
        return cls(force_new=force_new, log_path=os.environ.get(LOG_ENV) or None)

    # provider ---------------------------------------------------------------------------------

    def configure(self, config: dict[str, Any]) -> None:
        region = config.get("region")
        if isinstance(region, str) and region:
            self.region = region
        accounts = config.get("allowed_account_ids")
        if isinstance(accounts, list) and accounts and all(isinstance(a, str) for a in accounts):
            self.account = sorted(accounts)[0]
        tags_blocks = config.get("default_tags")
        if tags_blocks is cty.UNKNOWN:
            self.default_tags = None
        elif tags_blocks:
            tags = tags_blocks[0].get("tags") if isinstance(tags_blocks[0], dict) else None
            self.default_tags = None if tags is cty.UNKNOWN else dict(tags or {})

    # managed resources --------------------------------------------------------------------------

    def plan(self, type_name: str, prior: Any, proposed: Any, config: Any) -> tuple[Any, list[list[str | int]]]:
        """Planned new state and the attribute paths that force a replacement."""
        if proposed is None:
            return None, []
        block = _resource(type_name).block
        planned = _unknown_computed(block, proposed)
        if "tags_all" in block.attributes:
            planned["tags_all"] = self._tags_all(proposed.get("tags"))
        replace: list[list[str | int]] = []
        if prior is not None:
            for path in self.force_new.get(type_name, ()):
                steps = path.split(".")
                if prior.get(steps[0]) in (None, [], {}) and path not in _NEVER_READ_BACK.get(type_name, ()):
                    # Empty after an import: AWS would have returned the real value, the stand-in cannot.
                    continue
                replace.extend(_changed_paths(prior, planned, steps))
        return planned, replace

    def apply(self, type_name: str, prior: Any, planned: Any) -> Any:
        """New state after the change (``None`` when destroyed); the call is logged."""
        action = "delete" if planned is None else ("create" if prior is None else "update")
        new = None if planned is None else self._fill(type_name, _resource(type_name).block, planned)
        self._log(type_name, action, (new or prior or {}).get("id"))
        return new

    def read(self, type_name: str, state: Any) -> Any:
        """Refresh: nothing drifts; computed attributes an import left null get their values."""
        if state is None:
            return None
        block = _resource(type_name).block
        return self._fill(type_name, block, _unknown_computed(block, state))

    def import_state(self, type_name: str, import_id: str) -> dict[str, Any]:
        """The state an import starts from: the id, and the attribute the id names for common types."""
        block = _resource(type_name).block
        state: dict[str, Any] = dict.fromkeys(block.attributes)
        for name, nb in block.blocks.items():
            state[name] = None if nb.nesting in ("single", "group") else ({} if nb.nesting == "map" else [])
        state["id"] = import_id
        key = _IMPORT_ID_ATTR.get(type_name)
        if key and key in state:
            state[key] = import_id
        if import_id.startswith("arn:") and "arn" in state:
            state["arn"] = import_id
            if "name" in state and type_name in _NAME_IN_ARN:
                state["name"] = _NAME_IN_ARN[type_name](import_id)
        return state

    # data sources -----------------------------------------------------------------------------

    def read_data(self, type_name: str, config: Any) -> Any:
        data = sch.lookup("data", type_name)
        if data is None:
            raise ProviderError(f"Unknown data source {type_name}")
        if type_name == "aws_iam_policy_document":
            try:
                rendered = policy.render(config)
            except policy.PolicyError as exc:
                raise ProviderError("reading IAM Policy Document", str(exc)) from exc
            return {**config, **rendered}
        state = _unknown_computed(data.block, config)
        if type_name == "aws_region":
            for key in ("name", "region", "id"):
                if state.get(key) is cty.UNKNOWN:
                    state[key] = self.region
        if type_name == "aws_availability_zones" and state.get("names") is cty.UNKNOWN:
            state["names"] = [f"{self.region}{z}" for z in "acd"]
            state["zone_ids"] = [f"apne1-az{i}" for i in (4, 1, 2)]
        if type_name == "aws_caller_identity":
            state.update(id=self.account, account_id=self.account, user_id="AIDAREHEARSAL")
            state["arn"] = f"arn:aws:iam::{self.account}:user/rehearsal"
        return self._fill(type_name, data.block, state)

    def open_ephemeral(self, type_name: str, config: Any) -> Any:
        """An ephemeral resource's result: its configuration with deterministic computed values."""
        found = sch.lookup("ephemeral", type_name)
        if found is None:
            raise ProviderError(f"Unknown ephemeral resource {type_name}")
        return self._fill(type_name, found.block, _unknown_computed(found.block, config))

    # helpers ------------------------------------------------------------------------------------

    def _tags_all(self, tags: Any) -> Any:
        if self.default_tags is None or tags is cty.UNKNOWN:
            return cty.UNKNOWN
        if isinstance(tags, dict) and any(v is cty.UNKNOWN for v in tags.values()):
            return cty.UNKNOWN
        return {**self.default_tags, **(tags or {})}

    def _fill(self, type_name: str, block: sch.Block, value: dict[str, Any]) -> dict[str, Any]:
        region = value.get("region")
        ctx = fake.Context(
            account=self.account,
            region=region if isinstance(region, str) and region else self.region,
            type_name=type_name,
            known=value,
        )
        out = dict(value)
        # The name (from a name_prefix), then the id and the ARN, which show the name or the id.
        for key in ("name", "id", "arn"):
            if key in block.attributes and out.get(key) is cty.UNKNOWN:
                out[key] = fake.string_for(key, ctx)
                ctx = fake.Context(ctx.account, ctx.region, type_name, out)
        filled: dict[str, Any] = fake.fill(out, sch.block_type(block), "", ctx)
        return filled

    def _log(self, type_name: str, action: str, resource_id: Any) -> None:
        if not self.log_path:
            return
        line = json.dumps({"type": type_name, "action": action, "id": resource_id}) + "\n"
        with self._lock:
            fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)


_IMPORT_ID_ATTR = {
    "aws_s3_bucket": "bucket",
    "aws_ecr_repository": "name",
    "aws_iam_role": "name",
    "aws_iam_instance_profile": "name",
    "aws_cloudwatch_log_group": "name",
    "aws_dynamodb_table": "name",
    "aws_ssm_parameter": "name",
    "aws_kms_alias": "name",
    "aws_codebuild_project": "name",
}
_NAME_IN_ARN = {
    # arn:aws:secretsmanager:region:acct:secret:NAME-AbCdEf
    "aws_secretsmanager_secret": lambda arn: arn.split(":", 6)[-1].rsplit("-", 1)[0],
}


def _resource(type_name: str) -> sch.Schema:
    found = sch.lookup("resource", type_name)
    if found is None:
        raise ProviderError(f"Unknown resource type {type_name}")
    return found


def _unknown_computed(block: sch.Block, value: dict[str, Any]) -> dict[str, Any]:
    """Computed attributes that are null become unknown (all the way down); write-only ones null."""
    out = dict(value)
    for name, attr in block.attributes.items():
        if attr.write_only:
            out[name] = None
        elif attr.computed and out.get(name) is None:
            out[name] = cty.UNKNOWN
    for name, nb in block.blocks.items():
        inner = out.get(name)
        if inner is None or inner is cty.UNKNOWN:
            continue
        if nb.nesting in ("single", "group"):
            out[name] = _unknown_computed(nb.block, inner)
        elif nb.nesting == "map":
            out[name] = {k: _unknown_computed(nb.block, v) if isinstance(v, dict) else v for k, v in inner.items()}
        else:
            out[name] = [_unknown_computed(nb.block, v) if isinstance(v, dict) else v for v in inner]
    return out


def _changed_paths(prior: Any, planned: Any, steps: list[str]) -> list[list[str | int]]:
    """Paths (attribute names and list indexes) under ``steps`` whose value differs."""
    if not isinstance(prior, dict) or not isinstance(planned, dict):
        return []
    head, rest = steps[0], steps[1:]
    old, new = prior.get(head), planned.get(head)
    if not rest:
        return [[head]] if old != new else []
    if isinstance(old, list) and isinstance(new, list):
        return [
            [head, i, *sub]
            for i, (o, n) in enumerate(zip(old, new, strict=False))
            for sub in _changed_paths(o, n, rest)
        ] + ([[head]] if len(old) != len(new) else [])
    return [[head, *sub] for sub in _changed_paths(old, new, rest)]
