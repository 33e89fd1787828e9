"""Entry point of the CDKTF app (cdktf.json runs it): the only place that reads the environment.

  Project      project name               (default project-sample)
  Env          dev | staging | production (default dev)
  REGION       must match the config      (default ap-northeast-1)
  INFRA_CONFIG_DIR                        (default configs/)
  CDKTF_OUTDIR set by the cdktf CLI       (default cdktf.out)
  ALGOINFRA_BINDINGS=plain                skip the fast provider import (benchmarks)
  ALGOINFRA_CDK  cdktf | terrain          the CDK framework (default cdktf); terrain runs on CDK
                                          Terrain and needs its Python (.venv-terrain, make setup-terrain)

``python main.py``                 synthesize the selected config into the out dir
``python main.py --all-configs``   every config, each into ``<outdir>/<project>-<env>/``
``python main.py --cost``          idle cost of the selected config, or of every
                                   config when neither Project nor Env is set
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from algoinfra.errors import ConfigError

ROOT = Path(__file__).resolve().parent
EXIT_BAD_INPUT = 2
FLAGS = ("--all-configs", "--cost")


def main(argv: list[str]) -> int:
    from algoinfra import aws_bindings
    from algoinfra import config as cfg

    env = os.environ
    unknown = [a for a in argv if a not in FLAGS]
    if unknown:
        print(f"main.py: unknown argument {unknown[0]!r} (known: {', '.join(FLAGS)})", file=sys.stderr)
        return EXIT_BAD_INPUT
    framework = env.get("ALGOINFRA_CDK") or aws_bindings.FRAMEWORKS[0]
    if framework not in aws_bindings.FRAMEWORKS:
        print(f"error: ALGOINFRA_CDK: {framework!r} is none of {', '.join(aws_bindings.FRAMEWORKS)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    cost = "--cost" in argv
    every = "--all-configs" in argv or (cost and not (env.get("Project") or env.get("Env")))
    config_dir = Path(env.get("INFRA_CONFIG_DIR") or ROOT / "configs")
    outdir = Path(env.get("CDKTF_OUTDIR") or ROOT / "cdktf.out")
    backend = ROOT / "backend.tf.json"
    try:
        # Everything is validated before the provider bindings are imported.
        if every:
            configs = cfg.load_all(config_dir, backend_path=backend)
        else:
            project, env_name = env.get("Project") or "project-sample", env.get("Env") or "dev"
            region = env.get("REGION") or "ap-northeast-1"
            configs = [cfg.load_project(config_dir, project, env_name, region=region, backend_path=backend)]
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT

    try:
        aws_bindings.load(fast=env.get("ALGOINFRA_BINDINGS") != "plain", framework=framework)
    except aws_bindings.FrameworkError as exc:
        print(f"error: ALGOINFRA_CDK={framework}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from algoinfra.synth import synthesize
    from stacks.app import synth_config

    if not cost:
        synthesize(configs, outdir, build=synth_config, per_config_dirs=every)
        return 0
    from algoinfra import cost as cost_report

    with tempfile.TemporaryDirectory(prefix="algoinfra-cost-") as tmp:
        dirs = synthesize(configs, Path(tmp) / "out", build=synth_config, per_config_dirs=True)
        text, estimates = cost_report.report(dirs)
    print(text, end="")
    return 1 if any(e.unknown for e in estimates) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
