"""The default buildspec against an immutable repository: rebuilding a commit must work.

The buildspec's commands run in bash with stand-ins for ``aws`` and ``docker`` that
behave like ECR: pushing a tag that exists and is not excluded from immutability
fails with ImageTagAlreadyExistsException.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from algoinfra.components.service import DEFAULT_BUILDSPEC
from tests.helpers import SAMPLE_KEYS, one, resources

AWS = """#!/bin/bash
# aws ecr get-login-password | aws ecr describe-images --repository-name N --image-ids imageTag=T
case "$2" in
  get-login-password) echo password ;;
  describe-images)
    for arg in "$@"; do tag="${arg#imageTag=}"; done
    grep -qx "$tag" "$REGISTRY_STATE/tags" && exit 0
    echo "An error occurred (ImageNotFoundException)" >&2; exit 254 ;;
  *) exit 1 ;;
esac
"""

DOCKER = """#!/bin/bash
# docker login | build | tag | push URI:TAG, against an immutable repository that excludes $MUTABLE_TAG.
case "$1" in
  login) cat >/dev/null ;;
  build|tag) ;;
  push)
    tag="${2##*:}"
    if grep -qx "$tag" "$REGISTRY_STATE/tags" && [ "$tag" != "$MUTABLE_TAG" ]; then
      echo "ImageTagAlreadyExistsException: tag $tag already exists" >&2; exit 1
    fi
    echo "$tag" >> "$REGISTRY_STATE/tags"; echo "$tag" >> "$REGISTRY_STATE/pushed" ;;
  *) exit 1 ;;
esac
"""


def run_build(buildspec: str, tmp: Path, commit: str) -> subprocess.CompletedProcess[str]:
    """Every command of the buildspec's phases, in order, in one shell that stops at the first failure."""
    phases = yaml.safe_load(buildspec)["phases"]
    commands = [c for phase in ("pre_build", "build", "post_build") for c in phases.get(phase, {}).get("commands", [])]
    bin_dir, state = tmp / "bin", tmp / "registry"
    for name, text in (("aws", AWS), ("docker", DOCKER)):
        bin_dir.mkdir(exist_ok=True)
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    state.mkdir(exist_ok=True)
    (state / "tags").touch()
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "REGISTRY_STATE": str(state),
        "MUTABLE_TAG": "latest",
        "AWS_REGION": "ap-northeast-1",
        "REPOSITORY_URI": "200000000001.dkr.ecr.ap-northeast-1.amazonaws.com/project-sample-dev-algorithm",
        "REPOSITORY_NAME": "project-sample-dev-algorithm",
        "IMAGE_TAG": "latest",
        "CODEBUILD_RESOLVED_SOURCE_VERSION": commit,
    }
    bash = shutil.which("bash") or "/bin/bash"
    return subprocess.run([bash, "-e", "-c", "\n".join(commands)], env=env, capture_output=True, text=True, timeout=30)


def test_rebuilding_a_commit_moves_only_the_image_tag(tmp_path: Path) -> None:
    first = run_build(DEFAULT_BUILDSPEC, tmp_path, "a1b2c3")
    assert first.returncode == 0, first.stderr
    again = run_build(DEFAULT_BUILDSPEC, tmp_path, "a1b2c3")
    assert again.returncode == 0, again.stderr
    assert "ImageTagAlreadyExistsException" not in again.stderr
    later = run_build(DEFAULT_BUILDSPEC, tmp_path, "d4e5f6")
    assert later.returncode == 0, later.stderr
    assert (tmp_path / "registry" / "pushed").read_text().split() == [
        "a1b2c3",
        "latest",
        "latest",  # the rebuild: commit tag kept, moving tag pushed
        "d4e5f6",
        "latest",
    ]


def test_the_stand_in_registry_refuses_an_immutable_tag(tmp_path: Path) -> None:
    """The test above could not fail without this: pushing a commit twice is refused."""
    naive = yaml.safe_load(DEFAULT_BUILDSPEC)
    naive["phases"]["post_build"]["commands"] = [
        'docker push "$REPOSITORY_URI:$CODEBUILD_RESOLVED_SOURCE_VERSION"',
        'docker push "$REPOSITORY_URI:$IMAGE_TAG"',
    ]
    spec = yaml.safe_dump(naive)
    assert run_build(spec, tmp_path, "a1b2c3").returncode == 0
    second = run_build(spec, tmp_path, "a1b2c3")
    assert second.returncode != 0 and "ImageTagAlreadyExistsException" in second.stderr


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_the_build_may_ask_for_existing_tags(stacks, sample_configs, key) -> None:
    c, stack = sample_configs[key], stacks[key]["algorithm-service"]
    project = one(stack, "aws_codebuild_project")
    env = {v["name"]: v["value"] for v in project["environment"]["environment_variable"]}
    assert env["REPOSITORY_NAME"] == f"{c.key}-algorithm"
    role_id = next(rid for rid, r in resources(stack, "aws_iam_role").items() if r["name"] == f"{c.key}-codebuild")
    [policy] = [p for p in resources(stack, "aws_iam_role_policy").values() if role_id in p["role"]]
    doc_id = policy["policy"].split(".")[2]
    statements = stack["data"]["aws_iam_policy_document"][doc_id]["statement"]
    [describe] = [st for st in statements if "ecr:DescribeImages" in st["actions"]]
    assert describe["resources"] == [f"arn:aws:ecr:{c.region}:{c.account_id}:repository/{c.key}-algorithm"]
    assert json.dumps(statements).count("ecr:DescribeImages") == 1
