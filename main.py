"""Entry point of the CDKTF app (cdktf.json runs it): the only place that reads the environment.

  Project      project name               (default project-sample)
  Env          dev | staging | production (default dev)
  REGION       must match the config      (default ap-northeast-1)
  INFRA_CONFIG_DIR                        (default configs/)
  CDKTF_OUTDIR set by the cdktf CLI       (default cdktf.out)

``python main.py --all-configs`` synthesizes every config in the config dir,
each into ``<outdir>/<project>-<env>/``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from algoinfra.errors import ConfigError

ROOT = Path(__file__).resolve().parent
EXIT_BAD_INPUT = 2


def main(argv: list[str]) -> int:
    from algoinfra import config as cfg

    env = os.environ
    config_dir = Path(env.get("INFRA_CONFIG_DIR") or ROOT / "configs")
    outdir = Path(env.get("CDKTF_OUTDIR") or ROOT / "cdktf.out")
    backend = ROOT / "backend.tf.json"
    all_configs = "--all-configs" in argv
    unknown = [a for a in argv if a != "--all-configs"]
    if unknown:
        print(f"main.py: unknown argument {unknown[0]!r} (only --all-configs)", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        # Everything is validated before the provider bindings are imported.
        if all_configs:
            configs = cfg.load_all(config_dir, backend_path=backend)
        else:
            configs = [
                cfg.load_project(
                    config_dir,
                    env.get("Project") or "project-sample",
                    env.get("Env") or "dev",
                    region=env.get("REGION") or "ap-northeast-1",
                    backend_path=backend,
                )
            ]
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT

    from algoinfra import aws_bindings

    aws_bindings.load(fast=env.get("ALGOINFRA_BINDINGS") != "plain")
    from algoinfra.synth import synthesize
    from stacks.app import synth_config

    synthesize(configs, outdir, build=synth_config, per_config_dirs=all_configs)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
