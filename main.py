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
``python main.py --help``          all of this, with the stacks and the configs found

Every variable is checked before anything is built from it, and every input
before the provider bindings are imported: bad input is one line on stderr,
exit status 2, nothing written.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from algoinfra.errors import ConfigError, VariableError, shown, shown_path
from algoinfra.inputs import os_problem
from algoinfra.naming import PROJECT_RE

if TYPE_CHECKING:
    from algoinfra.config import ProjectConfig

ROOT = Path(__file__).resolve().parent
EXIT_BAD_INPUT = 2
FLAGS = ("--all-configs", "--cost")
VARIABLES = ("Project", "Env", "REGION", "INFRA_CONFIG_DIR", "CDKTF_OUTDIR")
DEFAULT_PROJECT, DEFAULT_ENV, DEFAULT_REGION = "project-sample", "dev", "ap-northeast-1"

# Names derived from the project (buckets) allow 63 characters; the config
# checks each one, this keeps file names short enough for every file system.
PROJECT_MAX = 63
_REGION_SHAPE = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}\Z")
# synth stages into ".<name>.XXXXXXXX" next to the out dir, and writes
# <key>/stacks/<stack id>/cdk.tf.json below it.
_NAME_MAX = 255
_STAGING_EXTRA = len("..XXXXXXXX")
_BELOW_OUTDIR = 256
_PATH_MAX = 4096
_KERNEL_FILE_SYSTEMS = ("/proc", "/sys", "/dev")


@dataclass(frozen=True)
class Selection:
    """What the environment and the arguments select; every value already checked."""

    project: str
    env: str
    region: str
    every: bool  # every config in the config dir
    cost: bool
    config_dir: Path
    outdir: Path


def print_help(argv: list[str]) -> bool:
    """``-h``/``--help`` anywhere: print the usage (fast, no provider bindings) and say so."""
    from algoinfra.usage import HELP_FLAGS, usage

    if not any(a in HELP_FLAGS for a in argv):
        return False
    print(usage(flags=FLAGS, config_dir=Path(os.environ.get("INFRA_CONFIG_DIR") or ROOT / "configs")), end="")
    return True


