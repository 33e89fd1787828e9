"""A working copy of synthesized stacks that runs on local state, offline.

The synthesized directory is never modified: its stacks are copied (without
``.terraform/``, lock files or state), and each copy gets a
``rehearsal_override.tf.json`` beside its untouched ``cdk.tf.json`` (so
Terraform's file names and line numbers in diagnostics are the synthesized
ones). The override replaces:

- the S3 backend by a local one at ``<state>/s3/<bucket>/<key>``;
- every ``terraform_remote_state`` on S3 by a local one at the same path, so
  a stack reads exactly the state its producer wrote;
- a local backend or remote state (the bootstrap stack) by a path under
  ``<state>/local/``, never outside the working copy.

Several copies that share one state directory see each other's state, as
stacks sharing one S3 bucket do: that is how a scenario applies synthesized
dir A and then plans dir B against it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
STACK_FILE = "cdk.tf.json"
OVERRIDE_FILE = "rehearsal_override.tf.json"
_SKIP = shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate", "*.tfstate.*", "tfplan", "*.tfplan")


class WorkspaceError(Exception):
    """The synthesized directory cannot be rehearsed (no manifest, a missing stack, a dependency cycle)."""


def find_configs(outdir: Path) -> list[Path]:
    """The synthesized config dirs under ``outdir``: itself (one config) or ``outdir/<project>-<env>/`` (several)."""
    if (outdir / MANIFEST).is_file():
        return [outdir]
    found = sorted(p.parent for p in outdir.glob(f"*/{MANIFEST}"))
    if not found:
        raise WorkspaceError(f"{outdir}: no {MANIFEST} here nor in its subdirectories (run `make synth` first)")
    return found


def read_manifest(config_dir: Path) -> dict[str, list[str]]:
    """Stack id -> the stack ids it depends on, from cdktf's manifest."""
    path = config_dir / MANIFEST
    try:
        stacks = json.loads(path.read_text())["stacks"]
    except (OSError, ValueError, KeyError) as exc:
        raise WorkspaceError(f"{path}: cannot read the stacks: {exc}") from exc
    deps = {name: list(s.get("dependencies") or []) for name, s in stacks.items()}
    for name in deps:
        if not (config_dir / "stacks" / name / STACK_FILE).is_file():
            raise WorkspaceError(f"{config_dir / 'stacks' / name / STACK_FILE}: listed in {MANIFEST} but missing")
    return deps


def dependency_order(deps: Mapping[str, Iterable[str]]) -> list[str]:
    """Stacks so that each comes after what it depends on; ties by name, for a stable order."""
    order: list[str] = []
    done: set[str] = set()
    pending = {name: set(d) & set(deps) for name, d in deps.items()}
    while pending:
        ready = sorted(name for name, d in pending.items() if d <= done)
        if not ready:
            raise WorkspaceError(f"dependency cycle among stacks: {', '.join(sorted(pending))}")
        for name in ready:
            order.append(name)
            done.add(name)
            del pending[name]
    return order


@dataclass(frozen=True)
class Workspace:
    """One synthesized config copied to ``root`` with its state under ``state``."""

    source: Path
    root: Path
    state: Path
    deps: dict[str, list[str]]

    @property
    def order(self) -> list[str]:
        return dependency_order(self.deps)

    def stack_dir(self, stack: str) -> Path:
        return self.root / "stacks" / stack

    def source_file(self, stack: str, filename: str) -> Path:
        """The synthesized file a diagnostic names (``cdk.tf.json``), or the override in the copy."""
        original = self.source / "stacks" / stack / filename
        return original if original.is_file() else self.stack_dir(stack) / filename

    def dependents(self, stack: str) -> list[str]:
        return sorted(name for name, d in self.deps.items() if stack in d)

    @classmethod
    def create(cls, source: Path, root: Path, state: Path) -> Workspace:
        """Copy the synthesized config ``source`` to ``root`` and point every state at ``state``."""
        source, root, state = source.absolute(), root.absolute(), state.absolute()
        deps = read_manifest(source)
        if root.exists():
            raise WorkspaceError(f"{root}: already exists")
        root.mkdir(parents=True)
        shutil.copy2(source / MANIFEST, root / MANIFEST)
        ws = cls(source=source, root=root, state=state, deps=deps)
        for stack in deps:
            shutil.copytree(source / "stacks" / stack, ws.stack_dir(stack), ignore=_SKIP)
            ws.write_override(stack)
        return ws

    def stack_json(self, stack: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.stack_dir(stack) / STACK_FILE).read_text())
        return data

    def write_override(self, stack: str, *, lift_prevent_destroy: bool = False) -> int:
        """(Re)write the stack's override; with ``lift_prevent_destroy`` also set every
        ``lifecycle.prevent_destroy`` to false (for the rehearsal's destroy). Returns how many were lifted."""
        data = self.stack_json(stack)
        override: dict[str, Any] = {}
        backends = data.get("terraform", {}).get("backend", {})
        for kind, config in backends.items():
            override["terraform"] = {"backend": {"local": {"path": str(self._state_path(stack, kind, config))}}}
        remote = {}
        for name, body in data.get("data", {}).get("terraform_remote_state", {}).items():
            kind, config = body.get("backend"), body.get("config") or {}
            if isinstance(kind, str) and isinstance(config, dict):
                remote[name] = {"backend": "local", "config": {"path": str(self._state_path(stack, kind, config))}}
        if remote:
            override["data"] = {"terraform_remote_state": remote}
        lifted = 0
        if lift_prevent_destroy:
            resources: dict[str, dict[str, Any]] = {}
            for rtype, bodies in data.get("resource", {}).items():
                for name, body in bodies.items():
                    if (body.get("lifecycle") or {}).get("prevent_destroy") not in (None, False, "false"):
                        resources.setdefault(rtype, {})[name] = {"lifecycle": {"prevent_destroy": False}}
                        lifted += 1
            if resources:
                override["resource"] = resources
        (self.stack_dir(stack) / OVERRIDE_FILE).write_text(json.dumps(override, indent=2, sort_keys=True) + "\n")
        return lifted

    def _state_path(self, stack: str, kind: str, config: Mapping[str, Any]) -> Path:
        if kind == "s3" and isinstance(config.get("bucket"), str) and isinstance(config.get("key"), str):
            return self.state / "s3" / str(config["bucket"]) / _safe(str(config["key"]))
        if kind == "local":
            relative = os.path.normpath(os.path.join("stacks", stack, str(config.get("path") or "terraform.tfstate")))
            return self.state / "local" / _safe(relative)
        return self.state / kind / f"{stack}.tfstate"


def _safe(relative: str) -> str:
    """A relative path that stays inside its parent ("../x" -> "_up/x")."""
    parts = [("_up" if p == ".." else p) for p in Path(relative).parts if p not in ("", ".", "/")]
    return str(Path(*parts)) if parts else "terraform.tfstate"
