"""Synthesize configs into an out dir, all or nothing."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from algoinfra.config import ProjectConfig

MANIFEST = "manifest.json"


def synthesize(
    configs: Sequence[ProjectConfig],
    outdir: Path,
    *,
    build: Callable[[ProjectConfig, Path], None],
    per_config_dirs: bool,
) -> list[Path]:
    """Run ``build(config, dir)`` for every config in a temporary dir, then move the files into ``outdir``.

    A failure while building leaves ``outdir`` untouched. Files that synthesis
    does not produce (``.terraform/``, lock files, stacks of an earlier synth)
    stay, as with cdktf's own synth: the cdktf CLI and ``terraform init`` rely
    on them. Each manifest is moved last, so it never names a missing stack.
    With ``per_config_dirs`` each config goes to ``<outdir>/<project>-<env>/``.
    """
    outdir = outdir.absolute()
    outdir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.", dir=outdir.parent))
    try:
        targets = []
        for cfg in configs:
            target = tmp / cfg.key if per_config_dirs else tmp
            build(cfg, target)
            targets.append(outdir / cfg.key if per_config_dirs else outdir)
        files = sorted((p for p in tmp.rglob("*") if p.is_file()), key=lambda p: (p.name == MANIFEST, str(p)))
        for src in files:
            dst = outdir / src.relative_to(tmp)
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return targets
