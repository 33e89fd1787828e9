"""Config loading speed (python scripts/bench_config.py). Not a test: it prints figures.

Everything here runs before the provider bindings are imported, so it is what
a bad config costs: the goal is well under a second for the whole estate.

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
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from algoinfra import config as cfg  # noqa: E402

CONFIGS = ROOT / "configs"
BACKEND = ROOT / "backend.tf.json"
LOAD_ALL = "from pathlib import Path; from algoinfra import config as c; c.load_all(Path('configs'), backend_path=Path('backend.tf.json'))"  # noqa: E501
IMPORT = "import time; t = time.perf_counter(); import algoinfra.config; print(time.perf_counter() - t)"


def wall(cmd: list[str], env: dict[str, str] | None = None, expect: int = 0) -> float:
    start = time.perf_counter()
    rc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, check=False).returncode
    took = time.perf_counter() - start
    if rc != expect:
        raise SystemExit(f"benchmark case exited {rc}, expected {expect}: {' '.join(cmd)}")
    return took


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
    results: dict[str, list[float]] = {}

    def record(name: str, seconds: float) -> None:
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
        wall([py, "-c", LOAD_ALL])  # warm the OS file cache and the .pyc files
        for _ in range(args.runs):
            record("fresh process, load all", wall([py, "-c", LOAD_ALL]))
            record("bad config, main.py (exit 2)", wall([py, "main.py"], bad_env, expect=2))
            out = subprocess.run([py, "-c", IMPORT], cwd=ROOT, capture_output=True, text=True, check=True)
            record("import algoinfra.config", float(out.stdout))
            start = time.perf_counter()
            cfg.load_all(CONFIGS, backend_path=BACKEND)
            record("load all (warm)", time.perf_counter() - start)
            start = time.perf_counter()
            cfg.load_all(big, backend_path=BACKEND)
            record(f"estate of {args.estate} configs (warm)", time.perf_counter() - start)

    configs = len(cfg.list_configs(CONFIGS))
    today = time.strftime("%Y-%m-%d")
    print(f"median of {args.runs} runs, {os.cpu_count()} cores, {today}, {configs} configs in configs/")
    print(f"{'case':<36} {'seconds':>8}")
    for name, seconds in results.items():
        print(f"{name:<36} {statistics.median(seconds):>8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
