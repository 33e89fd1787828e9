"""The idle cost report: counts and totals from each sample's own config; unknown types reported.

Figures are pinned on the samples only (SAMPLE_KEYS): a new project in configs/ changes no expectation here.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from algoinfra import cost
from tests.conftest import synth_one
from tests.helpers import SAMPLE_KEYS, load_variant

HOURS = 730
ENDPOINT_AZ_HOUR, ATTACHMENT_HOUR, NAT_HOUR, KMS_MONTH, SECRET_MONTH = 0.014, 0.07, 0.062, 1.00, 0.40


def expected_total(c) -> float:
    endpoints = len(c.network.interface_endpoints) * len(c.network.endpoint_availability_zones)
    total = endpoints * ENDPOINT_AZ_HOUR * HOURS + ATTACHMENT_HOUR * HOURS
    total += KMS_MONTH if c.store.kms_key else 0
    total += SECRET_MONTH if c.account.baseline.enabled else 0
    return round(total, 2)


def test_prices_file_has_the_issue_defaults() -> None:
    p = cost.load_prices("ap-northeast-1")
    assert (p.hourly["interface_endpoint_az"], p.hourly["transit_gateway_attachment"], p.hourly["nat_gateway"]) == (
        0.014,
        0.07,
        0.062,
    )
    assert p.monthly["kms_key"] == 1.00 and p.hours_per_month == HOURS
    assert p.source and p.retrieved


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_sample_totals_follow_from_their_configs(stacks, sample_configs, key) -> None:
    c = sample_configs[key]
    est = cost.estimate(key, stacks[key])
    items = {i.label: i for i in est.items}
    assert items["interface endpoint x AZ"].count == len(c.network.interface_endpoints) * len(
        c.network.endpoint_availability_zones
    )
    assert items["transit gateway attachment"].count == 1
    assert "NAT gateway" not in items
    assert est.total == expected_total(c)
    assert est.unknown == []
    retention = {n for n in est.notes if "/vpc-flow-logs/" in n}
    assert retention == {
        f"log group /vpc-flow-logs/{key}: kept {c.network.flow_logs.retention_days} days (algorithm-server-infra)"
    }


def test_dev_sample_is_the_issue_example(stacks) -> None:
    # 1 AZ x 7 endpoints in dev: 7 x 0.014 x 730 + 0.07 x 730
    assert cost.estimate("dev", stacks["project-sample-dev"]).total == round(7 * 0.014 * 730 + 0.07 * 730, 2)


def test_fewer_endpoints_cost_less(tmp_path: Path, stacks) -> None:
    before = cost.estimate("dev", stacks["project-sample-dev"]).total
    c = load_variant(tmp_path, mutate=lambda d: d["network"].update(interface_endpoints=["ecr.api", "ecr.dkr", "logs"]))
    after = cost.estimate("dev", synth_one(c, tmp_path / "o")).total
    assert round(before - after, 2) == round(4 * 0.014 * 730, 2)


def test_hand_edited_stack_nat_priced_and_unknown_reported(stacks) -> None:
    edited = copy.deepcopy(stacks["project-sample-dev"])
    resources = edited["algorithm-server-infra"]["resource"]
    resources["aws_nat_gateway"] = {"a": {}, "c": {}}
    resources["aws_instance"] = {"bastion": {"instance_type": "t3.micro"}}
    est = cost.estimate("dev", edited)
    assert {i.label: i.count for i in est.items}["NAT gateway"] == 2
    assert est.total == round(cost.estimate("dev", stacks["project-sample-dev"]).total + 2 * NAT_HOUR * HOURS, 2)
    assert est.unknown == ["algorithm-server-infra: aws_instance.bastion: unknown resource type, not priced"]


def test_render_and_cli(synth_root: Path, capsys) -> None:
    dirs = [synth_root / key for key in SAMPLE_KEYS]
    assert cost.main([str(d) for d in dirs]) == 0
    out = capsys.readouterr().out
    for key in SAMPLE_KEYS:
        assert f"{key}  (ap-northeast-1, USD, 730 h/month)" in out
    _, estimates = cost.report(dirs)
    assert f"sum across {len(SAMPLE_KEYS)} environments: {sum(e.total for e in estimates):.2f} USD/month" in out
    assert cost.main([str(synth_root / "nope")]) == 2


def test_reads_only_the_stacks_of_the_last_synth(synth_root: Path, tmp_path: Path) -> None:
    import shutil

    out = tmp_path / "out"
    shutil.copytree(synth_root / "project-sample-dev", out, symlinks=True)
    stale = out / "stacks" / "stale-stack"
    stale.mkdir()
    (stale / "cdk.tf.json").write_text('{"resource": {"aws_nat_gateway": {"old": {}}}}')
    assert "stale-stack" not in cost.read_synthesized(out)
