"""Scenarios: apply synthesized dir A, then plan and apply a changed synthesized dir B against A's state.

    with Scenario.start() as sc:
        sc.apply(dir_a)                                    # every stack of A, dependency order
        plan = sc.plan(dir_b, "algorithm-compute-resource")  # plan JSON against A's state
        run = sc.apply(dir_b, ["algorithm-compute-resource", "algorithm-service"])
        run.calls                                          # [ApplyCall(address, type, action, id), ...]

Every synthesized dir gets its own working copy (see workspace.py), all on
one state directory: B's stacks find A's state under the same S3 keys, as
they would in the real bucket. The provider serves the whole schema here
(B may drop a resource type that A's state holds). Applies run with
``-parallelism=1`` so the stand-in's log of ApplyResourceChange calls (in
call order) lines up one to one with Terraform's ``apply_start`` messages,
which name the address.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from algoinfra.rehearse.standin import FORCE_NEW_ENV
from algoinfra.rehearse.terraform import Result, Terraform, TerraformError, install
from algoinfra.rehearse.workspace import Workspace

INPUT = ("-input=false", "-no-color")


@dataclass(frozen=True)
class ApplyCall:
    """One ApplyResourceChange the stand-in received: ``action`` is create, update or delete."""

    address: str
    type: str
    action: str
    id: str | None


@dataclass
class ApplyRun:
    """What one :meth:`Scenario.apply` did: the calls in order, and Terraform's results per stack."""

    calls: list[ApplyCall] = field(default_factory=list)
    results: dict[str, Result] = field(default_factory=dict)

    def order(self, *addresses: str) -> list[tuple[str, str]]:
        """(address, action) of the calls on ``addresses`` (every call when none given), in order."""
        return [(c.address, c.action) for c in self.calls if not addresses or c.address in addresses]


class Scenario:
    """Synthesized dirs applied one after another on shared state (see the module docstring)."""

    def __init__(self, terraform: Terraform, work: Path) -> None:
        self.terraform = terraform
        self.work = work
        self.state = work / "state"
        self.session = terraform.session()
        self._copies: dict[Path, Workspace] = {}

    @classmethod
    @contextmanager
    def start(cls, *, force_new: Mapping[str, Sequence[str]] | None = None) -> Iterator[Scenario]:
        """A scenario in a temporary directory (stand-in installed there), removed afterwards.

        ``force_new`` adds attribute paths that force a replacement, per resource type
        (``{"aws_batch_compute_environment": ["compute_resources.instance_type"]}``): the
        stand-in cannot know them from the schema (see standin.FORCE_NEW for the built-in ones).
        """
        work = Path(tempfile.mkdtemp(prefix="algoinfra-scenario-"))
        env = {FORCE_NEW_ENV: json.dumps({k: list(v) for k, v in force_new.items()})} if force_new else None
        try:
            with install(work / "standin", env=env) as tf:
                scenario = cls(tf, work)
                try:
                    yield scenario
                finally:
                    scenario.session.close()
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def workspace(self, synthesized: Path) -> Workspace:
        """The working copy of one synthesized config dir (made on first use)."""
        key = synthesized.resolve()
        if key not in self._copies:
            root = self.work / f"copy-{len(self._copies):02d}"
            self._copies[key] = Workspace.create(synthesized, root, self.state)
        return self._copies[key]

    def _run(self, ws: Workspace, stack: str, *args: str, ok: Sequence[int] = (0,)) -> Result:
        result = self.session.run(*args, cwd=ws.stack_dir(stack))
        if result.returncode not in ok:
            raise TerraformError(result, f"{ws.source.name}/{stack}")
        return result

    def _init(self, ws: Workspace, stack: str) -> None:
        if not (ws.stack_dir(stack) / ".terraform").is_dir():
            self._run(ws, stack, "init", *INPUT, "-json")

    def plan(self, synthesized: Path, stack: str, *args: str) -> dict[str, Any]:
        """``terraform plan`` of one stack against the shared state; its plan JSON (``show -json``)."""
        ws = self.workspace(synthesized)
        self._init(ws, stack)
        self._run(ws, stack, "plan", *INPUT, "-json", "-out=tfplan", *args)
        plan: dict[str, Any] = self._run(ws, stack, "show", "-json", "tfplan").json()
        return plan

    def apply(self, synthesized: Path, stacks: Sequence[str] | None = None, *args: str) -> ApplyRun:
        """Plan and apply ``stacks`` (all, in dependency order, when omitted); the calls the stand-in saw."""
        ws = self.workspace(synthesized)
        run = ApplyRun()
        for stack in [s for s in ws.order if stacks is None or s in stacks]:
            self._init(ws, stack)
            self.terraform.clear_apply_calls()
            result = self._run(ws, stack, "apply", *INPUT, "-json", "-auto-approve", "-parallelism=1", *args)
            run.results[stack] = result
            run.calls.extend(_pair(result, self.terraform.apply_calls(), stack))
        return run

    def destroy(self, synthesized: Path, stacks: Sequence[str] | None = None) -> ApplyRun:
        """Destroy ``stacks`` (all, in reverse dependency order, when omitted)."""
        ws = self.workspace(synthesized)
        run = ApplyRun()
        for stack in [s for s in reversed(ws.order) if stacks is None or s in stacks]:
            self._init(ws, stack)
            ws.write_override(stack, lift_prevent_destroy=True)
            self.terraform.clear_apply_calls()
            result = self._run(ws, stack, "destroy", *INPUT, "-json", "-auto-approve", "-parallelism=1")
            run.results[stack] = result
            run.calls.extend(_pair(result, self.terraform.apply_calls(), stack))
        return run


def _pair(result: Result, calls: list[dict[str, Any]], stack: str) -> list[ApplyCall]:
    """Terraform's apply_start messages (addresses) matched one to one with the stand-in's calls."""
    starts = [
        m["hook"]["resource"]
        for m in result.messages
        if m.get("type") == "apply_start" and m["hook"].get("action") != "read"
    ]
    if len(starts) != len(calls) or any(s["resource_type"] != c["type"] for s, c in zip(starts, calls, strict=True)):
        raise RuntimeError(
            f"{stack}: Terraform started {[s['addr'] for s in starts]} but the stand-in saw "
            f"{[c['type'] + ' ' + c['action'] for c in calls]}"
        )
    return [ApplyCall(s["addr"], c["type"], c["action"], c.get("id")) for s, c in zip(starts, calls, strict=True)]
