"""The facts and algorithms behind the rules, over classes of input: data files, overlaps, git refs, instance types."""

from __future__ import annotations

import ipaddress
import random
import re
import subprocess
from pathlib import Path

import pytest

from algoinfra import config as cfg
from algoinfra.config import facts
from algoinfra.errors import ConfigError

# --- data files ------------------------------------------------------------------


def test_regions_are_well_formed_and_tokyo_is_a_c_d() -> None:
    regions = facts.regions()
    assert len(regions) >= 30
    assert regions["ap-northeast-1"] == ("ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d")
    for region, zones in regions.items():
        assert re.fullmatch(r"[a-z]{2}-[a-z]+-\d", region), region
        assert len(zones) >= 2 and len(set(zones)) == len(zones), region
        assert all(re.fullmatch(rf"{region}[a-f]", z) for z in zones), zones


def test_default_endpoints_exist_in_every_region() -> None:
    # A config that leaves interface_endpoints out must load in any listed region.
    for region in facts.regions():
        assert set(cfg.DEFAULT_INTERFACE_ENDPOINTS) <= facts.endpoint_services(region), region


def test_endpoint_services_differ_per_region_where_the_data_says_so() -> None:
    tokyo, paris = facts.endpoint_services("ap-northeast-1"), facts.endpoint_services("eu-west-3")
    assert "sagemaker.runtime" in tokyo and "sagemaker.runtime" not in paris
    assert "logs" in tokyo and "logs" in paris
    assert "s3" not in facts.all_endpoint_services()  # always a gateway endpoint here
    assert set(facts.all_endpoint_services()) >= tokyo


def test_a_service_missing_in_the_region_is_refused(tmp_path: Path) -> None:
    from tests.test_config_rules import Files, project

    def paris(f: Files) -> None:
        f.dev["region"] = "eu-west-3"
        f.project["region"] = "eu-west-3"
        f.project["network"].update(availability_zones=["eu-west-3a"], endpoint_availability_zones=["eu-west-3a"])

    files = Files.samples()
    paris(files)
    project("network.interface_endpoints", ["logs", "sts"])(files)
    assert files.load(tmp_path / "good").region == "eu-west-3"
    files = Files.samples()
    paris(files)
    project("network.interface_endpoints", ["logs", "sagemaker.runtime"])(files)
    with pytest.raises(ConfigError) as err:
        files.load(tmp_path / "bad")
    assert "'sagemaker.runtime' is not an interface endpoint service of eu-west-3" in str(err.value)


INSTANCE_TYPES_OK = [
    "optimal",
    "m6i",
    "m6i.large",
    "m6i.xlarge",
    "c6i.12xlarge",
    "g5.12xlarge",
    "p4d.24xlarge",
    "p5.48xlarge",
    "m7i.metal-24xl",
    "m7i-flex.large",
    "c7gn.16xlarge",
    "r7iz.metal-16xl",
    "t3.nano",
    "x2iedn.32xlarge",
    "u-6tb1.112xlarge",
    "u-3tb1.56xlarge",
    "inf2.xlarge",
    "trn1.32xlarge",
    "g6e.48xlarge",
    "mac2.metal",
    "i4i.metal",
    "hpc7g.16xlarge",
    "dl1.24xlarge",
    "p6-b200.48xlarge",
    "z1d.large",
    "im4gn.large",
]
INSTANCE_TYPES_BAD = [
    "", "M6i.large", "m6i.", ".large", "m6i.xlargee", "m6i.xlarge.big", "optimal.large", "m6i large", "m6i.Large",
    "zz9.large", "m.large", "6i.large", "m6i.metal-", "m6i.24", "m6i..large", "m6i.xlarge\n", "u-6tb.large",
]  # fmt: skip


@pytest.mark.parametrize("name", INSTANCE_TYPES_OK)
def test_instance_type_shapes_accepted(name: str) -> None:
    assert re.search(facts.instance_type_pattern(), name), name


@pytest.mark.parametrize("name", INSTANCE_TYPES_BAD)
def test_instance_type_shapes_refused(name: str) -> None:
    # Python's $ matches before a final newline; pydantic's (Rust) regex does not: check the way it does.
    assert not re.fullmatch(facts.instance_type_pattern().removeprefix("^").removesuffix("$"), name), name


