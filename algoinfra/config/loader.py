"""Loading: files read through ``algoinfra.inputs``, validated by the models, checked across files.

What one file can tell is checked by its model; here are the rules that need
several files: the file name against ``project``/``env``, ``REGION``, the
platform entry of the env, the account in ``accounts.yml``, the backend's role
against the state account, transit gateway options on a shared gateway, and
the estate: no two VPCs (nor a VPC and a routed CIDR) on one transit gateway
may overlap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from pydantic import ConfigDict, ValidationError

from algoinfra.config import facts
from algoinfra.config.messages import to_config_error
from algoinfra.config.models import (
    ENVS,
    Account,
    Accounts,
    AccountsFile,
    Backend,
    BackendFile,
    Env,
    Platform,
    PlatformEnv,
    PlatformFile,
    ProjectConfig,
    ProjectFile,
)
from algoinfra.config.types import Cidr, Model, echo, parse_cidr, role_account
from algoinfra.errors import ConfigError
from algoinfra.inputs import read_json, read_yaml
from algoinfra.naming import PROJECT_RE

CONFIG_SUFFIX = "-algorithm-server-infra.yml"
PLATFORM_FILE = "platform.yml"
ACCOUNTS_FILE = "accounts.yml"
DEFAULT_BACKEND = Path("backend.tf.json")

M = TypeVar("M", bound=Model)


def _validate(model: type[M], path: Path, data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise to_config_error(path, exc) from None


# ---------------------------------------------------------------------------
# The three shared files
# ---------------------------------------------------------------------------


def load_backend(path: Path) -> Backend:
    """``backend.tf.json``: Terraform's own S3 backend shape."""
    s3 = _validate(BackendFile, path, read_json(path)).terraform.backend.s3
    return Backend.model_construct(s3.model_fields_set | {"path"}, path=path, **dict(s3))


def load_platform(path: Path) -> Platform:
    """``configs/platform.yml``: the shared platform per env."""
    spec = _validate(PlatformFile, path, read_yaml(path))
    envs = {
        env: PlatformEnv.model_construct(
            entry.model_fields_set | {"env"}, **{**dict(entry), "env": env, "account_name": entry.account_name or env}
        )
        for env, entry in spec.environments.items()
    }
    return Platform.model_construct(path=path, envs=MappingProxyType(envs))


def load_accounts(path: Path) -> Accounts:
    """``configs/accounts.yml``: settings that exist once per account."""
    spec = _validate(AccountsFile, path, read_yaml(path))
    accounts = {
        account_id: Account.model_construct(
            entry.model_fields_set | {"account_id"}, account_id=account_id, **dict(entry)
        )
        for account_id, entry in spec.accounts.items()
    }
    return Accounts.model_construct(
        path=path, state_account_id=spec.state_account_id, accounts=MappingProxyType(accounts)
    )


# ---------------------------------------------------------------------------
# Project configs
# ---------------------------------------------------------------------------


def config_path(config_dir: Path, project: str, env: str) -> Path:
    return config_dir / f"{project}-{env}{CONFIG_SUFFIX}"


def list_configs(config_dir: Path) -> list[Path]:
    return sorted(config_dir.glob(f"*{CONFIG_SUFFIX}"))


def load_project(
    config_dir: Path,
    project: str,
    env: str,
    *,
    region: str | None = None,
    backend_path: Path | None = None,
) -> ProjectConfig:
    """Load the config selected by ``Project``/``Env``; ``region`` is checked against it."""
    if env not in ENVS:
        raise ConfigError("Env", "", f"unknown env {echo(env)}; use one of {', '.join(ENVS)}")
    if not PROJECT_RE.fullmatch(project) or len(project) > 63:
        raise ConfigError(
            "Project", "", f"must be 'project-' followed by lowercase letters, digits and hyphens, got {echo(project)}"
        )
    path = config_path(config_dir, project, env)
    if not path.is_file():
        names = [_shown(p.name) for p in list_configs(config_dir)]
        existing = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "") or "none"
        raise ConfigError(path, "", f"no such config (existing configs: {existing})")
    return load_file(path, region=region, backend_path=backend_path)


