"""``make plan``: preview the selected config's stacks with the operator's credentials, in deploy order.

1. Preflight. Nothing runs until all of it passes; each failure is one line
   ``error: <what>: <problem>: <what to install or set>``, exit 2:
   Terraform or OpenTofu >= 1.10 on ``PATH``; AWS credentials present
   (``AWS_PROFILE``, the usual variables, or a credentials/config file); the
   caller's account (``aws sts get-caller-identity``, where the aws CLI is
   installed; otherwise a note says it was not checked) equal to the account
   each stack's provider is pinned to (``allowed_account_ids``, from the
   config's ``account_id``).
2. Synthesis of the selected config by ``main.py`` (the reader of ``Project``,
   ``Env``, ``REGION``, ``INFRA_CONFIG_DIR``) into ``--outdir``.
3. ``terraform init`` and ``terraform plan`` in each stack's working directory,
   in the order of the synthesized manifest's dependencies (where they leave a
   choice: the code's deploy order, ``STACK_IDS`` of ``stacks/app.py``), stopping
   at the first failure with a line naming the stack; exit 1.

Stacks (``--stacks``): ``project`` (the default) plans the project's own stacks,
not the shared ``terraform-state`` (bootstrap, local state, once for the estate)
and ``account-baseline`` (once per account and region, often another team's);
``all`` plans every synthesized stack; or stack ids, comma-separated.
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from algoinfra.usage import stack_ids

ROOT = Path(__file__).resolve().parent.parent
MIN_VERSION = (1, 10)  # S3 native lockfile (use_lockfile)
SHARED_STACKS = ("terraform-state", "account-baseline")
EXIT_FAILED, EXIT_PREFLIGHT = 1, 2
INSTALL = (
    "install Terraform >= 1.10 (https://developer.hashicorp.com/terraform/install) "
    "or OpenTofu >= 1.10 (https://opentofu.org/docs/intro/install/) on PATH"
)
SET_CREDENTIALS = (
    "set AWS_PROFILE to a profile of the project account (aws configure, aws sso login), "
    "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
)
_VERSION_TEXT = re.compile(r"(?:Terraform|OpenTofu) v(\d+)\.(\d+)\.(\d+)")
_ACCOUNT = re.compile(r"^\d{12}$")


class PreflightError(Exception):
    """One line: what is missing or wrong, and what to install or set."""


@dataclass(frozen=True)
class Tool:
    name: str  # "Terraform" or "OpenTofu"
    path: str
    version: tuple[int, int, int]

    def __str__(self) -> str:
        return f"{self.name} {'.'.join(map(str, self.version))} ({self.path})"


@dataclass(frozen=True)
class Stack:
    id: str
    workdir: Path
    accounts: tuple[str, ...]  # allowed_account_ids of the stack's default AWS provider


# ---- preflight ----------------------------------------------------------------


def _run_version(cmd: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env={"CHECKPOINT_DISABLE": "1", **env})
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PreflightError(f"error: {cmd[0]}: does not run ({exc}): {INSTALL}") from None


def tool_version(path: str, env: Mapping[str, str]) -> tuple[str, tuple[int, int, int]]:
    """``(name, version)`` from ``<tool> version -json`` (Terraform, OpenTofu), else the text of ``<tool> version``."""
    name = "OpenTofu" if Path(path).name.startswith("tofu") else "Terraform"
    out = _run_version([path, "version", "-json"], env)
    if out.returncode == 0:
        try:
            found = json.loads(out.stdout).get("terraform_version")
        except (ValueError, AttributeError):
            found = None
        if isinstance(found, str) and (m := re.fullmatch(r"(\d+)\.(\d+)\.(\d+)(?:[-+].*)?", found)):
            return name, (int(m[1]), int(m[2]), int(m[3]))
    out = _run_version([path, "version"], env)
    if m := _VERSION_TEXT.search(out.stdout):
        return ("OpenTofu" if "OpenTofu" in m[0] else "Terraform"), (int(m[1]), int(m[2]), int(m[3]))
    raise PreflightError(f"error: {path}: no version in the output of '{Path(path).name} version': {INSTALL}")


def find_terraform(env: Mapping[str, str]) -> Tool:
    """The first of ``terraform``, ``tofu`` on PATH that is new enough (``TERRAFORM_BINARY_NAME``, cdktf's, wins)."""
    names = [env["TERRAFORM_BINARY_NAME"]] if env.get("TERRAFORM_BINARY_NAME") else ["terraform", "tofu"]
    found: list[Tool] = []
    for name in names:
        path = shutil.which(name, path=env.get("PATH", ""))
        if path is None:
            continue
        name, version = tool_version(path, env)
        tool = Tool(name, path, version)
        if tool.version[:2] >= MIN_VERSION:
            return tool
        found.append(tool)
    if found:
        raise PreflightError(f"error: {found[0]}: older than 1.10, which the S3 state lockfile needs: {INSTALL}")
    raise PreflightError(f"error: Terraform or OpenTofu: {' or '.join(names)} not found on PATH: {INSTALL}")


def _sections(path: Path) -> set[str]:
    parser = configparser.RawConfigParser(strict=False)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return set()
    return set(parser.sections())


def credential_source(env: Mapping[str, str]) -> str | None:
    """Where the AWS SDKs will find credentials, as far as can be seen without calling AWS; ``None``: nowhere."""
    if env.get("AWS_ACCESS_KEY_ID") or env.get("AWS_SECRET_ACCESS_KEY"):
        if not (env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY")):
            raise PreflightError(
                "error: AWS credentials: only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set: set both, "
                "or unset them and set AWS_PROFILE"
            )
        return "AWS_ACCESS_KEY_ID"
    if env.get("AWS_WEB_IDENTITY_TOKEN_FILE") and env.get("AWS_ROLE_ARN"):
        return "AWS_WEB_IDENTITY_TOKEN_FILE"
    if env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") or env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        return "container credentials"
    home = Path(env.get("HOME") or Path.home())
    credentials = Path(env.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials")
    config = Path(env.get("AWS_CONFIG_FILE") or home / ".aws" / "config")
    profile = env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE")
    wanted = profile or "default"
    in_config = f"profile {wanted}" in _sections(config) or (wanted == "default" and "default" in _sections(config))
    if wanted in _sections(credentials) or in_config:
        return f"profile {wanted}"
    if profile:
        raise PreflightError(
            f"error: AWS_PROFILE: no profile {profile!r} in {config} or {credentials}: "
            "create it (aws configure --profile, aws configure sso) or set AWS_PROFILE to one that exists"
        )
    return None


def caller_account(env: Mapping[str, str], *, seen: bool = True) -> str | None:
    """The account of the credentials, from ``aws sts get-caller-identity``; ``None`` without the aws CLI.

    ``seen``: credentials were found by :func:`credential_source` (else a failure says none were found).
    """
    aws = shutil.which("aws", path=env.get("PATH", ""))
    if aws is None:
        return None
    try:
        out = subprocess.run(
            [aws, "sts", "get-caller-identity", "--query", "Account", "--output", "text"],
            capture_output=True,
            text=True,
            timeout=120,
            env=dict(env),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PreflightError(f"error: aws sts get-caller-identity: {exc}: {SET_CREDENTIALS}") from None
    if out.returncode != 0:
        lines = [line.strip() for line in out.stderr.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit {out.returncode}"
        if not seen:
            raise PreflightError(f"error: AWS credentials: none found ({reason[:300]}): {SET_CREDENTIALS}")
        raise PreflightError(
            f"error: AWS credentials: aws sts get-caller-identity refused them ({reason[:300]}): "
            f"refresh them (aws sso login, new keys) or {SET_CREDENTIALS}"
        )
    account = out.stdout.strip()
    if not _ACCOUNT.match(account):
        raise PreflightError(f"error: aws sts get-caller-identity: not an account id: {account[:40]!r}")
    return account


# ---- stacks -------------------------------------------------------------------


def read_stacks(outdir: Path) -> list[Stack]:
    """The synthesized stacks in deploy order: the manifest's dependencies, ties by the code's order."""
    manifest: dict[str, Any] = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))
    entries: dict[str, dict[str, Any]] = manifest["stacks"]
    try:
        code_order = {sid: i for i, sid in enumerate(stack_ids())}
    except (OSError, SyntaxError, ValueError):
        code_order = {}
    deps = {sid: [d for d in entry.get("dependencies", []) if d in entries] for sid, entry in entries.items()}
    order: list[str] = []
    while len(order) < len(entries):
        ready = [sid for sid in entries if sid not in order and all(d in order for d in deps[sid])]
        if not ready:
            cycle = sorted(set(entries) - set(order))
            raise ValueError(f"{outdir / 'manifest.json'}: dependency cycle among {', '.join(cycle)}")
        order.append(min(ready, key=lambda sid: (code_order.get(sid, len(code_order)), sid)))
    return [_stack(outdir, sid, entries[sid]) for sid in order]


def _stack(outdir: Path, sid: str, entry: Mapping[str, Any]) -> Stack:
    workdir = outdir / str(entry["workingDirectory"])
    body: dict[str, Any] = json.loads((outdir / str(entry["synthesizedStackPath"])).read_text(encoding="utf-8"))
    providers = body.get("provider", {}).get("aws", [])
    default = [p for p in (providers if isinstance(providers, list) else [providers]) if "alias" not in p]
    accounts = tuple(str(a) for p in default for a in p.get("allowed_account_ids", []))
    return Stack(sid, workdir, accounts)


def select(stacks: Sequence[Stack], choice: str) -> list[Stack]:
    """``project``, ``all`` or comma-separated ids (kept in deploy order)."""
    if choice == "all":
        return list(stacks)
    if choice == "project":
        return [s for s in stacks if s.id not in SHARED_STACKS]
    wanted = [w.strip() for w in choice.split(",") if w.strip()]
    known = [s.id for s in stacks]
    unknown = [w for w in wanted if w not in known]
    if unknown or not wanted:
        raise PreflightError(
            f"error: STACKS: {'unknown stack ' + repr(unknown[0]) if unknown else 'empty'}: "
            f"use project, all or ids of {', '.join(known)}"
        )
    return [s for s in stacks if s.id in wanted]


def account_problems(stacks: Sequence[Stack], caller: str) -> list[str]:
    """One line per account the credentials do not belong to, naming the stacks pinned to it."""
    pinned: dict[tuple[str, ...], list[str]] = {}
    for s in stacks:
        if s.accounts and caller not in s.accounts:
            pinned.setdefault(s.accounts, []).append(s.id)
    return [
        f"error: AWS account: the credentials are for {caller}, {', '.join(ids)} "
        f"{'is' if len(ids) == 1 else 'are'} pinned to {', '.join(accounts)} (allowed_account_ids, from the config): "
        f"set AWS_PROFILE to a profile of {accounts[0]}"
        for accounts, ids in pinned.items()
    ]


# ---- running ------------------------------------------------------------------


def _say(text: str) -> None:
    print(f"==> {text}", flush=True)


def plan(stacks: Sequence[Stack], tool: Tool, env: Mapping[str, str]) -> int:
    """``init`` then ``plan`` per stack, in order; the first failure names the stack and what was not planned."""
    run_env = {"CHECKPOINT_DISABLE": "1", **env, "TF_INPUT": "0"}
    name = Path(tool.path).name
    results: list[str] = []
    for i, stack in enumerate(stacks):
        rest = ", ".join(s.id for s in stacks[i + 1 :]) or "none"
        _say(f"{stack.id}: {name} init")
        init = subprocess.run(
            [tool.path, "init", "-input=false"], cwd=stack.workdir, env=run_env, capture_output=True, text=True
        )
        if init.returncode != 0:  # init's output only matters when it fails
            sys.stdout.write(init.stdout)
            sys.stderr.write(init.stderr)
            print(
                f"error: {stack.id}: {name} init failed (exit {init.returncode}); not planned: {rest}", file=sys.stderr
            )
            return EXIT_FAILED
        _say(f"{stack.id}: {name} plan")
        planned = subprocess.run(
            [tool.path, "plan", "-input=false", "-detailed-exitcode"], cwd=stack.workdir, env=run_env
        )
        if planned.returncode not in (0, 2):  # 2: success, with changes
            print(
                f"error: {stack.id}: {name} plan failed (exit {planned.returncode}); not planned: {rest}",
                file=sys.stderr,
            )
            return EXIT_FAILED
        results.append(f"{stack.id}: {'changes' if planned.returncode == 2 else 'no changes'}")
    _say("planned: " + "; ".join(results))
    return 0


def synthesize(outdir: Path, env: Mapping[str, str]) -> int:
    _say(f"synthesizing {env.get('Project') or 'project-sample'} {env.get('Env') or 'dev'} into {outdir}/")
    return subprocess.run([sys.executable, str(ROOT / "main.py")], env={**env, "CDKTF_OUTDIR": str(outdir)}).returncode


def preflight(env: Mapping[str, str]) -> tuple[Tool | None, str | None, list[str]]:
    """``(tool, caller account or None, failure lines)``."""
    failures: list[str] = []
    tool: Tool | None = None
    try:
        tool = find_terraform(env)
    except PreflightError as exc:
        failures.append(str(exc))
    account: str | None = None
    try:
        source = credential_source(env)
        account = caller_account(env, seen=source is not None)
        if source is None and account is None:
            failures.append(f"error: AWS credentials: none found: {SET_CREDENTIALS}")
    except PreflightError as exc:
        failures.append(str(exc))
    return tool, account, failures


def main(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m algoinfra.plan", description=__doc__.split("\n\n")[0])
    parser.add_argument("--outdir", type=Path, default=ROOT / "cdktf.out", help="the out dir (CDKTF_OUTDIR)")
    parser.add_argument("--stacks", default="project", help="project (default), all, or ids, comma-separated")
    parser.add_argument("--no-synth", action="store_true", help="plan what is in --outdir without synthesizing")
    args = parser.parse_args(argv)
    env = dict(os.environ if environ is None else environ)
    outdir: Path = args.outdir.absolute()

    tool, account, failures = preflight(env)
    if failures:
        print("\n".join(failures), file=sys.stderr)
        return EXIT_PREFLIGHT
    assert tool is not None
    _say(f"using {tool}")
    if not args.no_synth and (code := synthesize(outdir, env)) != 0:
        return code
    try:
        stacks = select(read_stacks(outdir), args.stacks)
    except PreflightError as exc:
        print(exc, file=sys.stderr)
        return EXIT_PREFLIGHT
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {outdir}: no synthesized stacks to plan ({exc}): run make synth", file=sys.stderr)
        return EXIT_PREFLIGHT
    if account is None:
        print(
            "note: the caller's account was not checked (no aws CLI on PATH); "
            "Terraform's allowed_account_ids still refuses another account",
            file=sys.stderr,
        )
    elif problems := account_problems(stacks, account):
        print("\n".join(problems), file=sys.stderr)
        return EXIT_PREFLIGHT
    else:
        _say(f"AWS account {account}")
    return plan(stacks, tool, env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
