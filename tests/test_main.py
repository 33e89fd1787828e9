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
    (out / "manifest.json").write_text("{}")
    (out / "stacks" / "previous").write_text("kept")
    result = run_main({"INFRA_CONFIG_DIR": str(configs), "CDKTF_OUTDIR": str(out)})
    assert result.returncode == 2
    assert (
        result.stderr.startswith("error: ")
        and "project-sample-dev-algorithm-server-infra.yml: network.vpc_cidr:" in result.stderr
    )
    assert sorted(p.name for p in out.rglob("*")) == ["manifest.json", "previous", "stacks"]


def test_bad_config_fails_before_the_provider_bindings_load(tmp_path: Path) -> None:
    result = run_main({"Env": "qa", "CDKTF_OUTDIR": str(tmp_path / "o")}, python_flags=("-X", "importtime"))
    assert result.returncode == 2
    imported = result.stderr
    assert "algoinfra.config" in imported  # the import log is there...
    assert "cdktf_cdktf_provider_aws" not in imported and "| jsii" not in imported  # ...without the bindings


def test_synth_honours_cdktf_outdir_and_writes_every_stack(tmp_path: Path) -> None:
    out = tmp_path / "new" / "custom-out"  # parents that do not exist yet are created
    result = run_main({"CDKTF_OUTDIR": str(out), "Project": "project-sample", "Env": "staging"})
    assert result.returncode == 0, result.stderr
    assert "Node 20 is end-of-life" not in result.stderr + result.stdout
    assert result.stdout.splitlines()[0] == (
        "synth: project-sample staging ap-northeast-1 account 200000000002"
        f" (configs/project-sample-staging-algorithm-server-infra.yml) -> {out}"
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(manifest["stacks"]) == sorted(p.name for p in (out / "stacks").iterdir())
    assert "algorithm-dns" in manifest["stacks"] and "account-baseline" in manifest["stacks"]
    assert [p.name for p in out.parent.iterdir()] == ["custom-out"], "temporary dirs left behind"


# ---------------------------------------------------------------------------
# The environment: each variable checked before anything is built from it
# ---------------------------------------------------------------------------


def refused_variable(tmp: Path, env: dict[str, str], variable: str, fragment: str, **popen: Any) -> str:
    """main.py exits 2 with one line naming ``variable``, no traceback, nothing written below ``tmp``."""
    before = sorted(p.relative_to(tmp) for p in tmp.rglob("*"))
    result = run_main({"CDKTF_OUTDIR": str(tmp / "out"), **env}, timeout=10, **popen)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: {variable}: ") and result.stderr.count("\n") == 1, result.stderr
    line = result.stderr.rstrip("\n")
    assert line.isprintable() and len(line) < 800 and "Traceback" not in line and result.stdout == ""
    assert fragment in line, line
    assert sorted(p.relative_to(tmp) for p in tmp.rglob("*")) == before, "main.py wrote something"
    return line


BAD_VARIABLES = [
    # (id, variable, value, fragment)
    ("project-parent", "Project", "../configs/project-sample", "must be 'project-'"),
    ("project-absolute", "Project", "/etc/passwd", "got '/etc/passwd'"),
    ("project-slash", "Project", "project-a/../../b", "must be 'project-'"),
    ("project-dotdot", "Project", "project-..", "must be 'project-'"),
    ("project-newline", "Project", "project-a\nb", "got 'project-a\\nb'"),
    ("project-trailing-newline", "Project", "project-sample\n", "got 'project-sample\\n'"),
    ("project-upper", "Project", "project-Sample", "lowercase"),
    ("project-long", "Project", "project-" + "a" * 300, "at most 63 characters"),
    ("project-escape", "Project", "project-\x1b[2J", "got 'project-\\x1b[2J'"),
    ("env-unknown", "Env", "qa", "unknown env 'qa'; use one of dev, staging, production"),
    ("env-newline", "Env", "dev\n", "unknown env 'dev\\n'"),
    ("env-path", "Env", "../dev", "unknown env '../dev'"),
    ("env-upper", "Env", "DEV", "unknown env 'DEV'"),
    ("region-shape", "REGION", "tokyo", "must be an AWS region such as ap-northeast-1, got 'tokyo'"),
    ("region-newline", "REGION", "ap-northeast-1\n", "got 'ap-northeast-1\\n'"),
    ("region-huge", "REGION", "x" * 100_000, "… (100000 characters)"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("variable", "value", "fragment"), [b[1:] for b in BAD_VARIABLES], ids=[b[0] for b in BAD_VARIABLES]
)
def test_bad_variables_are_refused_naming_the_variable(
    tmp_path: Path, variable: str, value: str, fragment: str
) -> None:
    refused_variable(tmp_path, {variable: value}, variable, fragment)


def test_good_variables_reach_the_config(tmp_path: Path) -> None:
    """Next to the bad ones: well-formed values pass main.py and are judged by the config loader."""
    for env, fragment in [
        ({"Project": "project-nope"}, "project-nope-dev-algorithm-server-infra.yml: no such config"),
        ({"Project": "project-" + "a" * 55}, "no such config"),
        ({"Env": "staging", "REGION": "us-west-2"}, "REGION=us-west-2 but the config says ap-northeast-1"),
    ]:
        result = run_main({"CDKTF_OUTDIR": str(tmp_path / "out"), **env}, timeout=10)
        assert result.returncode == 2 and fragment in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1 and not (tmp_path / "out").exists()


def test_config_dir_problems_name_the_variable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "loop").symlink_to("loop")
    cases = [
        (tmp_path / "missing", "no such file or directory"),
        (tmp_path / "file", "is not a directory"),
        (tmp_path / "loop", "symlink loop"),
        (tmp_path / ("x" * 300), "file name too long"),
        (tmp_path / "file" / "below", "a parent of the path is not a directory"),
        (tmp_path / "new\nline", "new\\nline: no such file or directory"),
    ]
    for config_dir, fragment in cases:
        refused_variable(tmp_path, {"INFRA_CONFIG_DIR": str(config_dir)}, "INFRA_CONFIG_DIR", fragment)


def test_unreadable_config_dir_and_unwritable_out_dir_are_refused(tmp_path: Path) -> None:
    popen = permissions_apply()
    configs = tmp_path / "configs"
    shutil.copytree(ROOT / "configs", configs)
    configs.chmod(0o300)  # no read: the configs cannot be listed
    refused_variable(tmp_path, {"INFRA_CONFIG_DIR": str(configs)}, "INFRA_CONFIG_DIR", "permission denied", **popen)
    configs.chmod(0o755)
    env = {"INFRA_CONFIG_DIR": str(configs)}
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    for outdir in (locked / "out", locked / "a" / "b"):
        refused_variable(
            tmp_path, {**env, "CDKTF_OUTDIR": str(outdir)}, "CDKTF_OUTDIR", "locked is not writable", **popen
        )
    refused_variable(tmp_path, {**env, "CDKTF_OUTDIR": str(locked)}, "CDKTF_OUTDIR", "locked: is not writable", **popen)
    # an existing out dir whose stack dir was left read-only (by an earlier run as another user)
    out = tmp_path / "out"
    (out / "stacks" / "algorithm-store").mkdir(parents=True)
    (out / "stacks" / "algorithm-store").chmod(0o555)
    line = refused_variable(tmp_path, {**env, "CDKTF_OUTDIR": str(out)}, "CDKTF_OUTDIR", "", **popen)
    assert line.endswith("out: stacks/algorithm-store inside it is not writable")
    # next to them: the same dirs, writable
    locked.chmod(0o755)
    (out / "stacks" / "algorithm-store").chmod(0o755)
    for outdir in (locked / "out", locked, out):
        result = run_main({**env, "REGION": "us-west-2", "CDKTF_OUTDIR": str(outdir)}, timeout=10, **popen)
        assert result.returncode == 2 and "REGION=us-west-2" in result.stderr, result.stderr


def test_out_dir_problems_are_found_before_anything_is_built(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "loop").symlink_to("loop")
    (tmp_path / "old" / "stacks").parent.mkdir()
    (tmp_path / "old" / "stacks").write_text("not a dir")
    (tmp_path / "old" / "manifest.json").write_text("{}")
    cases = [
        (tmp_path / "file", "exists and is not a directory"),
        (tmp_path / "file" / "out", "file is not a directory"),
        (tmp_path / "file" / "a" / "b", "file is not a directory"),
        (tmp_path / "dangling", "symbolic link to nothing"),
        (tmp_path / "loop", "symlink loop"),
        (tmp_path / "old", "stacks inside it is not a directory"),
        (Path("/proc/self/out"), "is under /proc, a kernel file system"),
        (Path("/proc"), "is under /proc"),
        (Path("/sys/kernel/out"), "is under /sys"),
        (Path("/dev/shm/../out"), "is under /dev"),
        (tmp_path / ("x" * 256), "longer than 255 bytes"),
        (tmp_path / ("x" * 250), "longer than 245 bytes (synth stages next to it)"),
        (tmp_path / "/".join(["y" * 200] * 20), "the path is longer than"),
        (tmp_path / "new\nline" / "out", "new\\nline/out: "),
    ]
    (tmp_path / "to-proc").symlink_to("/proc/self")
    cases.append((tmp_path / "to-proc" / "out", "is under /proc"))
    for outdir, fragment in cases:
        if "new\nline" in str(outdir):
            (tmp_path / "new\nline").write_text("a file")
        refused_variable(tmp_path, {"CDKTF_OUTDIR": str(outdir)}, "CDKTF_OUTDIR", fragment)


def test_an_out_dir_synth_did_not_make_is_never_filled(tmp_path: Path) -> None:
    """Synth replaces what ``stacks/`` holds: the repository (its ``stacks/`` is Python source), the config
    dir, or any dir holding files without a synth's manifest.json is refused, and nothing in it changes.
    The repository is a copy (main.py finds its root beside itself), so a regression cannot hurt this one."""
    repo = tmp_path / "repo"
    (repo / "stacks").mkdir(parents=True)
    shutil.copy(ROOT / "main.py", repo / "main.py")
    shutil.copy(ROOT / "backend.tf.json", repo / "backend.tf.json")
    shutil.copytree(ROOT / "configs", repo / "configs")
    (repo / "stacks" / "app.py").write_text("# the stacks' source")
    configs = repo / "configs"
    home = tmp_path / "home"
    (home / "stacks" / "my-project").mkdir(parents=True)
    (home / "stacks" / "my-notes.txt").write_text("mine")
    (home / "stacks" / "my-project" / "x.py").write_text("mine")
    nested = tmp_path / "nested"
    (nested / "deep" / "er").mkdir(parents=True)
    (nested / "deep" / "er" / "file").write_text("mine")
    per_config = tmp_path / "all"
    (per_config / "project-sample-dev").mkdir(parents=True)
    (per_config / "notes.txt").write_text("mine")
    # what the other layout left: a synth of one config, and a synth of every config
    one = tmp_path / "one"
    (one / "stacks" / "algorithm-store").mkdir(parents=True)
    (one / "manifest.json").write_text("{}")
    (one / "stacks" / "algorithm-store" / "cdk.tf.json").write_text("{}")
    every = tmp_path / "every"
    (every / "project-sample-dev" / "stacks").mkdir(parents=True)
    (every / "project-sample-dev" / "manifest.json").write_text("{}")
    cases = [
        (repo, (), "holds this repository"),
        (tmp_path, (), "holds this repository"),
        (configs, (), "is inside INFRA_CONFIG_DIR"),
        (configs / "out", (), "is inside INFRA_CONFIG_DIR"),
        (home, (), "holds files but not a synth's manifest.json"),
        (nested, (), "holds files but not a synth's manifest.json"),
        (home, ("--all-configs",), "holds files but not a dir per config"),
        (per_config, ("--all-configs",), "holds files but not a dir per config"),
        (one, ("--all-configs",), "holds the synth of one config (manifest.json at its top); --all-configs"),
        (every, (), "holds a dir per config (a synth with --all-configs)"),
    ]
    before = {p: p.read_bytes() if p.is_file() else None for p in tmp_path.rglob("*")}
    for outdir, args, fragment in cases:
        result = run_main({"INFRA_CONFIG_DIR": str(configs), "CDKTF_OUTDIR": str(outdir)}, *args, main=repo / "main.py")
        assert result.returncode == 2, (outdir, result.stdout, result.stderr)
        assert result.stderr.startswith("error: CDKTF_OUTDIR: ") and fragment in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1
    assert {p: p.read_bytes() if p.is_file() else None for p in tmp_path.rglob("*")} == before


@pytest.mark.parametrize("name", ["Project", "Env", "REGION", "INFRA_CONFIG_DIR", "CDKTF_OUTDIR"])
def test_a_variable_set_but_empty_is_refused(tmp_path: Path, name: str) -> None:
    """``Project=$PROJ`` with PROJ unset must not build the default project, as ``$ENV`` must not."""
    env = {"CDKTF_OUTDIR": str(tmp_path / "out"), name: ""}
    refused_variable(tmp_path, env, name, "is set but empty: give it a value, or unset it for the default")


def test_out_dir_check_accepts_what_synth_can_fill(tmp_path: Path) -> None:
    import main as entry

    (tmp_path / "existing" / "stacks" / "algorithm-store" / ".terraform").mkdir(parents=True)
    (tmp_path / "existing" / "stacks" / "algorithm-store" / ".terraform" / "terraform.tfstate").write_text("{}")
    (tmp_path / "synthesized" / "stacks" / "algorithm-store").mkdir(parents=True)
    (tmp_path / "synthesized" / "manifest.json").write_text("{}")
    (tmp_path / "synthesized" / "stacks" / "algorithm-store" / "cdk.tf.json").write_text("{}")
    (tmp_path / "every" / "project-sample-dev" / "stacks").mkdir(parents=True)
    (tmp_path / "every" / "project-sample-dev" / "manifest.json").write_text("{}")
    (tmp_path / "every" / "project-sample-staging").mkdir()
    (tmp_path / "empty").mkdir()
    for outdir in [tmp_path / "new", tmp_path / "a" / "b" / "c", tmp_path / "existing", tmp_path / ("x" * 245)]:
        entry.check_outdir(outdir, per_config_dirs=False)
        entry.check_outdir(outdir, per_config_dirs=True)
    entry.check_outdir(tmp_path / "synthesized", per_config_dirs=False)
    entry.check_outdir(tmp_path / "every", per_config_dirs=True)
    entry.check_outdir(tmp_path / "empty", per_config_dirs=True)
    entry.check_outdir(tmp_path / "empty", per_config_dirs=False)
    entry.check_outdir(ROOT / "cdktf.out", per_config_dirs=False, config_dir=ROOT / "configs")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "every", "existing", "synthesized"]  # none created