def load_all(config_dir: Path, *, backend_path: Path | None = None) -> list[ProjectConfig]:
    """Every project config in the dir, sorted by file name; the shared files are read once."""
    paths = list_configs(config_dir)
    if not paths:
        return []
    shared = _Shared.load(config_dir, backend_path)
    return [_load(p, shared, region=None) for p in paths]


def load_file(path: Path, *, region: str | None = None, backend_path: Path | None = None) -> ProjectConfig:
    return _load(path, _Shared.load(path.parent, backend_path), region=region)


@dataclass
class _Shared:
    """What every project config of one dir is checked against."""

    config_dir: Path
    backend: Backend
    platform: Platform
    accounts: Accounts
    _estate: _Estate | None = field(default=None, repr=False)
    _documents: dict[Path, Any] = field(default_factory=dict, repr=False)

    def read(self, path: Path) -> Any:
        """A project config's YAML, parsed once per load (the estate check and the config's own load share it)."""
        if path not in self._documents:
            self._documents[path] = read_yaml(path)
        return self._documents[path]

    @classmethod
    def load(cls, config_dir: Path, backend_path: Path | None) -> _Shared:
        backend = load_backend(backend_path or DEFAULT_BACKEND)
        platform = load_platform(config_dir / PLATFORM_FILE)
        accounts_path = config_dir / ACCOUNTS_FILE
        if not accounts_path.exists() and not accounts_path.is_symlink():
            raise ConfigError(
                accounts_path,
                "",
                "missing: settings per AWS account (formerly account_baseline in project configs) live here;"
                " list every project config's account_id (README: Account settings)",
            )
        accounts = load_accounts(accounts_path)
        if backend.assume_role is not None and role_account(backend.assume_role.role_arn) != accounts.state_account_id:
            raise ConfigError(
                backend.path,
                "terraform.backend.s3.assume_role.role_arn",
                f"role is in account {role_account(backend.assume_role.role_arn)}, but the state account"
                f" (state_account_id in {accounts.path.name}) is {accounts.state_account_id}",
            )
        return cls(config_dir, backend, platform, accounts)

    @property
    def estate(self) -> _Estate:
        if self._estate is None:
            self._estate = _Estate.read(self)
        return self._estate


def _load(path: Path, shared: _Shared, *, region: str | None) -> ProjectConfig:
    spec = _validate(ProjectFile, path, shared.read(path))

    stem = path.name.removesuffix(CONFIG_SUFFIX)
    name_env = stem.rpartition("-")[2]
    expected = f"{spec.project}-{spec.env}{CONFIG_SUFFIX}"
    if path.name != expected:
        wrong = "env" if name_env != spec.env else "project"
        raise ConfigError(path, wrong, f"file name must match project and env: expected {expected}")
    if region is not None and region != spec.region:
        shown = region if region in facts.regions() else echo(region)
        raise ConfigError(path, "region", f"REGION={shown} but the config says {spec.region}")

    platform = shared.platform.envs.get(spec.env)
    if platform is None:
        raise ConfigError(
            shared.platform.path, "environments", f"has no entry for env {spec.env!r} used by {path.name}"
        )
    if platform.region != spec.region:
        raise ConfigError(
            path, "region", f"{spec.region} differs from the platform's {spec.env} region {platform.region}"
        )
    _check_shared_gateway(path, spec, platform)

    account = shared.accounts.accounts.get(spec.account_id)
    if account is None:
        raise ConfigError(
            path,
            "account_id",
            f"account {spec.account_id} is not in {shared.accounts.path.name}: add it there (name, baseline)",
        )

    config = ProjectConfig.model_construct(
        spec.model_fields_set | {"path", "account", "platform", "backend", "state_account_id"},
        **dict(spec),
        path=path,
        account=account,
        platform=platform,
        backend=shared.backend,
        state_account_id=shared.accounts.state_account_id,
    )
    shared.estate.check(config)
    return config


