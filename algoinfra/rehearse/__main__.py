"""``python -m algoinfra.rehearse OUTDIR [--jobs N] [--keep DIR]``: rehearse synthesized stacks offline.

OUTDIR holds one synthesized config (``OUTDIR/manifest.json``) or several
(``main.py --all-configs``: ``OUTDIR/<project>-<env>/manifest.json``). Exit 0
when Terraform reports no error; 1 with one ``error:`` line per diagnostic,
naming the config, the stack, the step and the file and line; 2 on bad usage.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from algoinfra.rehearse.rehearsal import Failure, StackReport

EXIT_FAILED = 1
EXIT_USAGE = 2


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m algoinfra.rehearse", description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path, help="a synthesized out dir (cdktf.out)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="Terraform processes at a time")
    parser.add_argument("--keep", type=Path, help="work in this new directory and leave it (for debugging)")
    parser.add_argument("--json", type=Path, help="also write the per-stack reports (and failures) to this file")
    args = parser.parse_args(argv)

    from algoinfra.rehearse.rehearsal import RehearsalFailed, rehearse
    from algoinfra.rehearse.workspace import WorkspaceError, find_configs

    if not args.outdir.is_dir():
        print(f"error: {args.outdir}: not a directory (run `make synth` first)", file=sys.stderr)
        return EXIT_USAGE
    if args.keep is not None and args.keep.exists():
        print(f"error: {args.keep}: --keep needs a directory that does not exist yet", file=sys.stderr)
        return EXIT_USAGE
    try:
        find_configs(args.outdir)
    except WorkspaceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    # SIGTERM unwinds like Ctrl-C: the temporary directory and the helper processes are removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    start = time.monotonic()
    print(f"==> rehearsing {args.outdir} with Terraform and the stand-in AWS provider (offline, local state)")
    try:
        reports = rehearse(args.outdir, jobs=args.jobs, keep=args.keep, report=lambda line: print(line, flush=True))
    except RehearsalFailed as exc:
        for failure in exc.failures:
            for line in failure.lines():
                print(f"error: {line}", file=sys.stderr)
        _write_json(args.json, exc.reports, exc.failures)
        return EXIT_FAILED
    except WorkspaceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    _write_json(args.json, reports, [])
    print(
        f"==> {len(reports)} stacks rehearsed clean: init, validate, plan, apply, empty re-plan, destroy "
        f"({time.monotonic() - start:.0f} s)"
    )
    return 0


def _write_json(path: Path | None, reports: Sequence[StackReport], failures: Sequence[Failure]) -> None:
    if path is None:
        return
    data = {
        "stacks": [dataclasses.asdict(r) for r in reports],
        "failures": [{"config": f.config, "stack": f.stack, "step": f.step, "lines": f.lines()} for f in failures],
    }
    path.write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