def test_out_dir_error_comes_before_the_provider_bindings(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    result = run_main({"CDKTF_OUTDIR": str(tmp_path / "file")}, python_flags=("-X", "importtime"))
    assert result.returncode == 2
    assert "error: CDKTF_OUTDIR: " in result.stderr and "algoinfra.inputs" in result.stderr
    assert "cdktf_cdktf_provider_aws" not in result.stderr and "| jsii" not in result.stderr


# ---------------------------------------------------------------------------
# Issue 16.4: selection that cannot be mistaken
# ---------------------------------------------------------------------------


def _spellings(name: str) -> list[str]:
    """Every upper/lower-case spelling of ``name`` (Env: ENV, env, eNv, …)."""
    spellings = [""]
    for c in name:
        spellings = [s + v for s in spellings for v in sorted({c.lower(), c.upper()})]
    return spellings


@pytest.mark.parametrize("right", ["Project", "Env", "REGION", "INFRA_CONFIG_DIR", "CDKTF_OUTDIR"])
def test_every_wrong_case_spelling_is_refused_when_the_right_one_is_unset(right: str) -> None:
    import main as entry
    from algoinfra.errors import VariableError

    spellings = _spellings(right) if len(right) < 8 else [right.lower(), right.title(), right.swapcase()]
    assert len(spellings) > 2
    for wrong in spellings:
        if wrong == right:
            continue
        with pytest.raises(VariableError) as err:
            entry.check_spellings({wrong: "value", "PATH": "/bin"})
        assert err.value.variable == wrong and f"this tool reads {right}" in err.value.message
        # next to it: the right spelling set as well (ENV left by another tool), or the wrong one empty
        entry.check_spellings({wrong: "value", right: "x"})
        entry.check_spellings({wrong: ""})


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"ENV": "production"}, "ENV"),
        ({"PROJECT": "project-foo"}, "PROJECT"),
        ({"project": "project-foo", "Env": "dev"}, "project"),
        ({"Region": "us-east-1"}, "Region"),
        ({"region": "us-east-1", "Project": "project-sample"}, "region"),
        ({"env": "staging", "ENV": "staging"}, "ENV"),
    ],
)
def test_main_refuses_wrong_case_variables(tmp_path: Path, env: dict[str, str], variable: str) -> None:
    line = refused_variable(tmp_path, env, variable, "but this tool reads")
    assert "case matters" in line


