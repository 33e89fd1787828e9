"""Synth speed and memory, measured (make bench). Not a test: it prints figures.

Each case runs in a fresh process, the cases interleaved, ``--runs`` times
(default 3); the figures are medians. Peak memory is the largest resident set
of any process of the run (Python or the jsii Node kernel).

Cases:
  naive import      python -c "import cdktf, cdktf_cdktf_provider_aws"
  synth, plain      main.py for one config with the plain provider import
  synth, fast       main.py for one config (the default, fast import)
  all configs       main.py --all-configs (every sample config, one process)
  Terrain: synth    the same one config built with CDK Terrain (.venv-terrain, ALGOINFRA_CDK=terrain)
  Terrain: all      every sample config with CDK Terrain, one process
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TERRAIN_PYTHON = ROOT / ".venv-terrain" / "bin" / "python"

# Runs the command as a child and reports its wall time and the peak RSS of its process tree.
MEASURE = """
import resource, subprocess, sys, time
start = time.perf_counter()
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
wall = time.perf_counter() - start
print(rc, wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", MEASURE, *cmd], env=env, cwd=ROOT, capture_output=True, text=True)
    rc, wall, rss_kib = out.stdout.split()
    if rc != "0":
        raise SystemExit(f"benchmark case failed: {' '.join(cmd)}\n{out.stderr}")
    return float(wall), int(rss_kib) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    py = sys.executable
    if not TERRAIN_PYTHON.exists():
        raise SystemExit("no .venv-terrain: run make bench (it sets it up)")
    terrain_py = str(TERRAIN_PYTHON)
    with tempfile.TemporaryDirectory(prefix="algoinfra-bench-") as tmp:
        base = {**os.environ, "CDKTF_OUTDIR": str(Path(tmp) / "out")}
        base.pop("ALGOINFRA_BINDINGS", None)
        # --all-configs writes a dir per config: an out dir of its own (main.py refuses to mix the layouts).
        every = {**base, "CDKTF_OUTDIR": str(Path(tmp) / "out-all")}
        cases = {
            "naive import": ([py, "-c", "import cdktf, cdktf_cdktf_provider_aws"], base),
            "synth, plain import": ([py, "main.py"], {**base, "ALGOINFRA_BINDINGS": "plain"}),
            "synth, fast import": ([py, "main.py"], base),
            "all configs, one process": ([py, "main.py", "--all-configs"], every),
            "Terrain: synth": ([terrain_py, "main.py"], {**base, "ALGOINFRA_CDK": "terrain"}),
            "Terrain: all configs": ([terrain_py, "main.py", "--all-configs"], {**every, "ALGOINFRA_CDK": "terrain"}),
        }
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
        for warm in ("synth, fast import", "Terrain: synth"):
            measure(*cases[warm])  # warm the jsii package cache and the OS file cache
        for run in range(args.runs):
            for name, (cmd, env) in cases.items():
                results[name].append(measure(cmd, env))
            print(f"run {run + 1}/{args.runs} done", file=sys.stderr)
    wall = {n: statistics.median(w for w, _ in r) for n, r in results.items()}
    rss = {n: statistics.median(m for _, m in r) for n, r in results.items()}
    print(f"median of {args.runs} interleaved runs, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}")
    print(f"{'case':<28} {'wall s':>8} {'peak MiB':>9}")
    for name in cases:
        print(f"{name:<28} {wall[name]:>8.2f} {rss[name]:>9.0f}")
    ratios = [
        ("synth (fast) / naive import", "synth, fast import", "naive import", "goal <= 30%"),
        ("synth (plain) / naive import", "synth, plain import", "naive import", ""),
        ("all configs / one config (fast)", "all configs, one process", "synth, fast import", "goal <= 120%"),
        ("Terrain synth / CDKTF synth (fast)", "Terrain: synth", "synth, fast import", ""),
        ("Terrain all configs / one config", "Terrain: all configs", "Terrain: synth", ""),
    ]
    for label, num, den, goal in ratios:
        print(f"{label + ':':<36} {wall[num] / wall[den]:>5.0%}  {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