def test_gpu_families() -> None:
    assert all(
        facts.is_gpu_instance_type(t) for t in ("g5.xlarge", "g4dn", "p4d.24xlarge", "p5.48xlarge", "g6e.2xlarge")
    )
    assert not any(
        facts.is_gpu_instance_type(t) for t in ("m6i.large", "optimal", "inf2.xlarge", "g4ad.xlarge", "trn1.2xlarge")
    )
    assert facts.is_amd_gpu_instance_type("g4ad.4xlarge")


# --- overlaps: the sorted sweep and the index agree with brute force --------------


def _random_cidrs(rng: random.Random, n: int) -> list[ipaddress.IPv4Network]:
    out = []
    for _ in range(n):
        prefix = rng.randint(16, 28)
        base = rng.randrange(0, 2**32) & ~((1 << (32 - prefix)) - 1)
        # Inside 10.0.0.0/14, so that some draws overlap and some do not.
        out.append(ipaddress.IPv4Network((base & 0x0003FFFF | 0x0A000000, prefix), strict=False))
    return out


@pytest.mark.parametrize("seed", range(40))
def test_overlap_sweep_and_index_agree_with_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    nets = _random_cidrs(rng, rng.randint(1, 60))
    intervals = [facts.Interval.of(n, f"n{i}") for i, n in enumerate(nets)]
    brute = {i: {j for j, b in enumerate(nets) if j != i and a.overlaps(b)} for i, a in enumerate(nets)}
    pair = facts.first_overlap(intervals)
    assert (pair is None) == (not any(brute.values()))
    if pair is not None:
        assert pair[0].net.overlaps(pair[1].net) and pair[0] is not pair[1]
    index = facts.OverlapIndex(intervals)
    for i, interval in enumerate(intervals):
        partner = index.partner(interval)
        if brute[i]:
            assert partner is not None and partner is not interval and partner.net.overlaps(interval.net)
        else:
            assert partner is None


def test_random_draws_have_both_outcomes() -> None:
    outcomes = set()
    for seed in range(40):
        rng = random.Random(seed)
        nets = _random_cidrs(rng, rng.randint(1, 60))
        outcomes.add(facts.first_overlap(facts.Interval.of(n, str(i)) for i, n in enumerate(nets)) is None)
    assert outcomes == {True, False}


def test_overlap_check_is_not_quadratic() -> None:
    # 200,000 disjoint /28s and one overlapping pair at the end: a sort, not n^2 comparisons.
    base = int(ipaddress.IPv4Address("10.0.0.0"))
    intervals = [facts.Interval.of(ipaddress.IPv4Network((base + 16 * i, 28)), str(i)) for i in range(200_000)]
    intervals.append(facts.Interval.of(ipaddress.IPv4Network((base + 16 * 199_999, 28)), "dup"))
    pair = facts.first_overlap(intervals)
    assert pair is not None and {pair[0].owner, pair[1].owner} == {"199999", "dup"}


# --- git ref names: the rule agrees with git itself --------------------------------

REF_NAMES = [
    "main", "release", "release/2026.01", "feature/a-b_c", "user@host", "ü-branch", "a@b", "v1.2.3", "x/y/z",
    "a..b", "a.lock", "x.lock/y", "a/b.lock", "a/.b", ".a", "a.", "a/", "/a", "a//b", "a b", "a~1", "a^", "a:b",
    "a?b", "a*b", "a[b", "a\\b", "a@{1}", "-x", "HEAD", "a\x01b", "a\x7fb", "tab\tname",
]  # fmt: skip


@pytest.mark.parametrize("name", REF_NAMES)
def test_branch_rule_matches_git_check_ref_format(name: str, tmp_path: Path) -> None:
    git = subprocess.run(["git", "check-ref-format", "--branch", name], cwd=tmp_path, capture_output=True, check=False)
    assert (facts.git_ref_problem(name) is None) == (git.returncode == 0), (name, facts.git_ref_problem(name))