def test_main_ignores_a_wrong_case_variable_next_to_the_right_one(tmp_path: Path) -> None:
    # ENV is also the POSIX shell's start-up file: set next to Env, it is not ours.
    result = run_main({"ENV": "/etc/shrc", "Env": "qa", "CDKTF_OUTDIR": str(tmp_path / "o")}, timeout=10)
    assert result.returncode == 2 and result.stderr.startswith("error: Env: unknown env 'qa'"), result.stderr


class _Stop(Exception):
    pass


def _run_until_bindings(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], argv: list[str]) -> None:
    """main.main in this process, stopped where the provider bindings would load."""
    import main as entry
    from algoinfra import aws_bindings

    for name in list(os.environ):
        if name.lower() in _SELECTION:
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    def stop(**_: Any) -> None:
        raise _Stop

    monkeypatch.setattr(aws_bindings, "load", stop)
    with pytest.raises(_Stop):
        entry.main(argv)


def test_synth_prints_the_selection_before_anything_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    _run_until_bindings(monkeypatch, {"Env": "staging", "CDKTF_OUTDIR": "cdktf.out"}, [])
    out, err = capsys.readouterr()
    assert out == (
        "synth: project-sample staging ap-northeast-1 account 200000000002"
        " (configs/project-sample-staging-algorithm-server-infra.yml) -> cdktf.out\n"
    )
    assert err == ""


def test_all_configs_prints_one_line_per_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _run_until_bindings(monkeypatch, {"CDKTF_OUTDIR": str(tmp_path / "o")}, ["--all-configs"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    for line, env, account in zip(lines, ["dev", "production", "staging"], ["1", "3", "2"], strict=True):
        assert line.startswith(f"synth: project-sample {env} ap-northeast-1 account 20000000000{account} (")
        assert line.endswith(f"-algorithm-server-infra.yml) -> o/project-sample-{env}")


def test_cost_prints_the_selection_on_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    _run_until_bindings(monkeypatch, {"Env": "dev"}, ["--cost"])
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "cost: project-sample dev ap-northeast-1 account 200000000001"
        " (configs/project-sample-dev-algorithm-server-infra.yml)\n"
    )


def test_unknown_arguments_are_one_escaped_line() -> None:
    result = run_main({}, "--bogus\n\x1b[2J", timeout=10)
    assert result.returncode == 2 and result.stderr == (
        "error: main.py: unknown argument '--bogus\\n\\x1b[2J' (known: --all-configs, --cost, --help)\n"
    )
