"""The rehearsal: Terraform's full cycle on every synthesized stack, offline.

Per stack, in the manifest's dependency order: ``init``, ``validate``,
``plan``, ``apply`` (of that plan), a second ``plan`` that must be empty;
then ``destroy`` of every stack in reverse order (``prevent_destroy`` is
lifted in the working copy only, or Terraform would refuse, as it should
against AWS). Configs and independent stacks run in parallel (``jobs``
Terraform processes at a time, each running its commands one after
another: see terraform.Session); each stack's steps run one after another.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from algoinfra.rehearse.terraform import Diagnostic, Result, Session, Terraform, install
from algoinfra.rehearse.workspace import Workspace, find_configs

INPUT = ("-input=false", "-no-color")


@dataclass
class StackReport:
    """What happened to one stack: resource counts from Terraform's change summaries, and time spent."""

    config: str
    stack: str
    planned: int = 0
    applied: int = 0
    destroyed: int = 0
    seconds: float = 0.0
    prevent_destroy_lifted: int = 0

    def line(self) -> str:
        lifted = f"  (prevent_destroy lifted on {self.prevent_destroy_lifted})" if self.prevent_destroy_lifted else ""
        return (
            f"{self.config:<28} {self.stack:<28} planned {self.planned:>3}  applied {self.applied:>3}  "
            f"destroyed {self.destroyed:>3}  {self.seconds:6.1f} s{lifted}"
        )


@dataclass(frozen=True)
class Failure:
    """A stack Terraform rejected: the step and Terraform's own diagnostics (file and line in the synthesized dir)."""

    config: str
    stack: str
    step: str
    diagnostics: tuple[Diagnostic, ...]
    message: str = ""

    def lines(self) -> list[str]:
        head = f"{self.config}/{self.stack}: terraform {self.step}"
        if not self.diagnostics:
            return [f"{head}: {self.message}"]
        return [f"{head}: {d}" for d in self.diagnostics]


class RehearsalFailed(Exception):
    """At least one stack failed; ``failures`` say which and why."""

    def __init__(self, failures: Sequence[Failure], reports: Sequence[StackReport] = ()) -> None:
        self.failures = list(failures)
        self.reports = list(reports)
        super().__init__("\n".join(line for f in self.failures for line in f.lines()))


