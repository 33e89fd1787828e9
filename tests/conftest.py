"""Session fixtures: the provider bindings are imported once, every config of the config dir synthesized once.

``sample_configs``, ``synth_root`` and ``stacks`` hold every config of the
config dir (the samples and any real project: the generic tests cover them all);
tests that pin figures parametrize over ``SAMPLE_KEYS`` (tests/helpers.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from algoinfra import aws_bindings
from algoinfra import config as cfg
from tests.helpers import BACKEND, CONFIG_DIR, read_stacks

# Before any test module imports a stack (stacks import provider submodules).
aws_bindings.load()

from algoinfra.synth import synthesize  # noqa: E402
from stacks.app import synth_config  # noqa: E402


@pytest.fixture(scope="session")
def all_configs() -> dict[str, cfg.ProjectConfig]:
    """Every config of the config dir, by key (``ALL_CONFIG_KEYS``)."""
    return {c.key: c for c in cfg.load_all(CONFIG_DIR, backend_path=BACKEND)}


@pytest.fixture(scope="session")
def sample_configs(all_configs: dict[str, cfg.ProjectConfig]) -> dict[str, cfg.ProjectConfig]:
    """Historic name, kept for the tests that use it: every config of the config dir, samples included."""
    return all_configs


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory: pytest.TempPathFactory, sample_configs: dict[str, cfg.ProjectConfig]) -> Path:
    """Every config synthesized once, each into ``<root>/<project>-<env>/``."""
    root = tmp_path_factory.mktemp("synth") / "cdktf.out"
    synthesize(list(sample_configs.values()), root, build=synth_config, per_config_dirs=True)
    return root


@pytest.fixture(scope="session")
def stacks(synth_root: Path, sample_configs: dict[str, cfg.ProjectConfig]) -> dict[str, dict[str, dict[str, Any]]]:
    """config key -> stack id -> synthesized JSON."""
    return {key: read_stacks(synth_root / key) for key in sample_configs}


def synth_one(config: cfg.ProjectConfig, outdir: Path) -> dict[str, dict[str, Any]]:
    synthesize([config], outdir, build=synth_config, per_config_dirs=False)
    return read_stacks(outdir)


# Long jobs that run in a background process while the rest of the suite uses the other core.
BACKGROUND_TESTS = {
    "tests/test_rehearse.py": "test_every_sample_config_rehearses_clean_from_init_to_destroy",
    "tests/test_estate.py": "test_a_new_project_keeps_the_suite_green",
    "tests/test_fast_import.py": "test_plain_import_fallback_gives_identical_bytes",
}


def _background(item: pytest.Item) -> bool:
    return BACKGROUND_TESTS.get(item.nodeid.split("::")[0]) == item.name


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that wait for a background job go last: the job has the whole suite's time to finish."""
    items.sort(key=_background)  # stable: everything else keeps its order


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start each background job whose test was selected (not merely collected), before any test runs."""
    for item in session.items:
        if _background(item):
            item.module.start_background()  # type: ignore[attr-defined]
