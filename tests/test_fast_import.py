"""The fast bindings import: byte-identical stacks to the plain import, and a fallback that warns once."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from algoinfra import aws_bindings
from tests.helpers import ROOT, background_process

# Run main.py the way cdktf does, with the fast path made to fail: it must fall
# back to the plain import, say so in one line, and synthesize the same bytes.
FORCE_FALLBACK = """
import runpy, sys
from algoinfra import aws_bindings
aws_bindings.VERIFIED["jsii"] = "0.0.0"  # as if another jsii were installed
sys.argv = ["main.py", "--all-configs"]
runpy.run_path("main.py", run_name="__main__")
"""


def test_this_session_took_the_fast_path() -> None:
    assert aws_bindings.mode() == "fast"
    # Only the submodules we use were imported, not the ~2,200 of the package.
    loaded = [m for m in sys.modules if m.startswith("cdktf_cdktf_provider_aws.")]
    assert 30 < len(loaded) < 200


class _Fallback:
    """The fallback synth in a child process, started once collection is done (conftest): it is a plain
    provider import (~12 s of one core) that needs nothing from the session."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="test-fast-import-"))
        self.out = self.tmp / "plain"
        env = {**os.environ, "CDKTF_OUTDIR": str(self.out), "PYTHONPATH": str(ROOT)}
        for name in ("Project", "Env", "REGION", "INFRA_CONFIG_DIR"):
            env.pop(name, None)
        self.proc = background_process(
            [sys.executable, "-c", FORCE_FALLBACK], env=env, tmp=self.tmp, merge_output=False
        )


_FALLBACK: _Fallback | None = None


def start_background() -> None:
    """Called by conftest once collection is done, when the test below is selected."""
    global _FALLBACK
    if _FALLBACK is None:
        _FALLBACK = _Fallback()


def test_plain_import_fallback_gives_identical_bytes(synth_root: Path) -> None:
    start_background()
    assert _FALLBACK is not None
    _, stderr = _FALLBACK.proc.communicate(timeout=600)
    out = _FALLBACK.out
    assert _FALLBACK.proc.returncode == 0, stderr
    warnings = [line for line in stderr.splitlines() if line.strip()]
    assert len(warnings) == 1 and warnings[0].startswith("warning: fast AWS bindings import failed (jsii ")
    fast = {p.relative_to(synth_root): p.read_bytes() for p in synth_root.rglob("*") if p.is_file()}
    plain = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert fast.keys() == plain.keys() and len(fast) > 20
    assert [k for k in fast if fast[k] != plain[k]] == []


def test_submodule_map_matches_the_jsii_types_of_loaded_modules() -> None:
    from jsii import _reference_map

    by_module = {module: fqn for fqn, module in _reference_map._submodule_fqn_map.items()}
    assert len(by_module) > 2000
    checked = 0
    for name, module in list(sys.modules.items()):
        if not name.startswith("cdktf_cdktf_provider_aws.") or name.count(".") != 1 or name.endswith("._jsii"):
            continue
        types = {getattr(v, "__jsii_type__", None) for v in vars(module).values()} - {None}
        assert types, name
        assert all(t.startswith(by_module[name] + ".") for t in types), name
        checked += 1
    assert checked > 30