class _StepFailed(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


@dataclass
class _Config:
    name: str
    workspace: Workspace
    reports: dict[str, StackReport] = field(default_factory=dict)


class Rehearsal:
    """Rehearse synthesized configs with one :class:`Terraform` (stand-in installed) in ``work``."""

    def __init__(self, terraform: Terraform, work: Path, *, jobs: int = 2) -> None:
        self.terraform = terraform
        self.work = work
        self.jobs = max(1, jobs)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._cancelled = threading.Event()
        self._sessions: list[Session] = []

    def run(self, outdir: Path, *, report: Callable[[str], None] | None = None) -> list[StackReport]:
        """Rehearse every config under ``outdir``; raise :class:`RehearsalFailed` naming each failed stack."""
        configs = []
        dirs = find_configs(outdir)
        for i, src in enumerate(dirs):
            name = src.name if src != outdir or len(dirs) > 1 else outdir.absolute().name
            base = self.work / f"{i:02d}-{name}"
            configs.append(_Config(name, Workspace.create(src, base / "copy", base / "state")))
        try:
            return self._schedule(configs, report or (lambda _line: None))
        finally:
            for session in self._sessions:
                session.close()
            self._sessions.clear()

    # The scheduler: "up" of a stack (init..second plan) after the up of what it depends on;
    # "down" (destroy) after every up of its config and the down of every stack depending on it.
    def _schedule(self, configs: list[_Config], report: Callable[[str], None]) -> list[StackReport]:
        done: set[tuple[str, int, str]] = set()
        started: set[tuple[str, int, str]] = set()
        failures: list[Failure] = []
        failed: set[int] = set()  # a failed config schedules nothing more; the others go on
        running: dict[Future[None], tuple[str, int, str]] = {}

        def ready() -> list[tuple[str, int, str]]:
            out = []
            for i, cfg in enumerate(configs):
                ws = cfg.workspace
                all_up = all(("up", i, s) in done for s in ws.deps)
                for stack in [] if i in failed else ws.order:
                    if all(("up", i, d) in done for d in ws.deps[stack]):
                        out.append(("up", i, stack))
                    if all_up and all(("down", i, d) in done for d in ws.dependents(stack)):
                        out.append(("down", i, stack))
            return [task for task in out if task not in started]

        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            try:
                while True:
                    for task in ready()[: self.jobs - len(running)]:
                        started.add(task)
                        running[pool.submit(self._task, configs, task, report)] = task
                    if not running:
                        break
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        task = running.pop(fut)
                        exc = fut.exception()
                        if isinstance(exc, _StepFailed):
                            failures.append(exc.failure)
                            failed.add(task[1])
                        elif exc is not None:
                            raise exc
                        else:
                            done.add(task)
            except BaseException:
                self._cancelled.set()  # Ctrl-C, SIGTERM or a bug: running tasks stop before their next step
                raise
        reports = [cfg.reports[s] for cfg in configs for s in cfg.workspace.order if s in cfg.reports]
        if failures:
            raise RehearsalFailed(failures, reports)
        return reports

    def _task(self, configs: list[_Config], task: tuple[str, int, str], report: Callable[[str], None]) -> None:
        phase, i, stack = task
        cfg = configs[i]
        with self._lock:
            rep = cfg.reports.setdefault(stack, StackReport(cfg.name, stack))
        start = time.monotonic()
        try:
            if phase == "up":
                self._up(cfg, stack, rep)
            else:
                self._down(cfg, stack, rep)
        finally:
            rep.seconds += time.monotonic() - start
        if phase == "down":
            report(rep.line())

    def _session(self) -> Session:
        """This worker thread's Terraform process (one per thread: commands -chdir their process)."""
        session: Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = self.terraform.session()
            with self._lock:
                self._sessions.append(session)
        return session

    def _step(self, cfg: _Config, stack: str, step: str, *args: str, ok: Sequence[int] = (0,)) -> Result:
        if self._cancelled.is_set():
            raise _StepFailed(Failure(cfg.name, stack, step, (), "cancelled"))
        result = self._session().run(*args, cwd=cfg.workspace.stack_dir(stack))
        if result.returncode not in ok or result.errors:
            diags = tuple(self._locate(cfg, stack, d) for d in result.errors)
            raise _StepFailed(Failure(cfg.name, stack, step, diags, result.describe()))
        return result

    def _locate(self, cfg: _Config, stack: str, diag: Diagnostic) -> Diagnostic:
        """The diagnostic with its file named as in the synthesized dir."""
        if not diag.filename:
            return diag
        path = cfg.workspace.source_file(stack, diag.filename)
        if path.is_relative_to(Path.cwd()):
            path = path.relative_to(Path.cwd())  # cdktf.out/stacks/<id>/cdk.tf.json, as people typed it
        return Diagnostic(diag.severity, diag.summary, diag.detail, str(path), diag.line, diag.address)

    def _up(self, cfg: _Config, stack: str, rep: StackReport) -> None:
        self._step(cfg, stack, "init", "init", *INPUT, "-json")
        self._step(cfg, stack, "validate", "validate", "-no-color", "-json")
        plan = self._step(cfg, stack, "plan", "plan", *INPUT, "-json", "-out=tfplan")
        rep.planned = _count(plan, "add", "change", "remove", "import")
        applied = self._step(cfg, stack, "apply", "apply", *INPUT, "-json", "-auto-approve", "tfplan")
        rep.applied = _count(applied, "add", "change", "import")
        again = self._step(cfg, stack, "plan (second)", "plan", *INPUT, "-json", "-detailed-exitcode", ok=(0, 2))
        if again.returncode == 2:
            changes = [
                f"{m['change']['resource']['addr']} ({m['change']['action']})"
                for m in again.messages
                if m.get("type") == "planned_change"
            ]
            raise _StepFailed(
                Failure(
                    cfg.name,
                    stack,
                    "plan (second)",
                    (),
                    "the plan after apply is not empty: " + (", ".join(changes) or "output changes"),
                )
            )

    def _down(self, cfg: _Config, stack: str, rep: StackReport) -> None:
        rep.prevent_destroy_lifted = cfg.workspace.write_override(stack, lift_prevent_destroy=True)
        destroyed = self._step(cfg, stack, "destroy", "destroy", *INPUT, "-json", "-auto-approve")
        rep.destroyed = _count(destroyed, "remove")


def _count(result: Result, *keys: str) -> int:
    summary = result.change_summary()
    return sum(summary.get(k, 0) for k in keys)


def rehearse(
    outdir: Path,
    *,
    jobs: int = 2,
    report: Callable[[str], None] | None = None,
    keep: Path | None = None,
) -> list[StackReport]:
    """Rehearse every synthesized config under ``outdir`` (never modified) in a temporary directory.

    Returns one :class:`StackReport` per stack; raises :class:`RehearsalFailed`
    when Terraform reports an error. With ``keep``, work there and leave it.
    """
    if keep is not None:
        with install(keep / "standin") as tf:
            return Rehearsal(tf, keep, jobs=jobs).run(outdir, report=report)
    work = Path(tempfile.mkdtemp(prefix="algoinfra-rehearse-"))
    try:
        with install(work / "standin") as tf:
            return Rehearsal(tf, work, jobs=jobs).run(outdir, report=report)
    finally:
        shutil.rmtree(work, ignore_errors=True)
