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
from algoinfra.config.models import (
    DEFAULT_INTERFACE_ENDPOINTS,
    ENVS,
    IMAGE_TYPE_CPU,
    IMAGE_TYPE_GPU,
    LOG_RETENTION_DAYS,
    MAX_TAGS,
    SUBNET_TIERS,
    TOOL_TAGS,
    Account,
    AccountAdopt,
    AccountBaseline,
    Accounts,
    AccountsFile,
    AccountSpec,
    AssumeRole,
    Backend,
    BackendFile,
    Compute,
    Ecr,
    FlowLogs,
    GitHub,
    Job,
    Network,
    Platform,
    PlatformAccess,
    PlatformEnv,
    PlatformEnvSpec,
    PlatformFile,
    ProjectAdopt,
    ProjectConfig,
    ProjectFile,
    S3Backend,
    Store,
    TransitGatewayOptions,
    is_gpu_instance_type,
)

__all__ = [
    "ACCOUNTS_FILE",
    "CONFIG_SUFFIX",
    "DEFAULT_INTERFACE_ENDPOINTS",
    "ENVS",
    "IMAGE_TYPE_CPU",
    "IMAGE_TYPE_GPU",
    "LOG_RETENTION_DAYS",
    "MAX_TAGS",
    "PLATFORM_FILE",
    "SUBNET_TIERS",
    "TOOL_TAGS",
    "Account",
    "AccountAdopt",
    "AccountBaseline",
    "AccountSpec",
    "Accounts",
    "AccountsFile",
    "AssumeRole",
    "Backend",
    "BackendFile",
    "Compute",
    "Ecr",
    "FlowLogs",
    "GitHub",
    "Job",
    "Network",
    "Platform",
    "PlatformAccess",
    "PlatformEnv",
    "PlatformEnvSpec",
    "PlatformFile",
    "ProjectAdopt",
    "ProjectConfig",
    "ProjectFile",
    "S3Backend",
    "Store",
    "TransitGatewayOptions",
    "config_path",
    "is_gpu_instance_type",
    "list_configs",
    "load_accounts",
    "load_all",
    "load_backend",
    "load_file",
    "load_platform",
    "load_project",
]
