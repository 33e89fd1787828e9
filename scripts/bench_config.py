"""Config loading speed (python scripts/bench_config.py). Not a test: it prints figures.

Everything here runs before the provider bindings are imported, so it is what
a bad config costs: the goal is well under a second for the whole estate. On a
busy machine wall time waits for a core; CPU time is what the work costs.

Cases (medians of ``--runs``):
  fresh process, load all     python -c "load every config of configs/" (interpreter, pydantic, models, files)
  bad config, main.py         main.py on a config dir whose project config is wrong (exit 2)
  import algoinfra.config     in a fresh process, the import alone
  load all (warm)             load_all(configs/) again in one process
  estate of N configs (warm)  load_all over N generated configs on one transit gateway (the overlap index)
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from algoinfra import config as cfg  # noqa: E402

CONFIGS = ROOT / "configs"
BACKEND = ROOT / "backend.tf.json"
LOAD_ALL = "from pathlib import Path; from algoinfra import config as c; c.load_all(Path('configs'), backend_path=Path('backend.tf.json'))"  # noqa: E501
IMPORT = (
    "import time; t, c = time.perf_counter(), time.process_time(); import algoinfra.config;"
    " print(time.perf_counter() - t, time.process_time() - c)"
)


def run(cmd: list[str], env: dict[str, str] | None = None, expect: int = 0) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    rc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, check=False).returncode
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if rc != expect:
        raise SystemExit(f"benchmark case exited {rc}, expected {expect}: {' '.join(cmd)}")
    return took, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def timed(work: Callable[[], object]) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - start, time.process_time() - cpu


def estate(tmp: Path, n: int) -> Path:
    """``n`` copies of the dev sample, each with its own /20 VPC, all on the dev gateway."""
    d = tmp / f"estate-{n}"
    d.mkdir()
    for shared in (cfg.PLATFORM_FILE, cfg.ACCOUNTS_FILE):
        shutil.copy(CONFIGS / shared, d / shared)
    sample = yaml.safe_load((CONFIGS / f"project-sample-dev{cfg.CONFIG_SUFFIX}").read_text())
    for i in range(n):
        project = f"project-bench{i}"
        # 10.64.0.0/20, 10.64.16.0/20, ...: disjoint, and clear of the platform's 10.0.0.0/16.
        third = (i * 16) % 256
        second = 64 + (i * 16) // 256
        data = {**sample, "project": project, "network": {**sample["network"], "vpc_cidr": f"10.{second}.{third}.0/20"}}
        (d / f"{project}-dev{cfg.CONFIG_SUFFIX}").write_text(yaml.safe_dump(data, sort_keys=False))
    return d


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--estate", type=int, default=500, help="configs in the generated estate")
    args = parser.parse_args()
    py = sys.executable
    results: dict[str, list[tuple[float, float]]] = {}

    def record(name: str, seconds: tuple[float, float]) -> None:
        results.setdefault(name, []).append(seconds)

    with tempfile.TemporaryDirectory(prefix="algoinfra-bench-config-") as tmp:
        bad = Path(tmp) / "bad"
        bad.mkdir()
        for path in CONFIGS.iterdir():
            shutil.copy(path, bad / path.name)
        broken = bad / f"project-sample-dev{cfg.CONFIG_SUFFIX}"
        broken.write_text(broken.read_text().replace("vpc_cidr: 10.64.0.0/20", "vpc_cidr: 10.64.0.1/20"))
        bad_env = {**os.environ, "INFRA_CONFIG_DIR": str(bad), "CDKTF_OUTDIR": str(Path(tmp) / "out")}
        big = estate(Path(tmp), args.estate)
        run([py, "-c", LOAD_ALL])  # warm the OS file cache and the .pyc files
        for _ in range(args.runs):
            record("fresh process, load all", run([py, "-c", LOAD_ALL]))
            record("bad config, main.py (exit 2)", run([py, "main.py"], bad_env, expect=2))
            out = subprocess.run([py, "-c", IMPORT], cwd=ROOT, capture_output=True, text=True, check=True)
            record("import algoinfra.config", tuple(map(float, out.stdout.split())))  # type: ignore[arg-type]
            record("load all (warm)", timed(lambda: cfg.load_all(CONFIGS, backend_path=BACKEND)))
            record(f"estate of {args.estate} configs (warm)", timed(lambda: cfg.load_all(big, backend_path=BACKEND)))

    configs = len(cfg.list_configs(CONFIGS))
    today = time.strftime("%Y-%m-%d")
    print(f"median of {args.runs} runs, {os.cpu_count()} cores, {today}, {configs} configs in configs/")
    print(f"{'case':<36} {'wall s':>8} {'CPU s':>8}")
    for name, pairs in results.items():
        wall, cpu = statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)
        print(f"{name:<36} {wall:>8.3f} {cpu:>8.3f}")
    print("(CPU s is user + system time: what the case costs on an otherwise idle machine)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
