"""make plan: preflight lines, deploy order from the manifest, stop at the first failure, OpenTofu too.

Terraform, OpenTofu and the aws CLI are fakes written by the tests: small
scripts on a PATH of their own that record every call (tool, arguments,
working directory) and answer as told through FAKE_* variables.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from algoinfra import plan
from stacks.app import STACK_IDS
from tests.helpers import ROOT, machine_env, noise

FAKE = """#!{python}
import json, os, sys
name, args = {name!r}, sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps({{"tool": name, "args": args, "cwd": os.getcwd()}}) + "\\n")
if name == "aws":
    if os.environ.get("FAKE_AWS_FAIL"):
        sys.stderr.write("\\nAn error occurred (ExpiredToken) when calling the GetCallerIdentity operation: expired\\n")
        sys.exit(254)
    print(os.environ["FAKE_ACCOUNT"])
    sys.exit(0)
if args[:1] == ["version"]:
    if "-json" in args and {json_version!r}:
        print(json.dumps({{"terraform_version": {version!r}, "platform": "linux_amd64"}}))
    elif "-json" in args:
        sys.stderr.write("flag provided but not defined: -json\\n")
        sys.exit(1)
    else:
        print({text!r} + " v" + {version!r} + "\\non linux_amd64")
    sys.exit(0)
stack = os.path.basename(os.getcwd())
if os.environ.get("FAKE_FAIL") == args[0] + ":" + stack:
    sys.stderr.write("Error: something " + stack + " could not do\\n")
    sys.exit(1)
if args[0] == "plan":
    sys.exit(2 if stack in os.environ.get("FAKE_CHANGES", "").split(",") else 0)
"""


def write_fake(bin_dir: Path, name: str, version: str = "1.11.4", *, json_version: bool = True) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    text = "OpenTofu" if name == "tofu" else "Terraform"
    script = FAKE.format(python=sys.executable, name=name, version=version, text=text, json_version=json_version)
    (bin_dir / name).write_text(script)
    (bin_dir / name).chmod(0o755)


class Rig:
    """A fake bin dir, home and log; ``env`` is what the operator's shell would hold."""

    def __init__(self, tmp: Path, account: str) -> None:
        self.bin, self.home, self.log = tmp / "bin", tmp / "home", tmp / "calls.jsonl"
        self.bin.mkdir()
        (self.home / ".aws").mkdir(parents=True)
        (self.home / ".aws" / "credentials").write_text("[project-foo]\naws_access_key_id = x\n")
        self.env: dict[str, str] = {
            "PATH": str(self.bin),
            "HOME": str(self.home),
            "FAKE_LOG": str(self.log),
            "FAKE_ACCOUNT": account,
            "AWS_PROFILE": "project-foo",
        }

    def calls(self, *tools: str) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        calls = [json.loads(line) for line in self.log.read_text().splitlines()]
        return [c for c in calls if not tools or c["tool"] in tools]

    def planned(self) -> list[str]:
        """Stack dirs in the order of their `plan` calls."""
        return [Path(c["cwd"]).name for c in self.calls("terraform", "tofu") if c["args"][0] == "plan"]


@pytest.fixture
def outdir(synth_root: Path, tmp_path: Path) -> Path:
    """The synthesized staging sample (account-baseline on), copied."""
    out = tmp_path / "out"
    shutil.copytree(synth_root / "project-sample-staging", out, symlinks=True)
    return out


@pytest.fixture
def rig(tmp_path: Path, sample_configs) -> Rig:
    r = Rig(tmp_path, sample_configs["project-sample-staging"].account_id)
    write_fake(r.bin, "terraform")
    write_fake(r.bin, "aws")
    return r


def run_plan(rig: Rig, outdir: Path, *args: str, **env: str) -> int:
    return plan.main(["--outdir", str(outdir), *args], {**rig.env, **env})


PROJECT_ORDER = [
    "algorithm-store",
    "algorithm-server-infra",
    "algorithm-compute-resource",
    "algorithm-service",
    "algorithm-dns",
]


def test_plans_the_project_stacks_in_deploy_order(rig: Rig, outdir: Path, capfd) -> None:
    assert run_plan(rig, outdir, "--no-synth", FAKE_CHANGES="algorithm-service") == 0
    assert rig.planned() == PROJECT_ORDER
    inits = [Path(c["cwd"]).name for c in rig.calls("terraform") if c["args"][0] == "init"]
    assert inits == PROJECT_ORDER
    for call in rig.calls("terraform"):
        if call["args"][0] in ("init", "plan"):
            assert Path(call["cwd"]) == outdir / "stacks" / Path(call["cwd"]).name
            assert "-input=false" in call["args"]
    out = capfd.readouterr().out
    assert (
        "using Terraform 1.11.4" in out and "algorithm-service: changes" in out and "algorithm-dns: no changes" in out
    )


