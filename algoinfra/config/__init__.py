"""Configuration: YAML files turned into frozen, typed objects, validated completely.

Four inputs, in the config dir or the repo root:

* ``configs/<project>-<env>-algorithm-server-infra.yml``: one project in one env;
* ``configs/platform.yml``: facts of the shared platform, per env;
* ``configs/accounts.yml``: settings that exist once per AWS account;
* ``backend.tf.json``: where Terraform keeps state.

Models (pydantic, frozen, strict, unknown keys refused) are in ``models``,
loading and the rules across files in ``loader``, AWS facts in ``facts``.
Nothing here imports the provider bindings, so a bad config fails fast. Every
problem raises :class:`~algoinfra.errors.ConfigError` naming the file and the
dotted field.
"""

from __future__ import annotations

from algoinfra.config import models
from algoinfra.config.loader import (
    ACCOUNTS_FILE,
    CONFIG_SUFFIX,
    PLATFORM_FILE,
    config_path,
    list_configs,
    load_accounts,
    load_all,
    load_backend,
    load_file,
    load_platform,
    load_project,
)
from algoinfra.config.models import *  # noqa: F403  (the models' own __all__)

__all__ = [
    "ACCOUNTS_FILE",
    "CONFIG_SUFFIX",
    "PLATFORM_FILE",
    "config_path",
    "list_configs",
    "load_accounts",
    "load_all",
    "load_backend",
    "load_file",
    "load_platform",
    "load_project",
    *models.__all__,
]
