"""Synthesize configs into an out dir, all or nothing."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from algoinfra.config import ProjectConfig


def synthesize(
    configs: Sequence[ProjectConfig],
    outdir: Path,
    *,
    build: Callable[[ProjectConfig, Path], None],
    per_config_dirs: bool,
) -> list[Path]:
    """Run ``build(config, dir)`` for each config into a fresh temporary dir, then swap it in.

    Nothing is left half-written: a failure leaves the previous out dir as it was.
    With ``per_config_dirs`` each config goes to ``<outdir>/<project>-<env>/``.
    """
    outdir = outdir.absolute()
    outdir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.", dir=outdir.parent))
    try:
        written = []
        for cfg in configs:
            target = tmp / cfg.key if per_config_dirs else tmp
            build(cfg, target)
            written.append(outdir / cfg.key if per_config_dirs else outdir)
        os.chmod(tmp, 0o755)
        _swap(tmp, outdir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return written


def _swap(new: Path, outdir: Path) -> None:
    old = None
    if outdir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.old.", dir=outdir.parent))
        old.rmdir()
        outdir.rename(old)
    new.rename(outdir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
