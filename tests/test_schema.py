"""The JSON Schemas and the README's config reference come from the models: they cannot drift, and agree with the loader."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic.fields import FieldInfo

from algoinfra.config import models, schema
from algoinfra.config.types import Model
from tests.helpers import CONFIG_DIR, ROOT
from tests.test_config_rules import CASES, Case, Files

SCHEMA_OF_FILE = {"project": "project-config", "platform": "platform", "accounts": "accounts"}


def validator(name: str) -> jsonschema.protocols.Validator:
    return jsonschema.Draft202012Validator(json.loads(schema.schema_path(name).read_text()))


@pytest.mark.parametrize("name", schema.SCHEMAS)
def test_committed_schema_is_what_the_models_generate(name: str) -> None:
    assert schema.schema_path(name).read_text() == schema.render_schema(name), "run `make schemas`"
    assert schema.render_schema(name) == schema.render_schema(name)  # deterministic bytes
    jsonschema.Draft202012Validator.check_schema(json.loads(schema.schema_path(name).read_text()))


def test_readme_reference_is_what_the_models_generate() -> None:
    readme = (ROOT / "README.md").read_text()
    assert schema.readme_with_tables(readme) == readme, "run `make schemas`"
    assert schema.main(["--check"]) == 0


def _models() -> set[type[Model]]:
    seen: set[type[Model]] = set()
    todo = [model for model, _ in schema.SCHEMAS.values()]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for info in model.model_fields.values():
            inner, _ = schema._model_in(info.annotation)
            if inner is not None:
                todo.append(inner)
    return seen


def test_every_field_of_every_file_model_is_described_and_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    fields: list[tuple[str, FieldInfo]] = [
        (f"{m.__name__}.{n}", i) for m in _models() for n, i in m.model_fields.items()
    ]
    assert len(fields) > 60
    undescribed = [name for name, info in fields if not info.description]
    assert undescribed == []
    for name, _ in schema.SCHEMAS.items():
        for key, _default, _rule in schema.rows(schema.SCHEMAS[name][0]):
            assert f"| `{key}` |" in readme, key


def test_every_config_file_points_to_its_schema() -> None:
    files = sorted(CONFIG_DIR.glob("*.yml"))
    assert len(files) >= 5
    for path in files:
        first = path.read_text().splitlines()[0]
        name = {"platform.yml": "platform", "accounts.yml": "accounts"}.get(path.name, "project-config")
        assert first == f"# yaml-language-server: $schema=../schemas/{name}.schema.json", path.name
        # resolved from the repository's configs/ (the estate test runs this on a copy elsewhere)
        assert (
            schema.schema_path(name).parent.parent / "configs" / first.split("=", 1)[1]
        ).resolve() == schema.schema_path(name)


def test_every_config_in_the_repo_validates_against_its_schema(sample_configs: dict[str, models.ProjectConfig]) -> None:
    # The loader accepts every config of the repo (sample_configs loaded them all); so must the schema.
    assert len(sample_configs) == len(list(CONFIG_DIR.glob("*-algorithm-server-infra.yml")))
    for path in sorted(CONFIG_DIR.glob("*.yml")):
        name = {"platform.yml": "platform", "accounts.yml": "accounts"}.get(path.name, "project-config")
        errors = [e.message for e in validator(name).iter_errors(yaml.safe_load(path.read_text()))]
        assert errors == [], (path.name, errors)


def _document(files: Files, which: str) -> Any:
    return {"project": files.project, "platform": files.platform, "accounts": files.accounts}[which]


SCHEMA_CASES = [c for c in CASES if c.file in SCHEMA_OF_FILE]


@pytest.mark.parametrize("case", SCHEMA_CASES, ids=[c.id for c in SCHEMA_CASES])
def test_schema_and_loader_agree_on_each_case(case: Case) -> None:
    """Where the schema can say it, it refuses what the loader refuses; where it cannot, the case says so."""
    check = validator(SCHEMA_OF_FILE[case.file])
    if case.good is not None:
        good = Files.samples()
        case.good(good)
        for which, name in SCHEMA_OF_FILE.items():
            assert list(validator(name).iter_errors(_document(good, which))) == [], (case.id, which)
    bad = Files.samples()
    case.bad(bad)
    refused = not check.is_valid(_document(bad, case.file))
    # A case marked schema=False documents a rule only the loader checks (README: "Rules only the loader checks").
    assert refused is case.schema, f"{case.id}: the schema {'refuses' if refused else 'accepts'} it"


def test_loader_only_rules_are_listed_in_the_readme() -> None:
    section = (ROOT / "README.md").read_text().split("### Rules only the loader checks", 1)[1].split("\n### ", 1)[0]
    section = " ".join(section.split())
    for phrase in ("availability zones are in the config's region", "interface endpoint", "reserved range", "transit gateway",
                   "`job.vcpus` is at most", "`store.ecr.mutable_tags` covers", "valid git ref name",
                   "listed in `accounts.yml`", "file name matches"):  # fmt: skip
        assert phrase in section, phrase


def test_schemas_dir_holds_only_generated_schemas() -> None:
    assert sorted(p.name for p in (ROOT / "schemas").iterdir()) == sorted(f"{n}.schema.json" for n in schema.SCHEMAS)


def test_rendered_schema_is_a_closed_2020_12_schema_of_its_file() -> None:
    for name, (_, files) in schema.SCHEMAS.items():
        body = json.loads(schema.render_schema(name))
        assert body["$schema"] == schema.DIALECT and body["additionalProperties"] is False
        assert body["title"].startswith(files)
