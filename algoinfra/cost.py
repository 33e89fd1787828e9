"""Idle cost: what an environment costs per month before any job runs.

Reads only synthesized stacks (``<dir>/stacks/*/cdk.tf.json``), so it also
prices a stack changed by hand. Resource types it does not know are reported,
never silently ignored.

    python -m algoinfra.cost cdktf.out [more synthesized dirs...]
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PRICES_FILE = Path(__file__).with_name("prices.yml")

# Free while idle (or billed only by storage, requests or traffic, which an idle env has next to none of).
FREE_WHILE_IDLE = frozenset(
    {
        "aws_batch_job_definition", "aws_batch_job_queue", "aws_cloudwatch_event_rule", "aws_cloudwatch_event_target",
        "aws_codebuild_project", "aws_codebuild_source_credential", "aws_default_security_group",
        "aws_dynamodb_table", "aws_ecr_lifecycle_policy", "aws_ecr_repository",
        # The attachment is priced once, on the project's side.
        "aws_ec2_transit_gateway_vpc_attachment_accepter",
        "aws_flow_log", "aws_iam_instance_profile", "aws_iam_role", "aws_iam_role_policy",
        "aws_iam_role_policy_attachment", "aws_kms_alias", "aws_launch_template", "aws_route",
        "aws_route53_vpc_association_authorization", "aws_route53_zone_association", "aws_route_table",
        "aws_route_table_association", "aws_s3_bucket",
        "aws_s3_bucket_cors_configuration", "aws_s3_bucket_lifecycle_configuration", "aws_s3_bucket_notification",
        "aws_s3_bucket_ownership_controls", "aws_s3_bucket_policy", "aws_s3_bucket_public_access_block",
        "aws_s3_bucket_server_side_encryption_configuration", "aws_s3_bucket_versioning", "aws_security_group",
        "aws_ssm_parameter", "aws_subnet", "aws_vpc", "aws_vpc_security_group_egress_rule",
        "aws_vpc_security_group_ingress_rule",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Prices:
    region: str
    currency: str
    hours_per_month: int
    hourly: Mapping[str, float]
    monthly: Mapping[str, float]
    per_gb_notes: Mapping[str, float]
    source: str
    retrieved: str


def load_prices(region: str, path: Path = PRICES_FILE) -> Prices:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if region not in data["regions"]:
        raise KeyError(f"{path}: regions: no prices for {region} (known: {', '.join(sorted(data['regions']))})")
    r = data["regions"][region]
    return Prices(
        region,
        r["currency"],
        int(data["hours_per_month"]),
        r["hourly"],
        r["monthly"],
        r.get("per_gb_notes", {}),
        " ".join(data["source"].split()),
        str(data["retrieved"]),
    )


@dataclass(frozen=True)
class Item:
    label: str
    count: int
    unit_price: float
    unit: str  # "h" or "month"
    monthly: float


@dataclass
class Estimate:
    name: str
    prices: Prices
    items: list[Item] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return round(sum(i.monthly for i in self.items), 2)


def estimate(name: str, stacks: Mapping[str, Mapping[str, Any]], prices: Prices | None = None) -> Estimate:
    """The idle monthly cost of one environment's synthesized stacks."""
    prices = prices or load_prices(_region(stacks))
    counts = {"interface_endpoint_az": 0, "transit_gateway_attachment": 0, "nat_gateway": 0, "kms_key": 0, "secret": 0}
    est = Estimate(name, prices)
    for stack_id, stack in sorted(stacks.items()):
        for rtype, by_name in sorted(stack.get("resource", {}).items()):
            for rname, body in sorted(by_name.items()):
                where = f"{stack_id}: {rtype}.{rname}"
                if rtype == "aws_vpc_endpoint":
                    if body.get("vpc_endpoint_type") == "Interface":
                        counts["interface_endpoint_az"] += len(body.get("subnet_ids", []))
                elif rtype == "aws_ec2_transit_gateway_vpc_attachment":
                    counts["transit_gateway_attachment"] += 1
                elif rtype == "aws_nat_gateway":
                    counts["nat_gateway"] += 1
                elif rtype == "aws_kms_key":
                    counts["kms_key"] += 1
                elif rtype == "aws_secretsmanager_secret":
                    counts["secret"] += 1
                elif rtype == "aws_cloudwatch_log_group":
                    days = body.get("retention_in_days", "never expire")
                    est.notes.append(f"log group {body.get('name', rname)}: kept {days} days ({stack_id})")
                elif rtype == "aws_batch_compute_environment":
                    if body.get("compute_resources", {}).get("min_vcpus", 0) != 0:
                        est.unknown.append(f"{where}: min_vcpus > 0 keeps instances running (not priced)")
                elif rtype not in FREE_WHILE_IDLE:
                    est.unknown.append(f"{where}: unknown resource type, not priced")
    labels = {
        "interface_endpoint_az": "interface endpoint x AZ",
        "transit_gateway_attachment": "transit gateway attachment",
        "nat_gateway": "NAT gateway",
        "kms_key": "KMS key",
        "secret": "Secrets Manager secret",
    }
    for kind, count in counts.items():
        if not count:
            continue
        if kind in prices.hourly:
            unit_price, unit = prices.hourly[kind], "h"
            monthly = count * unit_price * prices.hours_per_month
        else:
            unit_price, unit = prices.monthly[kind], "month"
            monthly = count * unit_price
        est.items.append(Item(labels[kind], count, unit_price, unit, round(monthly, 2)))
    return est


