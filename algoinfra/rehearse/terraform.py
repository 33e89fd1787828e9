"""Run Terraform commands with the stand-in AWS provider installed.

    with install() as tf:                          # stand-in in a temporary dir (or install(root))
        r = tf.run("init", "-input=false", cwd=stack_dir, env={"TF_LOG": "info"})
        r = tf.run("plan", "-json", "-out=tfplan", cwd=stack_dir)
        r.returncode, r.errors, r.messages         # exit code, error diagnostics, -json lines
        plan = tf.show_plan(stack_dir, "tfplan")   # terraform show -json tfplan, parsed
        with tf.session() as s:                    # one Terraform process for many commands
            s.run("validate", "-json", cwd=stack_dir)

``Terraform.run`` runs each command in its own process (``python -m
algoinfra.rehearse.tfcli``) in any directory, with any arguments and extra
environment; a ``Session`` runs a series in one process, at well under half
the CPU. Terraform finds
the provider through a CLI config (``TF_CLI_CONFIG_FILE``) whose
``filesystem_mirror`` holds a script that starts the stand-in
(``registry.terraform.io/hashicorp/aws`` 6.25.0 only: no other provider can be
installed, and nothing reaches the network). Inherited ``TF_*`` and ``AWS_*``
variables are dropped, so no credentials reach the run unless given in ``env``.
``init`` writes a ``.terraform.lock.hcl`` with this machine's hash of the
script: it belongs to the temporary working copy, never to the repository.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from algoinfra.rehearse import schema as sch
from algoinfra.rehearse import zygote

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = "linux_amd64"
BINARY = f"terraform-provider-aws_v{sch.PROVIDER_VERSION}"


@dataclass(frozen=True)
class Installation:
    """Where the stand-in is installed: a directory with the mirror, the CLI config and caches."""

    root: Path
    cli_config: Path
    log: Path
    zygote: Path | None = None

    @property
    def env(self) -> dict[str, str]:
        """The environment a Terraform command needs to find the stand-in."""
        return {
            "TF_CLI_CONFIG_FILE": str(self.cli_config),
            "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "ALGOINFRA_STANDIN_LOG": str(self.log),
            **({zygote.ZYGOTE_ENV: str(self.zygote)} if self.zygote else {}),
        }


def install_standin(root: Path, *, python: str = sys.executable) -> Installation:
    """Install the stand-in under ``root`` (a temporary directory; created if missing).

    Writes the filesystem mirror with the provider script, the CLI config, a
    TLS pair for go-plugin and the encoded schema response (built once here,
    about a second, so each provider start only reads it).
    """
    from algoinfra.rehearse import protocol, server

    root = root.absolute()
    plugin_dir = root / "mirror" / "registry.terraform.io" / "hashicorp" / "aws" / sch.PROVIDER_VERSION / PLATFORM
    plugin_dir.mkdir(parents=True, exist_ok=True)
    (root / "tls").mkdir(exist_ok=True)
    cert, key = server.make_certificate()
    (root / "tls" / "cert.pem").write_bytes(cert)
    key_path = root / "tls" / "key.pem"
    key_path.touch(mode=0o600)
    key_path.write_bytes(key)
    schema_cache = root / "schema-response.bin"
    schema_cache.write_bytes(protocol.provider_schema_response())
    sch.split(root / "schema")
    pythonpath = shlex.quote(str(ROOT))
    script = plugin_dir / BINARY
    script.write_text(
        "#!/bin/sh\n"
        "# The rehearsal's stand-in AWS provider (algoinfra/rehearse/server.py).\n"
        f'export PYTHONPATH={pythonpath}"${{PYTHONPATH:+:$PYTHONPATH}}"\n'
        f"export ALGOINFRA_STANDIN_SCHEMA_CACHE={shlex.quote(str(schema_cache))}\n"
        f"export ALGOINFRA_STANDIN_TLS_DIR={shlex.quote(str(root / 'tls'))}\n"
        f"export ALGOINFRA_STANDIN_SCHEMA_DIR={shlex.quote(str(root / 'schema'))}\n"
        f'if [ -n "${{{zygote.ZYGOTE_ENV}:-}}" ] && [ -S "${zygote.ZYGOTE_ENV}" ]; then\n'
        f"  exec {shlex.quote(python)} -I -S -c {shlex.quote(zygote.CLIENT)}\n"
        "fi\n"
        f"exec {shlex.quote(python)} -m algoinfra.rehearse.server\n"
    )
    script.chmod(0o755)
    cli_config = root / "terraformrc"
    cli_config.write_text(
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path    = {json.dumps(str(root / 'mirror'))}\n"
        f'    include = ["{sch.PROVIDER_SOURCE}"]\n'
        "  }\n"
        "}\n"
    )
    return Installation(root=root, cli_config=cli_config, log=root / "apply-calls.jsonl")


@dataclass(frozen=True)
class Diagnostic:
    """One Terraform diagnostic (from ``-json`` output)."""

    severity: str
    summary: str
    detail: str = ""
    filename: str | None = None
    line: int | None = None
    address: str | None = None

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Diagnostic:
        rng = raw.get("range") or {}
        return cls(
            severity=str(raw.get("severity", "error")),
            summary=str(raw.get("summary", "")),
            detail=str(raw.get("detail", "")),
            filename=rng.get("filename"),
            line=(rng.get("start") or {}).get("line"),
            address=raw.get("address"),
        )

    def __str__(self) -> str:
        where = f"{self.filename}:{self.line}: " if self.filename else ""
        what = f"{self.address}: " if self.address else ""
        detail = f": {self.detail}" if self.detail else ""
        return f"{where}{what}{self.summary}{detail}"


@dataclass(frozen=True)
class Result:
    """The outcome of one Terraform command."""

    args: tuple[str, ...]
    cwd: Path
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    _messages: list[dict[str, Any]] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The ``-json`` UI messages (one JSON object a line), in order."""
        if not self._messages:
            for line in self.stdout.splitlines():
                if line.startswith("{"):
                    try:
                        self._messages.append(json.loads(line))
                    except ValueError:
                        continue
        return self._messages

    def json(self) -> Any:
        """stdout as one JSON document (``validate -json``, ``show -json``, ``output -json``)."""
        return json.loads(self.stdout)

    @property
    def diagnostics(self) -> list[Diagnostic]:
        """Diagnostics of a ``-json`` run: streamed messages, or a ``validate -json`` document."""
        found = [Diagnostic.from_json(m["diagnostic"]) for m in self.messages if m.get("type") == "diagnostic"]
        if not found and len(self.messages) == 1 and "diagnostics" in self.messages[0]:
            found = [Diagnostic.from_json(d) for d in self.messages[0]["diagnostics"]]
        if not found and self.stdout.lstrip().startswith("{") and '"diagnostics"' in self.stdout:
            with suppress(ValueError):
                found = [Diagnostic.from_json(d) for d in self.json().get("diagnostics", [])]
        return found

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    def change_summary(self) -> dict[str, int]:
        """The ``change_summary`` of a ``plan``/``apply``/``destroy`` run with ``-json`` (add, change, remove...)."""
        for m in reversed(self.messages):
            if m.get("type") == "change_summary":
                return {k: int(v) for k, v in m["changes"].items() if isinstance(v, int)}
        return {}

    def describe(self) -> str:
        """Terraform's own error diagnostics, or its stderr when it printed none."""
        if self.errors:
            return "\n".join(str(d) for d in self.errors)
        return (self.stderr or self.stdout).strip()