def test_all_puts_the_state_backend_first_and_ids_pick(rig: Rig, outdir: Path, capfd) -> None:
    # The bootstrap is pinned to the state account: with the project's credentials, refused up front.
    assert run_plan(rig, outdir, "--no-synth", "--stacks", "all") == 2
    assert "terraform-state is pinned to 300000000000" in capfd.readouterr().err
    assert rig.planned() == []
    no_aws(rig)  # the account unchecked: the order is what is left to show
    assert run_plan(rig, outdir, "--no-synth", "--stacks", "all") == 0
    assert rig.planned() == ["terraform-state", "account-baseline", *PROJECT_ORDER]
    assert list(STACK_IDS) == rig.planned()
    rig.log.unlink()
    assert run_plan(rig, outdir, "--no-synth", "--stacks", "algorithm-dns,algorithm-store") == 0
    assert rig.planned() == ["algorithm-store", "algorithm-dns"]


def test_the_order_comes_from_the_manifest(rig: Rig, outdir: Path) -> None:
    manifest = json.loads((outdir / "manifest.json").read_text())
    manifest["stacks"]["algorithm-store"]["dependencies"] = ["algorithm-dns"]
    (outdir / "manifest.json").write_text(json.dumps(manifest))
    assert run_plan(rig, outdir, "--no-synth") == 0
    order = rig.planned()
    assert order.index("algorithm-store") > order.index("algorithm-dns") > order.index("algorithm-server-infra")
    assert order.index("algorithm-service") > order.index("algorithm-store")


@pytest.mark.parametrize("step", ["init", "plan"])
def test_stops_at_the_first_failure_naming_the_stack(rig: Rig, outdir: Path, capfd, step: str) -> None:
    assert run_plan(rig, outdir, "--no-synth", FAKE_FAIL=f"{step}:algorithm-compute-resource") == 1
    err = capfd.readouterr().err
    assert err.splitlines()[-1] == (
        f"error: algorithm-compute-resource: terraform {step} failed (exit 1); "
        "not planned: algorithm-service, algorithm-dns"
    )
    assert "Error: something algorithm-compute-resource could not do" in err  # Terraform's own words, shown
    touched = [Path(c["cwd"]).name for c in rig.calls("terraform") if c["args"][0] in ("init", "plan")]
    assert "algorithm-service" not in touched and "algorithm-dns" not in touched
    assert rig.planned()[-1] == ("algorithm-compute-resource" if step == "plan" else "algorithm-server-infra")


def no_aws(rig: Rig) -> None:
    (rig.bin / "aws").unlink()


def no_terraform(rig: Rig) -> None:
    (rig.bin / "terraform").unlink()


def old_terraform(rig: Rig) -> None:
    write_fake(rig.bin, "terraform", "1.9.8")


def no_credentials(rig: Rig) -> None:
    no_aws(rig)
    del rig.env["AWS_PROFILE"]
    (rig.home / ".aws" / "credentials").unlink()


def missing_profile(rig: Rig) -> None:
    no_aws(rig)
    rig.env["AWS_PROFILE"] = "project-nope"


def half_keys(rig: Rig) -> None:
    rig.env["AWS_ACCESS_KEY_ID"] = "AKIAEXAMPLE"


def expired(rig: Rig) -> None:
    rig.env["FAKE_AWS_FAIL"] = "1"


def wrong_account(rig: Rig) -> None:
    rig.env["FAKE_ACCOUNT"] = "999999999999"


def nothing_at_all(rig: Rig) -> None:
    no_terraform(rig)
    no_credentials(rig)


PREFLIGHT = [
    (no_terraform, ["error: Terraform or OpenTofu: terraform or tofu not found on PATH: install Terraform >= 1.10 "]),
    (old_terraform, ["error: Terraform 1.9.8 (", "): older than 1.10, which the S3 state lockfile needs: install "]),
    (no_credentials, ["error: AWS credentials: none found: set AWS_PROFILE to a profile of the project account"]),
    (missing_profile, ["error: AWS_PROFILE: no profile 'project-nope' in ", "create it (aws configure --profile"]),
    (half_keys, ["error: AWS credentials: only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set"]),
    (expired, ["error: AWS credentials: aws sts get-caller-identity refused them (An error occurred (ExpiredToken)"]),
]


@pytest.mark.parametrize(("breaks", "fragments"), PREFLIGHT, ids=[p[0].__name__ for p in PREFLIGHT])
def test_each_preflight_failure_is_one_line_and_nothing_runs(
    rig: Rig, tmp_path: Path, capfd, breaks, fragments
) -> None:
    breaks(rig)
    synthesized = tmp_path / "synth-here"
    assert run_plan(rig, synthesized) == 2
    err = capfd.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert all(f in lines[0] for f in fragments), lines[0]
    assert not [c for c in rig.calls("terraform", "tofu") if c["args"][0] != "version"], "Terraform ran"
    assert not synthesized.exists(), "the preflight runs before the synth"


