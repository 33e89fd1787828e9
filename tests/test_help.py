"""Discoverability: `python main.py --help` and `make help` say everything, from the code itself."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import main
from algoinfra import usage
from stacks.app import STACK_IDS
from tests.helpers import CONFIG_DIR, ROOT, variant_dir


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*args], env={**os.environ, **(env or {})}, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_exits_0_fast_without_the_provider_bindings(flag: str) -> None:
    start = time.perf_counter()
    result = run(sys.executable, "-X", "importtime", "main.py", flag)
    elapsed = time.perf_counter() - start
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python main.py")
    assert "cdktf_cdktf_provider_aws" not in result.stderr and "| jsii" not in result.stderr
    assert elapsed < 5, f"--help took {elapsed:.1f} s"


def test_help_wins_over_other_arguments_and_writes_nothing(tmp_path: Path) -> None:
    result = run(sys.executable, "main.py", "--cost", "--help", env={"CDKTF_OUTDIR": str(tmp_path / "o")})
    assert result.returncode == 0 and result.stdout.startswith("usage:")
    assert list(tmp_path.iterdir()) == []


def help_text(config_dir: Path = CONFIG_DIR) -> str:
    return usage.usage(flags=main.FLAGS, config_dir=config_dir)


def section(text: str, title: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("  ")), len(lines))
    return lines[start + 1 : end]


def test_stacks_in_deploy_order_come_from_the_code() -> None:
    assert usage.stack_ids() == STACK_IDS
    listed = [line.split()[0] for line in section(help_text(), "stacks, in deploy order")]
    assert listed == list(STACK_IDS)
    assert set(usage.STACK_NOTES) <= set(STACK_IDS)


def test_stack_ids_follow_the_source(tmp_path: Path) -> None:
    """The reader follows stacks/app.py, not a list of its own: reorder and rename in a copy."""
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    for path in (ROOT / "stacks").glob("*.py"):
        (stacks / path.name).write_text(path.read_text())
    app = (stacks / "app.py").read_text()
    app = app.replace("    algorithm_store.STACK_ID,\n", "").replace(
        "    algorithm_dns.STACK_ID,\n", "    algorithm_dns.STACK_ID,\n    algorithm_store.STACK_ID,\n"
    )
    (stacks / "app.py").write_text(app)
    dns = (stacks / "algorithm_dns.py").read_text().replace('STACK_ID = "algorithm-dns"', 'STACK_ID = "renamed-dns"')
    (stacks / "algorithm_dns.py").write_text(dns)
    ids = usage.stack_ids(stacks)
    assert ids[-2:] == ("renamed-dns", "algorithm-store") and len(ids) == len(STACK_IDS)


def env_names_read_by_main() -> set[str]:
    """Every quoted name main.py passes to a ``.get(...)`` of the environment, and its VARIABLES if any."""
    source = (ROOT / "main.py").read_text()
    names = set(re.findall(r"""(?:environ|env)\.get\(\s*["']([A-Za-z_][A-Za-z0-9_]*)["']""", source))
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "VARIABLES" for t in node.targets):
            names |= {e.value for e in getattr(node.value, "elts", []) if isinstance(e, ast.Constant)}
    return names


def test_every_variable_and_flag_is_explained() -> None:
    text = help_text()
    read = env_names_read_by_main()
    assert {"Project", "Env", "REGION", "INFRA_CONFIG_DIR", "CDKTF_OUTDIR"} <= read
    documented = {line.split()[0] for line in section(text, "variables:")}
    assert read <= documented
    assert set(main.FLAGS) == set(usage.FLAGS), "a flag of main.py without a line in algoinfra/usage.py"
    flags = {line.split()[0] for line in section(text, "flags:")}
    assert flags == {*main.FLAGS, "-h,"}
    assert "(undocumented)" not in text


def test_help_says_where_the_configs_are(tmp_path: Path) -> None:
    text = help_text()
    assert f"configs: {CONFIG_DIR}/" in text
    assert re.search(r"^  project-sample +dev staging production$", text, re.M)
    other = variant_dir(tmp_path / "c")
    result = run(sys.executable, "main.py", "--help", env={"INFRA_CONFIG_DIR": str(other)})
    assert f"configs: {other}/" in result.stdout and "staging" not in section(result.stdout, "configs:")[-1]
    missing = run(sys.executable, "main.py", "--help", env={"INFRA_CONFIG_DIR": str(tmp_path / "nope")})
    assert missing.returncode == 0 and "(none found)" in missing.stdout


# ---- make help -------------------------------------------------------------


def phony_targets() -> list[str]:
    text = (ROOT / "Makefile").read_text()
    line = re.search(r"^\.PHONY:(.*)$", text, re.M)
    assert line is not None
    return line.group(1).split()


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return run("make", "--no-print-directory", *args)


def test_make_help_lists_every_target_once_with_a_line() -> None:
    result = make("help")
    assert result.returncode == 0, result.stderr
    listed = re.findall(r"^  (\S+) +(\S.*)$", result.stdout, re.M)
    names = [name for name, _ in listed]
    assert sorted(names) == sorted(phony_targets()), "every .PHONY target needs a `## ` comment, and only those"
    assert len(names) == len(set(names))
    assert {"synth", "test", "rehearse", "plan", "cost", "bench", "snapshot-update"} <= set(names)
    assert all(len(text) > 10 for _, text in listed)


def test_make_alone_is_the_help_and_starts_nothing() -> None:
    alone = make()
    assert alone.returncode == 0 and alone.stdout == make("help").stdout
    assert make("-n").stdout.count("\n") <= 3, "make with no target must not run a build"