class Terraform:
    """A ``terraform`` command line with the stand-in installed (see the module docstring)."""

    def __init__(self, installation: Installation, *, env: Mapping[str, str] | None = None) -> None:
        self.installation = installation
        self.env = dict(env or {})

    def command(self, *args: str) -> list[str]:
        """The argv that runs Terraform with ``args`` (for a caller that wants its own subprocess)."""
        return [sys.executable, "-m", "algoinfra.rehearse.tfcli", *args]

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "AWS_"))}
        base["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), base.get("PYTHONPATH", "")) if p)
        return {**base, **self.installation.env, **self.env, **(extra or {})}

    def run(self, *args: str, cwd: Path | str, env: Mapping[str, str] | None = None, timeout: float = 600) -> Result:
        """Run ``terraform <args>`` in ``cwd``; never raises on a Terraform error (see ``returncode``)."""
        start = time.monotonic()
        proc = subprocess.run(
            self.command(*args),
            cwd=cwd,
            env=self.environment(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Result(
            args=tuple(args),
            cwd=Path(cwd),
            returncode=proc.returncode,
            stdout=proc.stdout,
            stderr=proc.stderr,
            seconds=time.monotonic() - start,
        )

    def session(self) -> Session:
        """A :class:`Session`: one Terraform process for a series of commands (close it, or use ``with``)."""
        return Session(self)

    def show_plan(self, cwd: Path | str, planfile: str = "tfplan") -> dict[str, Any]:
        """``terraform show -json <planfile>``: ``resource_changes[].change.actions``, ``importing``..."""
        result = self.run("show", "-json", planfile, cwd=cwd)
        if not result.ok:
            raise TerraformError(result)
        plan: dict[str, Any] = result.json()
        return plan

    def apply_calls(self) -> list[dict[str, Any]]:
        """The stand-in's log: one ``{"type", "action", "id"}`` per ApplyResourceChange, in call order."""
        log = self.installation.log
        if not log.is_file():
            return []
        return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]

    def clear_apply_calls(self) -> None:
        self.installation.log.unlink(missing_ok=True)


class Session:
    """One Terraform process that runs commands one after another (``tfcli --serve``).

    Same results as :meth:`Terraform.run`, at well under half the CPU: the
    library loads once, and Terraform decodes the provider schema once. Not
    for concurrent use (commands ``-chdir`` the one process): one session per
    thread. Extra environment per command is not possible (Go reads the
    environment at start): use :meth:`Terraform.run` for that.
    """

    def __init__(self, terraform: Terraform) -> None:
        self.terraform = terraform
        self._proc: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                self.terraform.command("--serve"),
                env=self.terraform.environment(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        return self._proc

    def run(self, *args: str, cwd: Path | str, timeout: float = 600) -> Result:
        """Run ``terraform <args>`` in ``cwd`` (absolute or relative to this process's directory)."""
        start = time.monotonic()
        proc = self._start()
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps({"args": list(args), "cwd": str(Path(cwd).absolute())}) + "\n")
        proc.stdin.flush()
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            line = proc.stdout.readline()
        finally:
            timer.cancel()
        reply: dict[str, Any]
        if not line:  # Terraform died (a panic) or was killed: the next command starts a new process
            self.close()
            reply = {"code": -1, "stdout": "", "stderr": f"terraform {' '.join(args)}: the Terraform process ended"}
        else:
            reply = json.loads(line)
        return Result(
            args=tuple(args),
            cwd=Path(cwd),
            returncode=int(reply["code"]),
            stdout=str(reply["stdout"]),
            stderr=str(reply["stderr"]),
            seconds=time.monotonic() - start,
        )

    def close(self) -> None:
        if self._proc is not None:
            if self._proc.stdin is not None:
                with suppress(OSError):
                    self._proc.stdin.close()
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            if self._proc.stdout is not None:
                self._proc.stdout.close()
            self._proc = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class TerraformError(Exception):
    """A Terraform command failed; the message is Terraform's own diagnostics."""

    def __init__(self, result: Result, context: str = "") -> None:
        self.result = result
        prefix = f"{context}: " if context else ""
        super().__init__(f"{prefix}terraform {' '.join(result.args)}: {result.describe()}")


@contextmanager
def install(
    root: Path | None = None, *, env: Mapping[str, str] | None = None, fast_start: bool = True
) -> Iterator[Terraform]:
    """A :class:`Terraform` with the stand-in installed in ``root`` (or a temporary directory removed after).

    With ``fast_start`` a zygote (zygote.py) runs while the context is open, so
    each provider start is a fork instead of a Python start.
    """
    import tempfile

    tmp = None if root is not None else Path(tempfile.mkdtemp(prefix="algoinfra-standin-"))
    base = root if root is not None else tmp
    assert base is not None
    try:
        installation = install_standin(base)
        if not fast_start:
            yield Terraform(installation, env=env)
            return
        # A short path: Unix socket paths are limited to about 100 bytes.
        sock_dir = Path(tempfile.mkdtemp(prefix="standin-z-"))
        try:
            with_zygote = Installation(
                installation.root, installation.cli_config, installation.log, zygote=sock_dir / "zygote.sock"
            )
            terraform = Terraform(with_zygote, env=env)
            with zygote.Zygote(with_zygote.zygote, terraform.environment()):  # type: ignore[arg-type]
                yield terraform
        finally:
            shutil.rmtree(sock_dir, ignore_errors=True)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