def _region(stacks: Mapping[str, Mapping[str, Any]]) -> str:
    for stack in stacks.values():
        for provider in stack.get("provider", {}).get("aws", []):
            if "alias" not in provider and "region" in provider:
                return str(provider["region"])
    raise ValueError("no AWS provider region in the synthesized stacks")


def read_synthesized(outdir: Path) -> dict[str, dict[str, Any]]:
    """The stacks the manifest lists (an out dir keeps stacks of earlier synths), else every stack file."""
    manifest = outdir / "manifest.json"
    if manifest.is_file():
        listed = json.loads(manifest.read_text())["stacks"].values()
        paths = sorted(outdir / s["synthesizedStackPath"] for s in listed)
    else:
        paths = sorted(outdir.glob("stacks/*/cdk.tf.json"))
    stacks = {p.parent.name: json.loads(p.read_text()) for p in paths}
    if not stacks:
        raise FileNotFoundError(f"{outdir}: no synthesized stacks (expected stacks/*/cdk.tf.json)")
    return stacks


def env_name(outdir: Path, stacks: Mapping[str, Mapping[str, Any]]) -> str:
    for stack in stacks.values():
        for provider in stack.get("provider", {}).get("aws", []):
            tags = (provider.get("default_tags") or [{}])[0].get("tags", {})
            if "Project" in tags and "Env" in tags:
                return f"{tags['Project']}-{tags['Env']}"
    return outdir.name


def render(estimates: Sequence[Estimate]) -> str:
    lines: list[str] = []
    for est in estimates:
        p = est.prices
        lines.append(f"{est.name}  ({p.region}, {p.currency}, {p.hours_per_month} h/month)")
        lines.append(f"  {'item':<30} {'count':>5} {'unit price':>16} {'per month':>10}")
        for i in est.items:
            lines.append(f"  {i.label:<30} {i.count:>5} {f'{i.unit_price:g}/{i.unit}':>16} {i.monthly:>10.2f}")
        if not est.items:
            lines.append("  (nothing billed while idle)")
        lines.append(f"  {'total':<30} {'':>5} {'':>16} {est.total:>10.2f}")
        lines.extend(f"  note: {n}" for n in est.notes)
        lines.extend(f"  UNPRICED: {u}" for u in est.unknown)
        lines.append("")
    if estimates:
        p = estimates[0].prices
        total = round(sum(e.total for e in estimates), 2)
        lines.append(f"sum across {len(estimates)} environments: {total:.2f} {p.currency}/month")
        notes = ", ".join(f"{k} {v:g}/GB" for k, v in p.per_gb_notes.items())
        lines.append(f"traffic is extra and not guessed: {notes}")
        lines.append(f"prices: {p.source} (retrieved {p.retrieved})")
    return "\n".join(lines) + "\n"


def report(outdirs: Iterable[Path]) -> tuple[str, list[Estimate]]:
    estimates = []
    for outdir in outdirs:
        stacks = read_synthesized(outdir)
        estimates.append(estimate(env_name(outdir, stacks), stacks))
    return render(estimates), estimates


def main(argv: Sequence[str]) -> int:
    if not argv:
        print("usage: python -m algoinfra.cost SYNTHESIZED_DIR [...]", file=sys.stderr)
        return 2
    try:
        text, estimates = report(Path(a) for a in argv)
    except (FileNotFoundError, KeyError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(text, end="")
    return 1 if any(e.unknown for e in estimates) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