def test_wrong_account_is_caught_before_any_init(rig: Rig, outdir: Path, capfd) -> None:
    """Checked against the synthesized stacks' allowed_account_ids, so after the synth and before Terraform."""
    wrong_account(rig)
    assert run_plan(rig, outdir, "--no-synth") == 2
    lines = capfd.readouterr().err.splitlines()
    assert lines == [
        "error: AWS account: the credentials are for 999999999999, algorithm-store, algorithm-server-infra, "
        "algorithm-compute-resource, algorithm-service, algorithm-dns are pinned to 200000000002 "
        "(allowed_account_ids, from the config): set AWS_PROFILE to a profile of 200000000002"
    ]
    assert not [c for c in rig.calls("terraform") if c["args"][0] != "version"]


def test_every_failure_gets_its_own_line(rig: Rig, tmp_path: Path, capfd) -> None:
    nothing_at_all(rig)
    assert run_plan(rig, tmp_path / "o") == 2
    lines = capfd.readouterr().err.splitlines()
    assert [line.split(":")[1].strip() for line in lines] == ["Terraform or OpenTofu", "AWS credentials"]


@pytest.mark.parametrize("json_version", [True, False], ids=["version-json", "version-text"])
def test_opentofu_is_accepted(rig: Rig, outdir: Path, capfd, json_version: bool) -> None:
    no_terraform(rig)
    write_fake(rig.bin, "tofu", "1.10.2", json_version=json_version)
    assert run_plan(rig, outdir, "--no-synth") == 0
    assert rig.planned() == PROJECT_ORDER
    assert {c["tool"] for c in rig.calls() if c["tool"] != "aws"} == {"tofu"}
    assert "using OpenTofu 1.10.2" in capfd.readouterr().out


def test_an_old_terraform_gives_way_to_a_new_opentofu(rig: Rig, outdir: Path) -> None:
    old_terraform(rig)
    write_fake(rig.bin, "tofu", "1.10.0")
    assert run_plan(rig, outdir, "--no-synth") == 0
    assert {c["tool"] for c in rig.calls() if c["args"][0] == "plan"} == {"tofu"}


def test_cdktfs_terraform_binary_name_wins(rig: Rig, outdir: Path) -> None:
    write_fake(rig.bin, "tofu", "1.10.0")
    assert run_plan(rig, outdir, "--no-synth", TERRAFORM_BINARY_NAME="tofu") == 0
    assert {c["tool"] for c in rig.calls() if c["args"][0] == "plan"} == {"tofu"}


def test_without_the_aws_cli_the_account_is_not_checked_and_says_so(rig: Rig, outdir: Path, capfd) -> None:
    no_aws(rig)
    del rig.env["AWS_PROFILE"]
    assert run_plan(rig, outdir, "--no-synth", AWS_ACCESS_KEY_ID="AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY="x") == 0
    assert "note: the caller's account was not checked (no aws CLI on PATH)" in capfd.readouterr().err
    assert rig.planned() == PROJECT_ORDER


def test_unknown_stack_id_is_one_line(rig: Rig, outdir: Path, capfd) -> None:
    assert run_plan(rig, outdir, "--no-synth", "--stacks", "algorithm-stor") == 2
    lines = capfd.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: STACKS: unknown stack 'algorithm-stor': use project, all")
    assert rig.planned() == []


def test_make_plan_synthesizes_into_cdktf_outdir_then_plans_quietly(rig: Rig, tmp_path: Path) -> None:
    """The whole path from a fresh shell: Makefile, main.py's synth (jsii on the project's Node), the plans."""
    out = tmp_path / "custom-out"
    env = {
        **machine_env(),
        **rig.env,
        "PATH": os.pathsep.join([str(rig.bin), "/usr/bin", "/bin"]),
        "CDKTF_OUTDIR": str(out),
        "Env": "staging",
    }
    result = subprocess.run(
        ["make", "--no-print-directory", "plan"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert noise(result.stdout + result.stderr) == []
    assert (out / "manifest.json").is_file()
    assert rig.planned() == [s for s in STACK_IDS if s not in ("terraform-state", "account-baseline")]
    assert {str(Path(c["cwd"]).parent) for c in rig.calls("terraform") if c["args"][0] == "plan"} == {
        str(out / "stacks")
    }


def test_no_credentials_anywhere_says_so_even_with_the_aws_cli(rig: Rig, tmp_path: Path, capfd) -> None:
    del rig.env["AWS_PROFILE"]
    (rig.home / ".aws" / "credentials").unlink()
    rig.env["FAKE_AWS_FAIL"] = "1"  # what the aws CLI does without credentials
    assert run_plan(rig, tmp_path / "o") == 2
    lines = capfd.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: AWS credentials: none found (An error occurred")
