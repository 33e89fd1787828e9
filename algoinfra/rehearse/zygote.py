"""Start stand-in provider processes by forking one that has already imported everything.

Terraform starts the provider two to four times per command; each Python
start that imports grpc and protobuf costs about 0.3 s of CPU, more than half
of a rehearsal. With a zygote running, the provider script runs a tiny client
instead (``python -I -S``, stdlib only, :data:`CLIENT`): it hands its stdin,
stdout and stderr and its environment to the zygote over a Unix socket, the
zygote forks a child that serves the provider on those descriptors (so
Terraform reads the same handshake from the same pipe), and the client exits
with the child's status. When the client dies (Terraform kills a provider
that does not stop), the child notices the closed socket and exits too.

The zygote imports grpc but never creates a channel or a server, so forking
it is safe. Without a zygote the script starts the provider directly.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ZYGOTE_ENV = "ALGOINFRA_STANDIN_ZYGOTE"
_MAX_MESSAGE = 1 << 20

# Runs as `python -I -S -c CLIENT`: no site-packages, no repository on the path.
CLIENT = """\
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
try:
    s.connect(os.environ["ALGOINFRA_STANDIN_ZYGOTE"])
except OSError:  # no zygote after all: start the provider the slow way
    os.execv(sys.executable, [sys.executable, "-m", "algoinfra.rehearse.server"])
import json
socket.send_fds(s, [json.dumps({"env": dict(os.environ), "cwd": os.getcwd()}).encode()], [0, 1, 2])
status = s.recv(16)
os._exit(int(status) if status else 1)
"""


def _child(conn: socket.socket, fds: list[int], message: dict[str, object]) -> None:
    from algoinfra.rehearse import server

    for target, fd in enumerate(fds[:3]):
        os.dup2(fd, target)
    for fd in fds:
        os.close(fd)
    env = message.get("env")
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in (env if isinstance(env, dict) else {}).items()})
    os.chdir(str(message.get("cwd") or "/"))
    signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def watch() -> None:
        try:
            conn.recv(1)
        finally:
            server.remove_socket()
            os._exit(1)  # the client is gone: Terraform gave up on this provider

    threading.Thread(target=watch, daemon=True).start()
    status = server.serve()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def serve(path: Path) -> None:
    """Listen on ``path`` and fork a provider per connection, until SIGTERM."""
    import algoinfra.rehearse.server  # noqa: F401  (the point: imported once, before any fork)

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(str(path))
    listener.listen(64)
    children: dict[int, socket.socket] = {}
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    while not stopping:
        for _key, _mask in sel.select(timeout=0.02):
            conn, _ = listener.accept()
            try:
                data, fds, _flags, _addr = socket.recv_fds(conn, _MAX_MESSAGE, 3)
                message = json.loads(data)
            except (OSError, ValueError):
                conn.close()
                continue
            pid = os.fork()
            if pid == 0:
                listener.close()
                _child(conn, fds, message)
            for fd in fds:
                os.close(fd)
            children[pid] = conn
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            conn = children.pop(pid)
            code = os.waitstatus_to_exitcode(status)
            with contextlib.suppress(OSError):
                conn.send(str(code if code >= 0 else 1).encode())
            conn.close()
    listener.close()
    for pid in list(children):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)


class Zygote:
    """A running zygote process (``start()``/``stop()``, or as a context manager)."""

    def __init__(self, path: Path, env: dict[str, str]) -> None:
        self.path = path
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Zygote:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "algoinfra.rehearse.zygote", str(self.path)],
            env=self.env,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not self.path.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the stand-in's zygote did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> Zygote:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