def main(argv: list[str]) -> int:
    if print_help(argv):
        return 0
    unknown = [a for a in argv if a not in FLAGS]
    if unknown:
        print(
            f"error: main.py: unknown argument {shown(unknown[0])} (known: {', '.join(FLAGS)}, --help)", file=sys.stderr
        )
        return EXIT_BAD_INPUT
    from algoinfra import aws_bindings
    from algoinfra import config as cfg

    framework = os.environ.get("ALGOINFRA_CDK") or aws_bindings.FRAMEWORKS[0]
    if framework not in aws_bindings.FRAMEWORKS:
        print(
            f"error: ALGOINFRA_CDK: {shown(framework)} is none of {', '.join(aws_bindings.FRAMEWORKS)}", file=sys.stderr
        )
        return EXIT_BAD_INPUT
    backend = ROOT / "backend.tf.json"
    try:
        sel = select(os.environ, argv, envs=cfg.ENVS)
        if not sel.cost:
            check_outdir(sel.outdir, per_config_dirs=sel.every, config_dir=sel.config_dir)
        # Everything is validated before the provider bindings are imported.
        if sel.every:
            configs = cfg.load_all(sel.config_dir, backend_path=backend)
        else:
            configs = [cfg.load_project(sel.config_dir, sel.project, sel.env, region=sel.region, backend_path=backend)]
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    # stdout: the cdktf CLI shows the app's stdout, and its stderr only on failure.
    # With --cost, stdout is the report, so the lines go to stderr.
    for config in configs:
        if sel.cost:
            print(selection_line(config, None), file=sys.stderr, flush=True)
        else:
            print(selection_line(config, sel.outdir / config.key if sel.every else sel.outdir), flush=True)
        if not config.account.has_github_credential:
            print(no_image_build_line(config), file=sys.stderr if sel.cost else sys.stdout, flush=True)

    try:
        aws_bindings.load(fast=os.environ.get("ALGOINFRA_BINDINGS") != "plain", framework=framework)
    except aws_bindings.FrameworkError as exc:
        print(f"error: ALGOINFRA_CDK={framework}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from algoinfra.synth import synthesize
    from stacks.app import synth_config

    if not sel.cost:
        try:
            synthesize(configs, sel.outdir, build=synth_config, per_config_dirs=sel.every)
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        return 0
    from algoinfra import cost as cost_report

    with tempfile.TemporaryDirectory(prefix="algoinfra-cost-") as tmp:
        dirs = synthesize(configs, Path(tmp) / "out", build=synth_config, per_config_dirs=True)
        text, estimates = cost_report.report(dirs)
    print(text, end="")
    return 1 if any(e.unknown for e in estimates) else 0


def selection_line(c: ProjectConfig, outdir: Path | None) -> str:
    """``synth: project-foo dev ap-northeast-1 account 200000000001 (configs/….yml) -> cdktf.out``:
    what is about to be built, so a wrong selection is seen before anything happens."""
    what = f"{c.project} {c.env} {c.region} account {c.account_id} ({shown_path(c.path)})"
    return f"synth: {what} -> {shown_path(outdir)}" if outdir is not None else f"cost: {what}"


def no_image_build_line(c: ProjectConfig) -> str:
    from algoinfra.config import ACCOUNTS_FILE

    return (
        f"note: {c.key}: algorithm-service has no image build (CodeBuild) while"
        f" {shown_path(c.path.parent / ACCOUNTS_FILE)}:"
        f" accounts.{c.account_id}.baseline.codebuild_source_credential is false (the account has no GitHub"
        " credential yet); set it to true once the token secret has its value, deploy account-baseline, then"
        " algorithm-service"
    )


def select(environ: Mapping[str, str], argv: list[str], *, envs: tuple[str, ...]) -> Selection:
    """The selection from the environment, each variable checked; raises :class:`VariableError`."""
    check_spellings(environ)
    for name in VARIABLES:
        if name in environ and not environ[name]:
            # Project=$PROJ with PROJ unset would silently build the default, like $ENV did.
            raise VariableError(name, "is set but empty: give it a value, or unset it for the default")
    cost = "--cost" in argv
    project = environ.get("Project") or DEFAULT_PROJECT
    env = environ.get("Env") or DEFAULT_ENV
    region = environ.get("REGION") or DEFAULT_REGION
    if not (len(project) <= PROJECT_MAX and _project_shape(project)):
        raise VariableError(
            "Project",
            f"must be 'project-' followed by lowercase letters, digits and single hyphens,"
            f" at most {PROJECT_MAX} characters; got {shown(project)}",
        )
    if env not in envs:
        raise VariableError("Env", f"unknown env {shown(env)}; use one of {', '.join(envs)}")
    if not _REGION_SHAPE.match(region):
        raise VariableError("REGION", f"must be an AWS region such as ap-northeast-1, got {shown(region)}")
    config_dir = Path(environ.get("INFRA_CONFIG_DIR") or ROOT / "configs")
    check_config_dir(config_dir)
    outdir = Path(environ.get("CDKTF_OUTDIR") or ROOT / "cdktf.out")
    every = "--all-configs" in argv or (cost and not (environ.get("Project") or environ.get("Env")))
    return Selection(project, env, region, every, cost, config_dir, outdir)


def _project_shape(project: str) -> bool:
    # fullmatch: "$" alone would accept a trailing newline.
    return bool(PROJECT_RE.fullmatch(project))


def check_spellings(environ: Mapping[str, str]) -> None:
    """``PROJECT``, ``ENV``, ``region``… set while the right spelling is not: refused.

    The old runbook wrote ``$ENV``; without this, ``ENV=production`` would
    silently synthesize the default ``dev``. A wrong spelling next to the right
    one (``ENV`` set by some other tool, ``Env`` set for us) is left alone.
    """
    for name in sorted(environ):
        for right in VARIABLES:
            if name != right and name.lower() == right.lower() and environ[name] and not environ.get(right):
                raise VariableError(
                    name,
                    f"is set ({shown(environ[name], 40)}) but this tool reads {right}, and case matters:"
                    f" set {right} instead (the old runbook wrote $ENV), or set both",
                )


def check_config_dir(config_dir: Path) -> None:
    try:
        st = os.stat(config_dir)
    except OSError as exc:
        raise VariableError("INFRA_CONFIG_DIR", f"{shown_path(config_dir)}: {os_problem(exc)}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise VariableError("INFRA_CONFIG_DIR", f"{shown_path(config_dir)} is not a directory")
    if not os.access(config_dir, os.R_OK | os.X_OK):
        raise VariableError("INFRA_CONFIG_DIR", f"{shown_path(config_dir)}: permission denied")


def check_outdir(outdir: Path, *, per_config_dirs: bool, config_dir: Path | None = None) -> None:
    """Refuse an out dir that synthesis could not fill completely, or must not fill, before anything is
    built or written.

    Synthesis stages into a temporary dir next to the out dir and then moves
    files into it: the out dir (or the nearest existing parent) must be a
    writable directory on a real file system, with room for the names below it.
    Synthesis also replaces what ``stacks/`` holds, so an existing out dir must
    hold no files (empty dirs and dot entries aside) or be one a synth made
    (``manifest.json``; with ``per_config_dirs``, in each config's dir): never
    the repository, the config dir or a dir of the user's.
    """

    def refuse(message: str) -> VariableError:
        return VariableError("CDKTF_OUTDIR", f"{shown_path(outdir)}: {message}")

    absolute = Path(os.path.abspath(outdir))
    if any(len(os.fsencode(part)) > _NAME_MAX for part in absolute.parts):
        raise refuse(f"a name in the path is longer than {_NAME_MAX} bytes")
    if len(os.fsencode(absolute.name)) > _NAME_MAX - _STAGING_EXTRA:
        raise refuse(f"the name is longer than {_NAME_MAX - _STAGING_EXTRA} bytes (synth stages next to it)")
    if len(os.fsencode(str(absolute))) > _PATH_MAX - _BELOW_OUTDIR:
        raise refuse(f"the path is longer than {_PATH_MAX - _BELOW_OUTDIR} bytes (the stacks go below it)")
    real = os.path.realpath(absolute)
    for kernel in _KERNEL_FILE_SYSTEMS:
        if real == kernel or real.startswith(kernel + "/"):
            raise refuse(f"is under {kernel}, a kernel file system, not a place for files")
    try:
        st = os.stat(absolute)
    except (FileNotFoundError, NotADirectoryError):  # a parent that is a file is named below
        if os.path.lexists(absolute):
            raise refuse("is a symbolic link to nothing") from None
        st = None
    except OSError as exc:
        raise refuse(os_problem(exc)) from None
    if Path(os.path.realpath(ROOT)).is_relative_to(real):
        raise refuse("holds this repository; synthesize into a dir of its own such as cdktf.out")
    if config_dir is not None and Path(real).is_relative_to(os.path.realpath(config_dir)):
        raise refuse(f"is inside INFRA_CONFIG_DIR ({shown_path(config_dir)}); synthesize into a dir of its own")
    if st is not None:
        if not stat.S_ISDIR(st.st_mode):
            raise refuse("exists and is not a directory")
        _check_owned(absolute, per_config_dirs=per_config_dirs, refuse=refuse)
        _check_tree(absolute, absolute, depth=4 if per_config_dirs else 3, refuse=refuse)
    # The staging dir is created next to the out dir, in its nearest existing parent.
    ancestor = absolute.parent
    while True:
        try:
            st = os.stat(ancestor)
        except (FileNotFoundError, NotADirectoryError):
            if ancestor.parent == ancestor:
                raise refuse("no parent directory exists") from None
            ancestor = ancestor.parent
            continue
        except OSError as exc:
            raise refuse(f"{shown_path(ancestor)}: {os_problem(exc)}") from None
        break
    if not stat.S_ISDIR(st.st_mode):
        raise refuse(f"{shown_path(ancestor)} is not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise refuse(f"{shown_path(ancestor)} is not writable")


def _check_owned(outdir: Path, *, per_config_dirs: bool, refuse: Callable[[str], VariableError]) -> None:
    """An existing out dir is empty or a synth's: ``manifest.json`` beside whatever it holds (dot files aside)."""

    def visible(directory: Path) -> list[os.DirEntry[str]]:
        try:
            return [e for e in os.scandir(directory) if not e.name.startswith(".")]
        except OSError as exc:
            raise refuse(f"cannot be listed: {os_problem(exc)}") from None

    def holds_files(directory: Path, budget: list[int]) -> bool:
        """A file (or anything not a dir) below, dot entries aside; a huge tree counts as holding files."""
        for entry in visible(directory):
            budget[0] -= 1
            if budget[0] < 0 or not entry.is_dir(follow_symlinks=False):
                return True
            if holds_files(directory / entry.name, budget):
                return True
        return False

    def owned(directory: Path) -> bool:
        return (directory / "manifest.json").is_file() or not holds_files(directory, [1000])

    entries = visible(outdir)
    per_config = all(e.is_dir(follow_symlinks=False) and owned(outdir / e.name) for e in entries)
    if per_config_dirs:
        if (outdir / "manifest.json").is_file():
            raise refuse(
                "holds the synth of one config (manifest.json at its top); --all-configs writes a dir per config:"
                " use another out dir, or remove this one"
            )
        if per_config:
            return
    elif owned(outdir):
        return
    elif per_config:  # not empty (owned), so a dir per config, at least one with a manifest
        raise refuse(
            "holds a dir per config (a synth with --all-configs); a synth of one config writes manifest.json and"
            " stacks/ at its top: use another out dir, or remove this one"
        )
    what = "a dir per config, each with the manifest.json of a synth" if per_config_dirs else "a synth's manifest.json"
    raise refuse(
        f"holds files but not {what}: synth replaces what an out dir holds, so it writes only into a new or"
        " empty dir, or one it made"
    )


def _check_tree(root: Path, directory: Path, *, depth: int, refuse: Callable[[str], VariableError]) -> None:
    """Every existing dir synthesis moves files into must be writable (dot dirs such as ``.terraform`` are not
    touched), and ``stacks`` must be a dir."""
    where = "" if directory == root else f"{shown_path(directory.relative_to(root))} inside it "
    if not os.access(directory, os.W_OK | os.X_OK):
        raise refuse(f"{where}is not writable")
    if depth <= 1:
        return
    try:
        entries = [(e.name, e.is_dir(follow_symlinks=False)) for e in os.scandir(directory)]
    except OSError as exc:
        raise refuse(f"{where}cannot be listed: {os_problem(exc)}") from None
    for name, is_dir in sorted(entries):
        if name.startswith("."):
            continue
        if name == "stacks" and not is_dir:
            raise refuse(f"{shown_path((directory / name).relative_to(root))} inside it is not a directory")
        if is_dir:
            _check_tree(root, directory / name, depth=depth - 1, refuse=refuse)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
