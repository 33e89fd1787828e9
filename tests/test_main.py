"""main.py as users run it: bad input exits 2 with one line and writes nothing; good input synthesizes."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT, variant_dir

# Every spelling of the variables main.py reads: a developer's own ENV or region must not leak into a test.
_SELECTION = {"project", "env", "region", "infra_config_dir", "cdktf_outdir"}


def run_main(
    env: dict[str, str],
    *args: str,
    python_flags: tuple[str, ...] = (),
    main: Path = ROOT / "main.py",
    timeout: float = 300,
    **popen: Any,
) -> subprocess.CompletedProcess[str]:
    """main.py as a child, with exactly the selection variables in ``env``.

    The timeout is generous: it catches a hang (a blocked read), not slowness.
    """
    clean = {k: v for k, v in os.environ.items() if k.lower() not in _SELECTION}
    if main != ROOT / "main.py":  # a copy of main.py in another root still imports this checkout
        clean["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, *python_flags, str(main), *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        **popen,
    )


def permissions_apply() -> dict[str, Any]:
    """``run_main`` arguments under which file permissions bind the child. Root ignores them (the
    capabilities CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH): as root, the child runs without those two,
    so a read-only dir is read-only for it too. Any other user needs nothing."""
    if os.geteuid() != 0:
        return {}

    def drop_dac_capabilities() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
            if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP: gone after exec too
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")

    return {"preexec_fn": drop_dac_capabilities}


BAD_RUNS = [
    ("missing-config", {"Project": "project-nope"}, "no such config"),
    ("unknown-env", {"Env": "qa"}, "unknown env 'qa'"),
    ("wrong-region", {"REGION": "us-west-2"}, "REGION=us-west-2"),
]


@pytest.mark.parametrize(("env", "fragment"), [b[1:] for b in BAD_RUNS], ids=[b[0] for b in BAD_RUNS])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path: Path, env: dict[str, str], fragment: str) -> None:
    out = tmp_path / "out"
    result = run_main({**env, "CDKTF_OUTDIR": str(out)})
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and fragment in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_bad_config_file_keeps_the_previous_out_dir(tmp_path: Path) -> None:
    configs = variant_dir(tmp_path / "configs", mutate=lambda d: d["network"].update(vpc_cidr="10.64.0.1/20"))
    out = tmp_path / "out"
    (out / "stacks").mkdir(parents=True)
    (out / "stacks" / "previous").write_text("kept")
    result = run_main({"INFRA_CONFIG_DIR": str(configs), "CDKTF_OUTDIR": str(out)})
    assert result.returncode == 2
    assert (
        result.stderr.startswith("error: ")
        and "project-sample-dev-algorithm-server-infra.yml: network.vpc_cidr:" in result.stderr
    )
    assert [p.name for p in out.rglob("*")] == ["stacks", "previous"]


def test_bad_config_fails_before_the_provider_bindings_load(tmp_path: Path) -> None:
    result = run_main({"Env": "qa", "CDKTF_OUTDIR": str(tmp_path / "o")}, python_flags=("-X", "importtime"))
    assert result.returncode == 2
    imported = result.stderr
    assert "algoinfra.config" in imported  # the import log is there...
    assert "cdktf_cdktf_provider_aws" not in imported and "| jsii" not in imported  # ...without the bindings


def test_synth_honours_cdktf_outdir_and_writes_every_stack(tmp_path: Path) -> None:
    out = tmp_path / "custom-out"
    result = run_main({"CDKTF_OUTDIR": str(out), "Project": "project-sample", "Env": "staging"})
    assert result.returncode == 0, result.stderr
    assert "Node 20 is end-of-life" not in result.stderr + result.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(manifest["stacks"]) == sorted(p.name for p in (out / "stacks").iterdir())
    assert "algorithm-dns" in manifest["stacks"] and "account-baseline" in manifest["stacks"]
    assert not [p for p in tmp_path.iterdir() if p.name != "custom-out"], "temporary dirs left behind"
