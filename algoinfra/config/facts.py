"""AWS facts and rules that are not about one field's shape.

Facts (regions and their AZs, interface endpoint services, instance families)
live in data files under ``algoinfra/data/`` with their source and date; the
rules here are plain functions over strings and networks, used by the models
and the loader alike.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from algoinfra.errors import ConfigError
from algoinfra.inputs import read_yaml

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
REGIONS_FILE = DATA_DIR / "regions.yml"
ENDPOINT_SERVICES_FILE = DATA_DIR / "endpoint_services.yml"
INSTANCE_TYPES_FILE = DATA_DIR / "instance_types.yml"

T = TypeVar("T")


def _strings(path: Path, field: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(path, field, "must be a list of strings (data file of this repository)")
    return tuple(value)


def _mapping(path: Path, field: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ConfigError(path, field, "must be a mapping (data file of this repository)")
    return value


# ---------------------------------------------------------------------------
# Regions and availability zones
# ---------------------------------------------------------------------------


@cache
def regions() -> Mapping[str, tuple[str, ...]]:
    """Region -> its AZ names (``ap-northeast-1`` -> ``ap-northeast-1a``, ...), sorted by region."""
    raw = _mapping(REGIONS_FILE, "regions", _mapping(REGIONS_FILE, "", read_yaml(REGIONS_FILE)).get("regions"))
    out = {
        region: tuple(region + letter for letter in _strings(REGIONS_FILE, f"regions.{region}", letters))
        for region, letters in sorted(raw.items())
    }
    return MappingProxyType(out)


# ---------------------------------------------------------------------------
# Interface endpoint services
# ---------------------------------------------------------------------------


@cache
def _endpoint_data() -> tuple[frozenset[str], Mapping[str, frozenset[str]]]:
    raw = _mapping(ENDPOINT_SERVICES_FILE, "", read_yaml(ENDPOINT_SERVICES_FILE))
    everywhere = frozenset(_strings(ENDPOINT_SERVICES_FILE, "everywhere", raw.get("everywhere")))
    per_region = {
        region: frozenset(_strings(ENDPOINT_SERVICES_FILE, f"regions.{region}", names))
        for region, names in _mapping(ENDPOINT_SERVICES_FILE, "regions", raw.get("regions")).items()
    }
    return everywhere, MappingProxyType(per_region)


def endpoint_services(region: str) -> frozenset[str]:
    """Interface endpoint services the region offers, as far as the data file knows."""
    everywhere, per_region = _endpoint_data()
    return everywhere | per_region.get(region, frozenset())


def all_endpoint_services() -> tuple[str, ...]:
    """Every service name known in any region (what an editor may suggest)."""
    everywhere, per_region = _endpoint_data()
    return tuple(sorted(everywhere.union(*per_region.values())))


# ---------------------------------------------------------------------------
# Instance types
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class InstanceFacts:
    classes: tuple[str, ...]
    nvidia_gpu_families: frozenset[str]
    amd_gpu_families: frozenset[str]
    arm64_classes: frozenset[str]
    arm64_attribute_letter: str
    arm64_families: frozenset[str]
    batch_unsupported_classes: frozenset[str]


@cache
def instance_facts() -> InstanceFacts:
    raw = _mapping(INSTANCE_TYPES_FILE, "", read_yaml(INSTANCE_TYPES_FILE))
    return InstanceFacts(
        classes=_strings(INSTANCE_TYPES_FILE, "classes", raw.get("classes")),
        nvidia_gpu_families=frozenset(
            _strings(INSTANCE_TYPES_FILE, "nvidia_gpu_families", raw.get("nvidia_gpu_families"))
        ),
        amd_gpu_families=frozenset(_strings(INSTANCE_TYPES_FILE, "amd_gpu_families", raw.get("amd_gpu_families"))),
        arm64_classes=frozenset(_strings(INSTANCE_TYPES_FILE, "arm64_classes", raw.get("arm64_classes"))),
        arm64_attribute_letter=_letter(raw.get("arm64_attribute_letter")),
        arm64_families=frozenset(_strings(INSTANCE_TYPES_FILE, "arm64_families", raw.get("arm64_families"))),
        batch_unsupported_classes=frozenset(
            _strings(INSTANCE_TYPES_FILE, "batch_unsupported_classes", raw.get("batch_unsupported_classes"))
        ),
    )


def _letter(value: object) -> str:
    if not (isinstance(value, str) and len(value) == 1 and value.isalpha()):
        raise ConfigError(
            INSTANCE_TYPES_FILE, "arm64_attribute_letter", "must be one letter (data file of this repository)"
        )
    return value


_SIZE = r"(?:nano|micro|small|medium|large|(?:[1-9][0-9]*)?xlarge|metal(?:-[1-9][0-9]*xl)?)"


@cache
def instance_type_pattern() -> str:
    """``optimal``, a family or family.size; the family's class letters come from the data file.

    A family is <class><generation><attributes>[-<option>] (m6i, c7gn, m7i-flex,
    p6-b200) or a high-memory ``u-<n>tb<m>``.
    """
    classes = "|".join(sorted(instance_facts().classes, key=lambda c: (-len(c), c)))
    family = rf"(?:(?:{classes})[0-9]+[a-z]*(?:-[a-z0-9]+)?|u-[0-9]+tb[0-9]+)"
    return rf"^(?:optimal|{family}(?:\.{_SIZE})?)$"


def instance_family(instance_type: str) -> str:
    return instance_type.split(".", 1)[0]


def is_gpu_instance_type(instance_type: str) -> bool:
    """An NVIDIA GPU type or family (what ECS_AL2023_NVIDIA and job.gpus need)."""
    return instance_family(instance_type) in instance_facts().nvidia_gpu_families


def is_amd_gpu_instance_type(instance_type: str) -> bool:
    return instance_family(instance_type) in instance_facts().amd_gpu_families


def instance_class(instance_type: str) -> str:
    """The class letters of a family (``m`` of m6i, ``inf`` of inf2, ``u`` of u-6tb1); ``""`` for optimal."""
    family = instance_family(instance_type)
    if family == "optimal":
        return ""
    if family.startswith("u-"):
        return "u"
    classes = instance_facts().classes
    return next((c for c in sorted(classes, key=len, reverse=True) if re.match(rf"^{c}[0-9]", family)), "")


def is_arm64_instance_type(instance_type: str) -> bool:
    """An arm64 family or type: class ``a``, a ``g`` among the letters after the generation (Graviton), or
    a family the data file lists (NVIDIA Grace superchips: p6e-gb200)."""
    facts = instance_facts()
    klass = instance_class(instance_type)
    if not klass:
        return False
    attributes = re.sub(r"^[0-9]+", "", instance_family(instance_type)[len(klass) :]).split("-", 1)[0]
    return (
        klass in facts.arm64_classes
        or facts.arm64_attribute_letter in attributes
        or instance_family(instance_type) in facts.arm64_families
    )


def is_batch_unsupported_instance_type(instance_type: str) -> bool:
    return instance_class(instance_type) in instance_facts().batch_unsupported_classes


_SIZE_VCPUS = re.compile(r"^(?:([0-9]*)xlarge|metal-([0-9]+)xl)$")


def size_vcpus(instance_type: str) -> int | None:
    """vCPUs of an explicit type where the size says it (large 2, xlarge 4, Nxlarge and metal-Nxl 4N);
    None for a family, optimal, and sizes that differ between families (nano to medium, metal)."""
    _, dot, size = instance_type.partition(".")
    if not dot:
        return None
    if size == "large":
        return 2
    if match := _SIZE_VCPUS.match(size):
        return 4 * int(match.group(1) or match.group(2) or 1)
    return None


# ---------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------

# Ranges a VPC cannot use or that break something on a Batch host, with why.
RESERVED_NETWORKS: tuple[tuple[ipaddress.IPv4Network, str], ...] = tuple(
    (ipaddress.IPv4Network(net), why)
    for net, why in (
        ("0.0.0.0/8", "'this network' (RFC 1122)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local (instance metadata, DNS and time servers of every VPC)"),
        ("192.0.0.0/24", "IETF protocol assignments (RFC 6890)"),
        ("192.0.2.0/24", "documentation (TEST-NET-1)"),
        ("198.18.0.0/15", "benchmarking (RFC 2544)"),
        ("198.51.100.0/24", "documentation (TEST-NET-2)"),
        ("203.0.113.0/24", "documentation (TEST-NET-3)"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved (RFC 1112) and broadcast"),
    )
)
# Docker's default bridge on ECS hosts: containers in bridge mode cannot reach
# VPC addresses in it (AWS recommends against it for VPCs that run containers).
DOCKER_BRIDGE = ipaddress.IPv4Network("172.17.0.0/16")


def reserved_overlap(net: ipaddress.IPv4Network, *, containers: bool) -> str | None:
    """Why ``net`` may not be used, or None."""
    for reserved, why in RESERVED_NETWORKS:
        if net.overlaps(reserved):
            return f"{net} overlaps {reserved}, {why}"
    if containers and net.overlaps(DOCKER_BRIDGE):
        return f"{net} overlaps {DOCKER_BRIDGE}, Docker's default bridge on Batch hosts (containers could not reach it)"
    return None


@dataclass(frozen=True)
class Interval:
    """A CIDR as an integer interval, with what it belongs to (for messages)."""

    first: int
    last: int
    net: ipaddress.IPv4Network
    owner: str

    @classmethod
    def of(cls, net: ipaddress.IPv4Network, owner: str) -> Interval:
        return cls(int(net.network_address), int(net.broadcast_address), net, owner)


def first_overlap(intervals: Iterable[Interval]) -> tuple[Interval, Interval] | None:
    """One overlapping pair, or None: sorted sweep, O(n log n).

    Sorted by start, an interval overlaps an earlier one exactly when it starts
    before the largest end seen so far.
    """
    widest: Interval | None = None
    for item in sorted(intervals, key=lambda i: (i.first, -i.last, i.owner)):
        if widest is not None and item.first <= widest.last:
            return widest, item
        if widest is None or item.last > widest.last:
            widest = item
    return None


class OverlapIndex:
    """Intervals of one routing domain, sorted once; ``partner`` finds what overlaps a member in O(1).

    Sorted by start (wider first on ties), the members overlapping ``x`` are
    either earlier ones reaching past ``x``'s start (the widest earlier one
    tells) or the very next one, if it starts inside ``x``.
    """

    def __init__(self, intervals: Iterable[Interval]) -> None:
        self._ordered = sorted(intervals, key=lambda i: (i.first, -i.last, i.owner))
        self._position = {id(item): n for n, item in enumerate(self._ordered)}
        self._widest_before: list[Interval | None] = []
        widest: Interval | None = None
        for item in self._ordered:
            self._widest_before.append(widest)
            if widest is None or item.last > widest.last:
                widest = item

    def partner(self, member: Interval) -> Interval | None:
        """Another interval overlapping ``member`` (which must be in the index), or None."""
        n = self._position[id(member)]
        before = self._widest_before[n]
        if before is not None and before.last >= member.first:
            return before
        if n + 1 < len(self._ordered) and self._ordered[n + 1].first <= member.last:
            return self._ordered[n + 1]
        return None


# ---------------------------------------------------------------------------
# Names and tags
# ---------------------------------------------------------------------------

_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def git_ref_problem(name: str) -> str | None:
    """Why ``name`` is not a valid branch name (git check-ref-format --branch), or None."""
    if name in ("@", "HEAD"):
        return f"{name!r} names the current commit, not a branch"
    if name.startswith("-"):
        return "must not start with '-'"
    if bad := _REF_FORBIDDEN.search(name):
        return f"must not contain {bad.group()!r} (spaces, control characters and ~ ^ : ? * [ \\ are not allowed)"
    if ".." in name:
        return "must not contain '..'"
    if "@{" in name:
        return "must not contain '@{'"
    if name.startswith("/") or name.endswith("/") or "//" in name:
        return "must not start or end with '/' nor contain '//'"
    if name.endswith("."):
        return "must not end with '.'"
    for part in name.split("/"):
        if part.startswith("."):
            return f"no part may start with '.': {part!r}"
        if part.endswith(".lock"):
            return f"no part may end with '.lock': {part!r}"
    return None


def tag_filter_covers(filters: Iterable[str], tag: str) -> bool:
    """Whether an ECR exclusion filter (``*`` is the only wildcard) matches ``tag``."""
    return any(fnmatch.fnmatchcase(tag, f) for f in filters)


def case_insensitive_pattern(words: Iterable[str]) -> str:
    """``^(?:[pP][rR]...|...)$``: a case-insensitive match that JSON Schema and Rust regex both read."""
    alternatives = ("".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in w) for w in words)
    return f"^(?:{'|'.join(alternatives)})$"
