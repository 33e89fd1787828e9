"""``python main.py --help``: the variables, the flags, the stacks in deploy order, where configs live.

Fast on purpose (no provider bindings): the stack ids come from the source of
``stacks/app.py`` (``STACK_IDS``) and of each stack module (``STACK_ID``), read
with ``ast``, because importing them loads the bindings (seconds). A test checks
the result against the imported ``stacks.app.STACK_IDS``.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path

from algoinfra import config as cfg

ROOT = Path(__file__).resolve().parent.parent
STACKS_DIR = ROOT / "stacks"
HELP_FLAGS = ("-h", "--help")

# Every variable main.py reads: (what, default).
VARIABLES = {
    "Project": ("project name, project-<name>", "project-sample"),
    "Env": ("dev | staging | production", "dev"),
    "REGION": ("AWS region; must equal the config's region", "ap-northeast-1"),
    "INFRA_CONFIG_DIR": ("the directory of the configs", "configs/ of the repository"),
    "CDKTF_OUTDIR": ("where the stacks are written; the cdktf CLI sets it", "cdktf.out/ of the repository"),
    "ALGOINFRA_BINDINGS": ("'plain': the plain provider import (benchmarks)", "the fast import"),
    "ALGOINFRA_CDK": ("'terrain': build with CDK Terrain (.venv-terrain; see README)", "cdktf"),
}

# Every flag of main.py.
FLAGS = {
    "--all-configs": "every config of the config dir, each into <outdir>/<project>-<env>/",
    "--cost": "idle cost per month of the selected config (of every config when neither "
    "Project nor Env is set); writes nothing",
}

STACK_NOTES = {
    "terraform-state": "the state bucket and lock table; once for the estate, local state",
    "account-baseline": "once per account and region; not synthesized when the account's baseline is off",
}


def stack_ids(stacks_dir: Path = STACKS_DIR) -> tuple[str, ...]:
    """``stacks.app.STACK_IDS`` (deploy order), read from the source without importing it."""
    app = ast.parse((stacks_dir / "app.py").read_text(encoding="utf-8"))
    for node in app.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Tuple):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "STACK_IDS" for t in targets):
                return tuple(_stack_id(stacks_dir, element) for element in node.value.elts)
    raise ValueError(f"{stacks_dir / 'app.py'}: no STACK_IDS tuple")


def _stack_id(stacks_dir: Path, element: ast.expr) -> str:
    """``module.STACK_ID`` -> the string assigned to ``STACK_ID`` in ``stacks/<module>.py``."""
    if not (isinstance(element, ast.Attribute) and element.attr == "STACK_ID" and isinstance(element.value, ast.Name)):
        raise ValueError(f"STACK_IDS: expected <module>.STACK_ID, got {ast.unparse(element)}")
    module = ast.parse((stacks_dir / f"{element.value.id}.py").read_text(encoding="utf-8"))
    for node in module.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "STACK_ID" for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    raise ValueError(f"stacks/{element.value.id}.py: no STACK_ID string")


def _configs(config_dir: Path) -> list[str]:
    """``project  env env ...`` for every project config in the dir (nothing if it cannot be read)."""
    by_project: dict[str, list[str]] = {}
    try:
        paths = cfg.list_configs(config_dir)
    except OSError:
        return []
    for path in paths:
        project, _, env = path.name.removesuffix(cfg.CONFIG_SUFFIX).rpartition("-")
        by_project.setdefault(project, []).append(env)
    order = {env: i for i, env in enumerate(cfg.ENVS)}
    return [
        f"  {project:<28} {' '.join(sorted(envs, key=lambda e: order.get(e, len(order))))}"
        for project, envs in sorted(by_project.items())
    ]


def usage(*, flags: Sequence[str], config_dir: Path) -> str:
    """The help text; ``flags`` are main.py's own, so one without a description shows up as such."""
    try:
        ids: Sequence[str] = stack_ids()
    except (OSError, SyntaxError, ValueError) as exc:
        ids = [f"(could not read stacks/app.py: {exc})"]
    width = max(len(name) for name in [*VARIABLES, *flags, "-h, --help"]) + 2
    lines = [
        "usage: python main.py [--all-configs | --cost | -h]",
        "       npx cdktf synth | list | diff <stack> | deploy <stack>... | destroy <stack>...  (runs main.py)",
        "",
        "Synthesizes the Terraform JSON stacks of one project config (Project, Env) into the out dir.",
        "Every input is checked first: a mistake is one line 'error: <file>: <field>: <message>', exit 2.",
        "",
        "variables:",
        *(f"  {name:<{width}}{what} (default: {default})" for name, (what, default) in VARIABLES.items()),
        "",
        "flags:",
        *(f"  {flag:<{width}}{FLAGS.get(flag, '(undocumented)')}" for flag in flags),
        f"  {'-h, --help':<{width}}this text",
        "",
        "stacks, in deploy order (npx cdktf deploy <id>; make plan previews them):",
        *(f"  {sid:<28}{STACK_NOTES.get(sid, '')}".rstrip() for sid in ids),
        "",
        f"configs: {config_dir}/",
        f"  {cfg.PLATFORM_FILE} (the shared platform) and <project>-<env>{cfg.CONFIG_SUFFIX} per project and env:",
        *(_configs(config_dir) or ["  (none found)"]),
        "",
        "more: make help (every make target), README.md, docs/runbook.ja.md",
    ]
    return "\n".join(lines) + "\n"
