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

This module is also the one seam between the code and its CDK framework. Every
other module imports ``cdktf`` and ``cdktf_cdktf_provider_aws.<service>``; with
``load(framework="terrain")`` those names are served by CDK Terrain, the
maintained fork (``cdktn`` and ``cdktn_provider_aws.<service>``: the same
submodules and classes), through an import alias, so nothing is forked and no
other module names the framework. The Terrain provider package already loads
its submodules lazily, so it takes no fast path of ours.
"""

from __future__ import annotations

import functools
import gc
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import types
import typing
from collections.abc import Sequence
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

# The frameworks ``load`` accepts; the first is the default.
FRAMEWORKS = ("cdktf", "terrain")
# With CDK Terrain: the module names the code imports -> the Terrain modules that serve them
# (a submodule goes with its package: cdktf_cdktf_provider_aws.s3_bucket -> cdktn_provider_aws.s3_bucket).
TERRAIN_MODULES = {"cdktf": "cdktn", PACKAGE: "cdktn_provider_aws"}

_mode: str | None = None


class FrameworkError(Exception):
    """The selected framework is not installed in this Python."""


def mode() -> str | None:
    """``"fast"``, ``"plain"`` (CDKTF) or ``"terrain"`` once loaded, else ``None``."""
    return _mode


def load(*, fast: bool = True, framework: str = FRAMEWORKS[0]) -> str:
    """Import the bindings of ``framework`` (idempotent); returns the path taken."""
    global _mode
    if framework not in FRAMEWORKS:
        raise ValueError(f"unknown CDK framework {framework!r} (known: {', '.join(FRAMEWORKS)})")
    if _mode is not None:
        if (_mode == "terrain") != (framework == "terrain"):
            raise FrameworkError(f"the {_mode} bindings are loaded already; {framework} cannot follow in this process")
        return _mode
    if framework == "cdktf" and PACKAGE in sys.modules:  # someone imported it the plain way already
        _mode = "plain"
        return _mode
    if PROJECT_NODE.is_file() and os.environ.setdefault("JSII_NODE", str(PROJECT_NODE)) == str(PROJECT_NODE):
        node_options = os.environ.get("NODE_OPTIONS", "")
        if _NODE_WARNING_OFF not in node_options.split():
            os.environ["NODE_OPTIONS"] = f"{node_options} {_NODE_WARNING_OFF}".strip()
    _cache_stub_type_hints()
    gc.disable()
    try:
        if framework == "terrain":
            _load_terrain()
            _mode = "terrain"
        elif fast:
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


def _load_terrain() -> None:
    clash = [name for name in TERRAIN_MODULES if name in sys.modules]
    if clash:
        raise FrameworkError(
            f"{clash[0]} is imported already; CDK Terrain must be selected before any stack is imported"
        )
    for real in TERRAIN_MODULES.values():
        if importlib.util.find_spec(real) is None:
            raise FrameworkError(
                f"CDK Terrain is not installed in this Python (no {real}): run main.py with .venv-terrain/bin/python"
            )
    install_aliases(TERRAIN_MODULES)
    # Load the frameworks' assemblies into the jsii kernel now, as the CDKTF path does.
    for name in TERRAIN_MODULES:
        importlib.import_module(name)


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves ``alias[.sub]`` as the already importable module ``real[.sub]``: one module object, two names.

    The real module is imported under its own name (so its relative imports
    and jsii's type map stay as they are) and then put into ``sys.modules``
    under the alias too; nothing is loaded twice.
    """

    def __init__(self, aliases: dict[str, str]) -> None:
        self.aliases = dict(aliases)

    def real_name(self, fullname: str) -> str | None:
        head, dot, rest = fullname.partition(".")
        real = self.aliases.get(head)
        return None if real is None else real + dot + rest

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        real = self.real_name(fullname)
        if real is None or importlib.util.find_spec(real) is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None  # a placeholder; exec_module swaps in the real module

    def exec_module(self, module: types.ModuleType) -> None:
        real = self.real_name(module.__name__)
        assert real is not None
        # The import system returns whatever sys.modules holds for the name after this call.
        sys.modules[module.__name__] = importlib.import_module(real)


def install_aliases(aliases: dict[str, str]) -> None:
    """Make every ``import alias[.sub]`` give the module ``real[.sub]`` (idempotent per alias)."""
    known = {name for finder in sys.meta_path if isinstance(finder, _Alias) for name in finder.aliases}
    fresh = {alias: real for alias, real in aliases.items() if alias not in known}
    if fresh:
        sys.meta_path.insert(0, _Alias(fresh))


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
    import importlib.metadata  # here: main.py imports this module before it validates the configs

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
