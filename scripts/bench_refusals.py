"""How long each class of bad input takes to be refused (make bench-refusals).

The contract says well under a second, before the provider bindings load. The
reader cases run in this process on the worst input of their class that the
bounds allow (a file of 256 KiB packed with tiny values, an alias bomb, a
terabyte sparse file, a FIFO...); the main.py cases are wall times of the
whole command as users run it, Python start-up included. Medians of --runs.
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
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from algoinfra import inputs  # noqa: E402
from algoinfra.errors import ConfigError  # noqa: E402

GOAL_S = 1.0
BILLION_LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
)


def fill(prefix: str, unit: str, suffix: str = "") -> str:
    """``prefix`` + ``unit`` repeated to just under the size bound + ``suffix``."""
    room = inputs.MAX_BYTES - len(prefix) - len(suffix) - 1
    return prefix + unit * (room // len(unit)) + suffix


def dup_at_end() -> str:
    """A mapping of distinct keys filling the size bound (under the value bound), then the first key again."""
    lines = [f"key-{i:08d}-{'x' * 30}: 1\n" for i in range(inputs.MAX_BYTES // 60)]
    return "".join(lines) + lines[0]


def reader_cases(tmp: Path) -> dict[str, tuple[Callable[[Path], object], Path]]:
    def file(name: str, data: str | bytes) -> Path:
        path = tmp / name
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path

    fifo = tmp / "fifo.yml"
    os.mkfifo(fifo)
    device = tmp / "device.yml"
    device.symlink_to("/dev/zero")
    loop = tmp / "loop.yml"
    loop.symlink_to(loop.name)
    sparse = tmp / "sparse.yml"
    with sparse.open("wb") as f:
        f.truncate(1 << 40)
    y, j = inputs.read_yaml, inputs.read_json
    return {
        "yaml explicit tag": (y, file("tag.yml", "a: !!float abc\n")),
        "yaml integer of 250k digits": (y, file("int.yml", fill("a: ", "9"))),
        "yaml nested flow (deep)": (y, file("flow.yml", fill("", "["))),
        "yaml nested block (deep)": (y, file("block.yml", "".join("  " * i + "a:\n" for i in range(400)))),
        "yaml 256 KiB of tiny values": (y, file("values.yml", fill("[", "1,", "1]"))),
        "yaml 256 KiB mapping, dup at its end": (y, file("dup.yml", dup_at_end())),
        "yaml billion laughs": (y, file("lol.yml", BILLION_LAUGHS)),
        "yaml 256 KiB, ambiguous scalar at its end": (y, file("sexa.yml", fill("", f"- {'a' * 60}\n", "- 1:00\n"))),
        "latin-1 byte at the end of 256 KiB": (y, file("latin.yml", fill("a: ", "x").encode() + b"\xe9")),
        "utf-16 with BOM": (y, file("utf16.yml", "a: 1\n".encode("utf-16"))),
        "1 TB sparse file": (y, sparse),
        "FIFO": (y, fifo),
        "/dev/zero": (y, device),
        "symlink loop": (y, loop),
        "json nested (deep)": (j, file("deep.json", fill("", "["))),
        "json 256 KiB of tiny values": (j, file("values.json", fill("[", "1,", "1]"))),
        "json NaN at the end": (j, file("nan.json", fill("[", "1,", "NaN]"))),
        "json duplicate key": (j, file("dup.json", '{"a": 1, "a": 2}')),
    }


def time_reader(read: Callable[[Path], object], path: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        try:
            read(path)
        except ConfigError:
            pass
        else:
            raise SystemExit(f"not refused: {path}")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main_cases(tmp: Path) -> dict[str, dict[str, str]]:
    configs = tmp / "configs"
    shutil.copytree(ROOT / "configs", configs)
    sample = configs / "project-sample-dev-algorithm-server-infra.yml"
    bomb = tmp / "bomb"
    shutil.copytree(configs, bomb)
    bomb_file = bomb / sample.name
    nested = "".join(f"  {line}\n" for line in BILLION_LAUGHS.splitlines())
    bomb_file.write_text(bomb_file.read_text() + "x:\n" + nested)
    packed = tmp / "packed"
    shutil.copytree(configs, packed)
    (packed / sample.name).write_text(fill(sample.read_text() + "x: [", "1,", "1]\n"))
    fifo = tmp / "fifo"
    shutil.copytree(configs, fifo)
    (fifo / "platform.yml").unlink()
    os.mkfifo(fifo / "platform.yml")
    (tmp / "file").write_text("x")
    out = str(tmp / "out")
    return {
        "main.py: bad Project": {"Project": "../../etc/passwd", "CDKTF_OUTDIR": out},
        "main.py: ENV instead of Env": {"ENV": "production", "CDKTF_OUTDIR": out},
        "main.py: out dir is a file": {"CDKTF_OUTDIR": str(tmp / "file")},
        "main.py: unknown env (config loaded)": {"Env": "qa", "CDKTF_OUTDIR": out},
        "main.py: wrong REGION (all files read)": {"REGION": "us-west-2", "CDKTF_OUTDIR": out},
        "main.py: alias bomb in the config": {"INFRA_CONFIG_DIR": str(bomb), "CDKTF_OUTDIR": out},
        "main.py: 256 KiB config of tiny values": {"INFRA_CONFIG_DIR": str(packed), "CDKTF_OUTDIR": out},
        "main.py: platform.yml is a FIFO": {"INFRA_CONFIG_DIR": str(fifo), "CDKTF_OUTDIR": out},
    }


def time_main(env: dict[str, str], runs: int) -> float:
    clean = {k: v for k, v in os.environ.items() if k.lower() not in ("project", "env", "region", "infra_config_dir")}
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, str(ROOT / "main.py")],
            env={**clean, **env},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
        times.append(time.perf_counter() - start)
        if result.returncode != 2 or result.stderr.count("\n") != 1:
            raise SystemExit(f"not refused in one line: {env}\n{result.stderr}")
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    slow = []
    with tempfile.TemporaryDirectory(prefix="algoinfra-bench-refusals-") as tmp:
        readers, mains = Path(tmp) / "readers", Path(tmp) / "main"
        readers.mkdir()
        mains.mkdir()
        print(f"median of {args.runs} runs, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}")
        print(f"{'refusal class':44} {'ms':>8}")
        for name, (read, path) in reader_cases(readers).items():
            seconds = time_reader(read, path, args.runs)
            slow += [name] if seconds > GOAL_S else []
            print(f"{name:44} {seconds * 1000:8.1f}")
        for name, env in main_cases(mains).items():
            seconds = time_main(env, args.runs)
            slow += [name] if seconds > GOAL_S else []
            print(f"{name:44} {seconds * 1000:8.1f}")
    print(f"goal: every refusal under {GOAL_S * 1000:.0f} ms" + (f"; over it: {', '.join(slow)}" if slow else ": met"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