def _check_shared_gateway(path: Path, spec: ProjectFile, platform: PlatformEnv) -> None:
    """On a gateway of another account, route table options are the owner's, set at acceptance."""
    if platform.account_id == spec.account_id or not platform.transit_gateway_auto_accept:
        return
    options = spec.network.transit_gateway
    for key in ("default_route_table_association", "default_route_table_propagation"):
        if getattr(options, key) is not None:
            raise ConfigError(
                path,
                f"network.transit_gateway.{key}",
                f"transit gateway {platform.transit_gateway_id} belongs to the platform account"
                f" {platform.account_id}, which decides this when it accepts the attachment; set it only with"
                f" transit_gateway_auto_accept: false for {spec.env} in {PLATFORM_FILE} (the accepter then applies it)",
            )


# ---------------------------------------------------------------------------
# The estate: VPCs and routed CIDRs per transit gateway
# ---------------------------------------------------------------------------


class _NeighbourNetwork(Model):
    model_config = ConfigDict(extra="ignore")
    vpc_cidr: Cidr


class _Neighbour(Model):
    """What the estate check needs of any config in the dir (the rest is its own load's business)."""

    model_config = ConfigDict(extra="ignore")
    env: Env
    network: _NeighbourNetwork


@dataclass
class _Estate:
    """Every VPC of the config dir and every routed CIDR, one overlap index per transit gateway."""

    indexes: Mapping[str, facts.OverlapIndex]
    vpcs: Mapping[Path, facts.Interval]
    routed: frozenset[int]

    @classmethod
    def read(cls, shared: _Shared) -> _Estate:
        platform = shared.platform
        members: dict[str, list[facts.Interval]] = {}
        vpcs: dict[Path, facts.Interval] = {}
        routed: list[facts.Interval] = []
        for path in list_configs(shared.config_dir):
            neighbour = _read_neighbour(path, shared.read(path))
            entry = platform.envs.get(neighbour.env)
            if entry is None:
                raise ConfigError(
                    path,
                    "env",
                    f"{platform.path.name} has no entry for env {neighbour.env!r} (read by the estate check)",
                )
            interval = facts.Interval.of(parse_cidr(neighbour.network.vpc_cidr), _shown(path.name))
            vpcs[path] = interval
            members.setdefault(entry.transit_gateway_id, []).append(interval)
        # Envs sharing a gateway may route the same platform CIDRs: each once.
        seen: dict[str, set[str]] = {}
        for env, entry in platform.envs.items():
            for cidr in entry.routed_cidrs:
                if cidr in seen.setdefault(entry.transit_gateway_id, set()):
                    continue
                seen[entry.transit_gateway_id].add(cidr)
                net = parse_cidr(cidr)
                interval = facts.Interval.of(net, f"the platform's routed_cidrs ({env})")
                routed.append(interval)
                members.setdefault(entry.transit_gateway_id, []).append(interval)
        indexes = {tgw: facts.OverlapIndex(intervals) for tgw, intervals in members.items()}
        return cls(MappingProxyType(indexes), MappingProxyType(vpcs), frozenset(id(r) for r in routed))

    def check(self, config: ProjectConfig) -> None:
        mine = self.vpcs.get(config.path)
        if mine is None:  # not in the dir's listing (a file given by path): nothing to compare with
            return
        tgw = config.platform.transit_gateway_id
        other = self.indexes[tgw].partner(mine)
        if other is None:
            return
        if id(other) in self.routed:
            message = (
                f"{mine.net} overlaps {other.net} of {other.owner}"
                f" (transit gateway {tgw} silently drops overlapping routes)"
            )
        else:
            message = (
                f"{mine.net} overlaps {other.net} of {other.owner}"
                f" (same transit gateway {tgw}, which silently drops overlapping routes)"
            )
        raise ConfigError(config.path, "network.vpc_cidr", message)


def _shown(name: str) -> str:
    """A file name as it may appear in a message (names in a listing are not ours to trust)."""
    return name if name.isprintable() and len(name) <= 120 else echo(name)


def _read_neighbour(path: Path, document: Any) -> _Neighbour:
    """``env`` and ``network.vpc_cidr`` of a config in the dir; a file that has no valid ones is named."""
    try:
        return _Neighbour.model_validate(document)
    except ValidationError as exc:
        error = to_config_error(path, exc)
        raise ConfigError(path, error.field, f"{error.message} (read by the estate check)") from None
