"""Adding a project keeps the suite green: the README's "add a project" steps, then the generic tests.

The generic tests cover every config of the config dir (``ALL_CONFIG_KEYS``);
figures are pinned on the samples only (``SAMPLE_KEYS``). The proof runs the
suite in a subprocess on a copy of ``configs/`` plus new projects made as the
README says (copy a sample, change name, repository and CIDR; the account stays
a sample's, as for a new project in an existing account, so the copy needs
nothing else).
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import yaml

from algoinfra import config as cfg
from tests.helpers import (
    ALL_CONFIG_KEYS,
    CONFIG_DIR,
    SAMPLE_KEYS,
    SAMPLE_PROJECT,
    background_process,
    sample_data,
)

# Not re-run on the bigger estate: tests that do not read the config dir, and
# the slow ones whose generic part the main run already covers for configs/.
NOT_RERUN = [
    "tests/test_estate.py",
    "tests/test_toolchain.py",
    "tests/test_plan.py",
    "tests/test_help.py",
    "tests/test_docs.py",
    "tests/test_workflows.py",
    "tests/test_fast_import.py",
    "tests/test_main.py",
    "tests/test_state_safety.py",
    "tests/test_inputs.py",
    "tests/test_config_facts.py",
    "tests/test_synth.py",
    "tests/test_terrain_seam.py",
]
# Tests pinned on the samples or on no config at all: an added project cannot change them.
NOT_RERUN_GLOBS = ["tests/test_rehearse*", "tests/test_proofs_*"]


def test_every_config_is_loaded_and_synthesized(all_configs, synth_root: Path) -> None:
    assert set(SAMPLE_KEYS) <= set(ALL_CONFIG_KEYS) and SAMPLE_KEYS
    assert sorted(all_configs) == sorted(ALL_CONFIG_KEYS)
    assert sorted(p.parent.name for p in synth_root.glob("*/manifest.json")) == sorted(ALL_CONFIG_KEYS)
    assert all(k.startswith(f"{SAMPLE_PROJECT}-") for k in SAMPLE_KEYS)


def free_cidrs(config_dir: Path) -> Iterator[str]:
    """/20s that overlap no project of the dir and no routed CIDR of the platform."""
    taken = [
        ipaddress.ip_network(yaml.safe_load(p.read_text())["network"]["vpc_cidr"]) for p in cfg.list_configs(config_dir)
    ]
    platform = yaml.safe_load((config_dir / cfg.PLATFORM_FILE).read_text())
    taken += [ipaddress.ip_network(c) for env in platform["environments"].values() for c in env.get("routed_cidrs", [])]
    for candidate in ipaddress.ip_network("10.128.0.0/9").subnets(new_prefix=20):
        if not any(candidate.overlaps(t) for t in taken):
            taken.append(candidate)
            yield str(candidate)


def add_project(config_dir: Path, project: str, env: str, cidr: str) -> None:
    """The README's steps: copy the sample of the env, set project, repository and CIDR."""
    data = sample_data(f"{SAMPLE_PROJECT}-{env}")
    data["project"] = project
    data["github"]["repository"] = f"aces-inc/{project}"
    data["network"]["vpc_cidr"] = cidr
    data["network"].pop("subnets", None)  # derived from the CIDR
    # `cp` keeps the sample's first line, the editor's schema reference
    schema_line = (CONFIG_DIR / f"{SAMPLE_PROJECT}-{env}{cfg.CONFIG_SUFFIX}").read_text().splitlines()[0]
    text = f"{schema_line}\n{yaml.safe_dump(data, sort_keys=False)}"
    (config_dir / f"{project}-{env}{cfg.CONFIG_SUFFIX}").write_text(text)


class _EstateRun:
    """The suite on a copy of ``configs/`` plus a new project, in the background from collection on:
    it is a minute of one core's work, and the main suite leaves the other core mostly idle."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="test-estate-"))
        self.basetemp = self.tmp / "run"
        estate = self.tmp / "configs"
        shutil.copytree(CONFIG_DIR, estate)  # whatever the repo holds: platform, accounts, every project
        cidrs = free_cidrs(estate)
        for env in ("dev", "staging"):
            add_project(estate, "project-newcomer", env, next(cidrs))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},
            "ALGOINFRA_TEST_CONFIG_DIR": str(estate),
            "INFRA_CONFIG_DIR": str(estate),
        }
        self.proc = background_process(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                f"--basetemp={self.basetemp}",
                *(f"--ignore={p}" for p in NOT_RERUN),
                *(f"--ignore-glob={g}" for g in NOT_RERUN_GLOBS),
                "-k",
                "not checkov",  # checkov scans every config of configs/ in the main run
            ],
            env=env,
            tmp=self.tmp,
            merge_output=True,
        )


_ESTATE: _EstateRun | None = None


def start_background() -> None:
    """Called by conftest once collection is done, when the test below is selected."""
    global _ESTATE
    if _ESTATE is None:
        _ESTATE = _EstateRun()


def test_a_new_project_keeps_the_suite_green() -> None:
    start_background()
    assert _ESTATE is not None
    stdout, _ = _ESTATE.proc.communicate(timeout=1200)
    tail = "\n".join(stdout.splitlines()[-30:])
    assert _ESTATE.proc.returncode == 0, tail
    summary = re.search(r"(\d+) passed", stdout)
    assert summary and int(summary.group(1)) > 100 and " failed" not in stdout.splitlines()[-1], tail
    # The new projects were part of it: synthesized with the rest.
    synthesized = {p.parent.name for p in _ESTATE.basetemp.glob("synth*/cdktf.out/*/manifest.json")}
    assert {"project-newcomer-dev", "project-newcomer-staging"} <= synthesized
    assert set(ALL_CONFIG_KEYS) <= synthesized
