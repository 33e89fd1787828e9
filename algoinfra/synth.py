"""Synthesize configs into an out dir, all or nothing, never reusing another selection's working dir."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from algoinfra.config import ProjectConfig
from algoinfra.errors import ConfigError

MANIFEST = "manifest.json"
# What a synth writes into a stack dir: JSON by default, HCL with `cdktf synth --hcl`.
SYNTH_OUTPUTS = ("cdk.tf.json", "cdk.tf")
# Terraform's record of the backend a working dir was initialized with.
BACKEND_RECORD = Path(".terraform") / "terraform.tfstate"


class SynthError(ConfigError):
    """Synthesis would lose something the out dir holds; nothing was changed."""


def synthesize(
    configs: Sequence[ProjectConfig],
    outdir: Path,
    *,
    build: Callable[[ProjectConfig, Path], None],
    per_config_dirs: bool,
    report: Callable[[str], None] | None = None,
) -> list[Path]:
    """Run ``build(config, dir)`` for every config in a temporary dir, then move the files into ``outdir``.

    A failure while building leaves ``outdir`` untouched. In each stack dir the
    files of the other output format (``cdk.tf`` next to ``cdk.tf.json``) go,
    and so do the stack dirs (dirs holding ``cdk.tf.json`` or ``cdk.tf``) that
    this synth no longer produces: what is left is this synth, and nothing
    a synth did not write is deleted. A stack's Terraform working dir (``.terraform/``)
    stays when it serves the same backend (``terraform init`` is not repeated);
    when it was initialized with other backend settings (another project, env
    or region's key, another bucket, role or lock table), it is removed, so
    Terraform never reports a changed backend and never offers to migrate one
    selection's state into another's key. The remote state itself is never touched. Each
    manifest is moved last, so it never names a missing stack. With
    ``per_config_dirs`` each config goes to ``<outdir>/<project>-<env>/``.
    """
    # stdout: the cdktf CLI shows the app's stdout, and its stderr only on failure.
    say = report or (lambda line: print(line, flush=True))
    outdir = outdir.absolute()
    outdir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.", dir=outdir.parent))
    try:
        roots: list[tuple[Path, Path]] = []  # (built root, target root)
        for cfg in configs:
            built = tmp / cfg.key if per_config_dirs else tmp
            build(cfg, built)
            roots.append((built, outdir / cfg.key if per_config_dirs else outdir))
        # Decide everything before changing anything.
        removals = [r for built, target in roots for r in _stale(built, target, outdir.parent)]
        for path, _ in removals:
            _refuse_if_state(path)
        for path, why in removals:
            say(f"synth: {why}")
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        files = sorted((p for p in tmp.rglob("*") if p.is_file() or p.is_symlink()), key=_manifest_last)
        for src in files:
            dst = outdir / src.relative_to(tmp)
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [target for _, target in roots]


def _manifest_last(path: Path) -> tuple[bool, str]:
    return (path.name == MANIFEST, str(path))


def _stale(built: Path, target: Path, base: Path) -> list[tuple[Path, str]]:
    """What in ``target/stacks`` this synth must remove, each with the reason (paths shown from ``base``)."""
    stacks = target / "stacks"
    if not stacks.is_dir():
        return []
    fresh = {p.name: p for p in (built / "stacks").iterdir() if p.is_dir()}
    out: list[tuple[Path, str]] = []
    for old in sorted(stacks.iterdir()):
        rel = old.relative_to(base)
        if old.name not in fresh:
            # Only a stack dir a synth wrote; anything else is not ours to delete (main.py also refuses
            # an out dir it did not make).
            if old.is_dir() and not old.is_symlink() and any((old / n).exists() for n in SYNTH_OUTPUTS):
                out.append((old, f"removed {rel}: not a stack of this synth"))
            continue
        for name in SYNTH_OUTPUTS:
            if (old / name).exists() and not (fresh[old.name] / name).exists():
                out.append((old / name, f"removed {rel / name}: this synth writes {_written(fresh[old.name])}"))
        previous = _recorded_backend(old)
        wanted = _declared_backend(fresh[old.name])
        if previous is not None and wanted is not None and not _same_backend(previous, wanted):
            out.append(
                (
                    old / ".terraform",
                    f"removed {rel / '.terraform'}: it was initialized for {_describe(previous)}, this synth uses"
                    f" {_describe(wanted)} (no state was moved; the next `terraform init` starts clean)",
                )
            )
    return out


def _written(stack_dir: Path) -> str:
    return " and ".join(n for n in SYNTH_OUTPUTS if (stack_dir / n).exists()) or "nothing"


Backend = tuple[str, dict[str, Any]]


def _recorded_backend(stack_dir: Path) -> Backend | None:
    """The backend ``terraform init`` recorded in this working dir, if any."""
    try:
        record = json.loads((stack_dir / BACKEND_RECORD).read_text(encoding="utf-8"))
        return str(record["backend"]["type"]), dict(record["backend"].get("config") or {})
    except (OSError, ValueError, KeyError, TypeError):
        # No working dir, or one Terraform never finished initializing: nothing to protect.
        return None


def _declared_backend(stack_dir: Path) -> Backend | None:
    try:
        backend = json.loads((stack_dir / "cdk.tf.json").read_text(encoding="utf-8"))["terraform"]["backend"]
        ((kind, settings),) = backend.items()
    except (OSError, ValueError, KeyError):
        return None  # HCL output: compared by the next JSON synth
    return str(kind), dict(settings)


def _same_backend(recorded: Backend, declared: Backend) -> bool:
    """Any difference in a setting we declare (state key, bucket, role, lock table...) means a fresh init."""
    return recorded[0] == declared[0] and all(recorded[1].get(k) == v for k, v in declared[1].items())


def _describe(backend: Backend) -> str:
    kind, settings = backend
    if kind == "s3":
        return f"s3://{settings.get('bucket')}/{settings.get('key')}"
    return f"the {kind} backend"


def _refuse_if_state(path: Path) -> None:
    """A real local state file is never deleted by a synth (the bootstrap's is a symlink to elsewhere)."""
    candidates = [path] if path.is_file() else list(path.rglob("*.tfstate")) if path.is_dir() else []
    for f in candidates:
        if f.name.endswith(".tfstate") and f.is_file() and not f.is_symlink() and f.parent.name != ".terraform":
            raise SynthError(f, "", "holds Terraform state; move it somewhere safe before synthesizing again")
