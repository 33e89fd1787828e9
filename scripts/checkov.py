"""checkov over synthesized stacks, on a copy without what its parser cannot read.

Every stack declares ``required_version`` (the S3 lockfile needs Terraform
1.10), and checkov 3.3.30's ``terraform_json`` parser crashes on that key; it
also reports a parsing error for the top-level ``removed`` blocks (a protected
store forgets a former KMS key instead of destroying it) and ``import`` blocks
(adopted resources). None of them declares a resource to check. So the
directory is copied, those keys removed from each ``*.tf.json`` of the copy,
and the copy scanned with ``.checkov.yaml``; nothing else changes.

    .venv/bin/python scripts/checkov.py cdktf.out [more checkov options, such as -o json]

The exit status is checkov's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


# Top-level blocks that only tell Terraform what to do with state.
STATE_BLOCKS = ("removed", "import")


def strip_required_version(tree: Path) -> int:
    """Remove ``terraform.required_version`` and the top-level ``removed``/``import`` blocks from every
    ``*.tf.json`` under ``tree``; the count of files changed."""
    changed = 0
    for path in sorted(tree.rglob("*.tf.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            continue
        terraform = data.get("terraform")
        dropped = isinstance(terraform, dict) and terraform.pop("required_version", None) is not None
        for block in STATE_BLOCKS:
            dropped = data.pop(block, None) is not None or dropped
        if dropped:
            path.write_text(json.dumps(data, indent=2), encoding="utf-8")
            changed += 1
    return changed


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    source, options = Path(argv[0]), argv[1:]
    if not CHECKOV.is_file():
        print(f"error: {CHECKOV} is missing: run `make setup`", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="checkov-") as tmp:
        scan = Path(tmp) / source.name
        # .terraform holds providers and modules, not our stacks; state files (the bootstrap's is a link) neither.
        shutil.copytree(source, scan, ignore=shutil.ignore_patterns(".terraform", "*.tfstate"))
        strip_required_version(scan)
        command = [str(CHECKOV), "-d", str(scan), "--config-file", str(ROOT / ".checkov.yaml"), *options]
        return subprocess.run(command, cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
