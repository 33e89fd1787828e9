"""Load the AWS provider bindings once, fast.

``import cdktf_cdktf_provider_aws`` runs a package ``__init__`` that imports all
~2,200 service submodules (about 8 s of Python on our machines) although a
synth uses a few dozen. The fast path:

1. registers a bare package module for ``cdktf_cdktf_provider_aws`` (its
   ``__path__`` only, not its ``__init__``), so ``import
   cdktf_cdktf_provider_aws.s3_bucket`` loads just that submodule;
2. imports ``cdktf_cdktf_provider_aws._jsii``, which loads the jsii assembly
   into the Node kernel exactly as the plain import does;
3. tells jsii's runtime which Python module holds each jsii submodule
   (``@cdktf/provider-aws.s3Bucket`` -> ``cdktf_cdktf_provider_aws.s3_bucket``),
   so a type from a submodule we never imported is imported on demand instead
   of failing with ``Unknown type``. This is the map that newer jsii-pacmak
   emits itself for lazily loaded submodules.

The garbage collector is off during the import and the loaded objects are
frozen afterwards: they live until exit, so scanning them is wasted work.

Every generated constructor and setter checks its arguments with
``typing.get_type_hints(_typecheckingstub__<hash>)``, re-evaluating the same
annotations of the same immutable stub on every call (a third of a stack's
build time). Those results are cached per stub; other calls are untouched.

If anything fails (another provider or jsii version), it falls back to the
plain import with one warning line. Output is byte-identical either way; the
test suite proves it on every sample config.
"""

from __future__ import annotations

import functools
import gc
import importlib
import importlib.machinery
import importlib.metadata
import importlib.util
import os
import sys
import types
import typing
from pathlib import Path
from typing import Any

PACKAGE = "cdktf_cdktf_provider_aws"
ASSEMBLY = "@cdktf/provider-aws"
# The versions the fast path was verified against (byte-identical output).
VERIFIED = {"cdktf-cdktf-provider-aws": "21.22.1", "jsii": "1.142.0"}

# jsii ended support for Node 20, and prints a large banner on it. The project
# installs Node 22 LTS (npm package `node`, pinned in package.json) and jsii's
# kernel runs on it; an operator's own JSII_NODE wins. Without `npm ci` jsii
# falls back to the `node` on PATH, banner included: the banner then tells the truth.
PROJECT_NODE = Path(__file__).resolve().parent.parent / "node_modules" / ".bin" / "node"
# cdktf 0.21 (archived, never to be fixed) calls util.isArray, which Node 22
# reports on every synth (DEP0044). Only that warning is turned off.
_NODE_WARNING_OFF = "--disable-warning=DEP0044"

_mode: str | None = None


def mode() -> str | None:
    """``"fast"`` or ``"plain"`` once loaded, else ``None``."""
    return _mode


def load(*, fast: bool = True) -> str:
    """Import the bindings (idempotent); returns the path taken."""
    global _mode
    if _mode is not None:
        return _mode
    if PACKAGE in sys.modules:  # someone imported it the plain way already
        _mode = "plain"
        return _mode
    if PROJECT_NODE.is_file() and os.environ.setdefault("JSII_NODE", str(PROJECT_NODE)) == str(PROJECT_NODE):
        node_options = os.environ.get("NODE_OPTIONS", "")
        if _NODE_WARNING_OFF not in node_options.split():
            os.environ["NODE_OPTIONS"] = f"{node_options} {_NODE_WARNING_OFF}".strip()
    _cache_stub_type_hints()
    gc.disable()
    try:
        if fast:
            try:
                _load_fast()
                _mode = "fast"
            except Exception as exc:  # noqa: BLE001 - any failure means: take the plain road
                _forget()
                print(f"warning: fast AWS bindings import failed ({exc}); using the plain import", file=sys.stderr)
        if _mode is None:
            importlib.import_module(PACKAGE)
            _mode = "plain"
    finally:
        gc.enable()
        gc.freeze()
    return _mode


def _cache_stub_type_hints() -> None:
    """Memoize ``typing.get_type_hints`` for jsii's generated type-checking stubs only."""
    original = typing.get_type_hints
    if getattr(original, "__wrapped_for_jsii_stubs__", False):
        return
    cache: dict[object, dict[str, Any]] = {}

    @functools.wraps(original)
    def get_type_hints(obj: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if args or kwargs or not getattr(obj, "__name__", "").startswith("_typecheckingstub__"):
            return original(obj, *args, **kwargs)
        hints = cache.get(obj)
        if hints is None:
            hints = cache[obj] = original(obj)
        return hints

    get_type_hints.__wrapped_for_jsii_stubs__ = True  # type: ignore[attr-defined]
    typing.get_type_hints = get_type_hints


def _load_fast() -> None:
    for dist, version in VERIFIED.items():
        found = importlib.metadata.version(dist)
        if found != version:
            raise RuntimeError(f"{dist} {found} is not the verified {version}")
    from jsii import _reference_map

    if not hasattr(_reference_map, "_submodule_fqn_map"):
        raise RuntimeError("this jsii has no submodule map")
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{PACKAGE} is not installed")
    pkg_dir = Path(next(iter(spec.submodule_search_locations)))

    bare = types.ModuleType(PACKAGE, "AWS provider bindings (bare package: submodules load on demand)")
    bare.__path__ = [str(pkg_dir)]
    bare.__file__ = spec.origin
    bare.__package__ = PACKAGE
    bare.__spec__ = importlib.machinery.ModuleSpec(PACKAGE, None, is_package=True)
    bare.__spec__.submodule_search_locations = bare.__path__
    sys.modules[PACKAGE] = bare

    importlib.import_module(f"{PACKAGE}._jsii")
    _reference_map._submodule_fqn_map.update(
        {
            f"{ASSEMBLY}.{_camel(child.name)}": f"{PACKAGE}.{child.name}"
            for child in pkg_dir.iterdir()
            if child.is_dir() and not child.name.startswith("_") and (child / "__init__.py").is_file()
        }
    )


def _camel(snake: str) -> str:
    """jsii's submodule name from the Python one: ``s3_bucket`` -> ``s3Bucket``."""
    head, *rest = snake.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _forget() -> None:
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
        del sys.modules[name]
