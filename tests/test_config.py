"""The config loader: the happy path and every kind of bad input, each named by file and field."""

from __future__ import annotations

import ipaddress
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from algoinfra import config as cfg
from algoinfra.errors import ConfigError
from tests.helpers import BACKEND, CONFIG_DIR, SAMPLE_KEYS, load_sample, load_variant, sample_data, variant_dir


def test_samples_cover_every_env() -> None:
    assert sorted(k.rsplit("-", 1)[1] for k in SAMPLE_KEYS) == sorted(cfg.ENVS)


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_sample_loads_into_frozen_typed_config(key: str) -> None:
    data = sample_data(key)
    c = load_sample(key)
    assert (c.project, c.env, c.region, c.account_id) == (
        data["project"],
        data["env"],
        data["region"],
        data["account_id"],
    )
    assert c.network.vpc_cidr == data["network"]["vpc_cidr"]
    assert c.network.availability_zones == tuple(data["network"]["availability_zones"])
    assert c.platform.env == c.env
    with pytest.raises(ValidationError, match="frozen"):
        c.project = "project-other"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        c.network.vpc_cidr = "10.0.0.0/16"  # type: ignore[misc]


def test_defaults_where_the_config_is_silent(tmp_path: Path) -> None:
    def strip(d: dict[str, Any]) -> None:
        for k in ("store", "compute", "job", "tags", "adopt"):
            d.pop(k, None)
        d["network"] = {"vpc_cidr": "10.64.0.0/20", "availability_zones": ["ap-northeast-1a"]}

    c = load_variant(tmp_path, mutate=strip)
    assert c.network.interface_endpoints == cfg.DEFAULT_INTERFACE_ENDPOINTS
    assert c.network.endpoint_availability_zones == ("ap-northeast-1a",)
    assert c.network.flow_logs.destination == "cloud-watch-logs"
    assert c.network.transit_gateway == cfg.TransitGatewayOptions()
    assert c.store.cors_allowed_origins == ("*",)
    assert c.store.prevent_destroy is False  # dev
    assert c.store.kms_key is False and c.store.kms_key_retained is False
    assert c.store.ecr.image_tag_mutability == "IMMUTABLE"
    assert c.store.ecr.mutable_tags == ("latest",)  # job.image_tag, pushed on every build
    assert c.compute.provisioning == "SPOT" and c.compute.image_type == cfg.IMAGE_TYPE_CPU
    assert c.compute.root_volume_size_gib == 30
    assert c.job.vcpus == 1 and isinstance(c.job.vcpus, int)
    assert c.adopt == cfg.ProjectAdopt(data_bucket=False, trigger_bucket=False, ecr_repository=False)
    assert dict(c.tags) == {}


def test_prevent_destroy_defaults_on_outside_dev(tmp_path: Path) -> None:
    c = load_variant(tmp_path, "project-sample-staging", mutate=lambda d: d.pop("store", None))
    assert c.store.prevent_destroy is True
    c = load_variant(
        tmp_path / "x",
        "project-sample-staging",
        mutate=lambda d: d.setdefault("store", {}).update(prevent_destroy=False),
    )
    assert c.store.prevent_destroy is False


def test_gpu_instance_types_pick_the_nvidia_image() -> None:
    assert load_sample("project-sample-staging").compute.image_type == cfg.IMAGE_TYPE_GPU
    assert load_sample("project-sample-dev").compute.image_type == cfg.IMAGE_TYPE_CPU


def test_derived_subnet_plan_is_inside_the_vpc_and_disjoint() -> None:
    for key in SAMPLE_KEYS:
        c = load_sample(key)
        vpc = ipaddress.ip_network(c.network.vpc_cidr)
        nets = [ipaddress.ip_network(n) for tier in c.network.subnets.values() for n in tier.values()]
        assert len(nets) == 2 * len(c.network.availability_zones)
        assert all(n.subnet_of(vpc) for n in nets)  # type: ignore[arg-type]
        assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(d: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = d
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value

    return mutate


BAD = [
    # (id, mutation, field, fragment of the message)
    ("cidr-host-bits", _set("network.vpc_cidr", "10.64.1.0/20"), "network.vpc_cidr", "host bits set"),
    ("cidr-bad-prefix", _set("network.vpc_cidr", "10.64.0.0/33"), "network.vpc_cidr", "invalid CIDR"),
    ("cidr-not-a-cidr", _set("network.vpc_cidr", "10.64.0.0"), "network.vpc_cidr", "IPv4 CIDR"),
    ("vpc-too-big", _set("network.vpc_cidr", "10.0.0.0/8"), "network.vpc_cidr", "between /16 and /28"),
    ("vpc-too-small", _set("network.vpc_cidr", "10.64.0.0/29"), "network.vpc_cidr", "between /16 and /28"),
    ("account-11-digits", _set("account_id", "20000000001"), "account_id", "12-digit"),
    ("account-unquoted", _set("account_id", 200000000001), "account_id", "quoted 12-digit"),
    ("unknown-env", _set("env", "qa"), "env", "dev, staging, production"),
    ("project-prefix", _set("project", "sample"), "project", "'project-'"),
    ("project-uppercase", _set("project", "project-Sample"), "project", "lowercase"),
    ("az-other-region", lambda d: d["network"].update(availability_zones=["us-east-1a"], endpoint_availability_zones=["us-east-1a"]), "network.availability_zones", "not an availability zone of ap-northeast-1"),
    ("unknown-top-key", _set("projcet", "x"), "projcet", "unknown key"),
    ("unknown-nested-key", _set("network.vpc_cdir", "10.0.0.0/16"), "network.vpc_cdir", "unknown key"),
    ("platform-overlap", _set("network.vpc_cidr", "10.0.0.0/20"), "network.vpc_cidr", "of the platform's routed_cidrs"),
    ("endpoint-az", _set("network.endpoint_availability_zones", ["ap-northeast-1d"]), "network.endpoint_availability_zones", "not in"),
    ("gpu-cpu-image", _set("compute", {"instance_types": ["g5.xlarge"], "image_type": "ECS_AL2023"}), "compute.image_type", "ECS_AL2023_NVIDIA"),
    ("retention", _set("network.flow_logs.retention_days", 42), "network.flow_logs.retention_days", "CloudWatch Logs accepts"),
    ("number-as-bool", _set("compute.max_vcpus", True), "compute.max_vcpus", "must be an integer, got True"),
    ("number-as-string", _set("compute.max_vcpus", "16"), "compute.max_vcpus", "must be an integer, got '16'"),
    ("bool-as-string", _set("compute.on_demand_fallback", "yes"), "compute.on_demand_fallback", "true or false"),
    ("string-as-number", _set("job.image_tag", 1), "job.image_tag", "an image tag"),
    ("list-as-string", _set("network.availability_zones", "ap-northeast-1a"), "network.availability_zones", "must be a list"),
    ("section-as-list", _set("store", ["x"]), "store", "must be a mapping"),
    ("section-empty", _set("store", None), "store", "got nothing"),
    ("range-low", _set("store.noncurrent_version_expiration_days", 0), "store.noncurrent_version_expiration_days", "at least 1"),
    ("range-high", _set("job.retry_attempts", 11), "job.retry_attempts", "at most 10"),
    ("required", lambda d: d["github"].pop("repository"), "github.repository", "is required"),
    ("kms-choice", _set("store.encryption", "aes"), "store.encryption", "sse-s3, kms"),
    ("github-repo", _set("github.repository", "no-slash"), "github.repository", "owner/name"),
]  # fmt: skip


@pytest.mark.parametrize(("mutate", "field", "fragment"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_names_file_and_field(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], None], field: str, fragment: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_variant(tmp_path, mutate=mutate)
    assert err.value.field == field
    assert err.value.path.endswith("project-sample-dev-algorithm-server-infra.yml")
    assert fragment in err.value.message
    line = str(err.value)
    assert "\n" not in line and line.startswith(err.value.path)


def test_derived_bucket_name_too_long(tmp_path: Path) -> None:
    project = "project-" + "x" * 40
    d = variant_dir(tmp_path, mutate=_set("project", project))
    (d / "project-sample-dev-algorithm-server-infra.yml").rename(d / f"{project}-dev{cfg.CONFIG_SUFFIX}")
    with pytest.raises(ConfigError) as err:
        cfg.load_project(d, project, "dev", backend_path=BACKEND)
    assert err.value.field == "project"
    assert "S3 allows 3-63" in err.value.message and f"{project}-dev" in err.value.message


def test_derived_role_name_too_long(tmp_path: Path) -> None:
    # 30 characters after "project-": buckets fit (63), "-production-sagemaker-execution" does not (64).
    project = "project-" + "y" * 30
    d = variant_dir(tmp_path, "project-sample-production", mutate=_set("project", project))
    (d / "project-sample-production-algorithm-server-infra.yml").rename(d / f"{project}-production{cfg.CONFIG_SUFFIX}")
    with pytest.raises(ConfigError) as err:
        cfg.load_project(d, project, "production", backend_path=BACKEND)
    assert "IAM allows 64" in err.value.message


def test_file_name_must_match_project_and_env(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_variant(tmp_path, mutate=_set("project", "project-other"))
    assert err.value.field == "project" and "expected project-other-dev-algorithm-server-infra.yml" in err.value.message


def test_region_variable_must_match(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        cfg.load_project(CONFIG_DIR, "project-sample", "dev", region="us-east-1", backend_path=BACKEND)
    assert err.value.field == "region" and "REGION=us-east-1" in err.value.message


def test_unknown_env_variable() -> None:
    with pytest.raises(ConfigError) as err:
        cfg.load_project(CONFIG_DIR, "project-sample", "prod", backend_path=BACKEND)
    assert "Env" in str(err.value) and "dev, staging, production" in err.value.message


def test_missing_file_lists_existing_configs() -> None:
    with pytest.raises(ConfigError) as err:
        cfg.load_project(CONFIG_DIR, "project-nope", "dev", backend_path=BACKEND)
    assert err.value.path.endswith("project-nope-dev-algorithm-server-infra.yml")
    for key in SAMPLE_KEYS:
        assert f"{key}-algorithm-server-infra.yml" in err.value.message


def test_yaml_syntax_error(tmp_path: Path) -> None:
    d = variant_dir(tmp_path)
    path = d / "project-sample-dev-algorithm-server-infra.yml"
    path.write_text("project: project-sample\nenv: [dev\n")
    with pytest.raises(ConfigError) as err:
        cfg.load_file(path, backend_path=BACKEND)
    assert "YAML syntax error: line" in err.value.message


def test_overlap_with_another_project_of_the_same_env(tmp_path: Path) -> None:
    d = variant_dir(tmp_path)
    other = sample_data("project-sample-dev")
    other["project"] = "project-other"
    other["network"]["vpc_cidr"] = "10.64.8.0/21"  # inside project-sample-dev's 10.64.0.0/20
    (d / f"project-other-dev{cfg.CONFIG_SUFFIX}").write_text(yaml.safe_dump(other))
    with pytest.raises(ConfigError) as err:
        cfg.load_file(d / f"project-sample-dev{cfg.CONFIG_SUFFIX}", backend_path=BACKEND)
    assert err.value.field == "network.vpc_cidr" and "project-other-dev" in err.value.message


def test_same_cidr_in_another_env_is_fine(tmp_path: Path) -> None:
    d = variant_dir(tmp_path)
    other = sample_data("project-sample-staging")
    other["network"]["vpc_cidr"] = "10.64.0.0/20"
    (d / f"project-sample-staging{cfg.CONFIG_SUFFIX}").write_text(yaml.safe_dump(other))
    assert cfg.load_file(d / f"project-sample-dev{cfg.CONFIG_SUFFIX}", backend_path=BACKEND).env == "dev"


def test_explicit_subnets_are_checked(tmp_path: Path) -> None:
    def explicit(d: dict[str, Any]) -> None:
        d["network"]["subnets"] = {
            "workload": {"ap-northeast-1a": "10.64.0.0/24", "ap-northeast-1c": "10.64.0.128/25"},
            "attachment": {"ap-northeast-1a": "10.64.15.0/28", "ap-northeast-1c": "10.64.15.16/28"},
        }

    with pytest.raises(ConfigError) as err:
        load_variant(tmp_path, mutate=explicit)
    assert err.value.field == "network.subnets.workload.ap-northeast-1c" and "overlaps" in err.value.message


def test_platform_file_errors_name_the_platform_file(tmp_path: Path) -> None:
    d = variant_dir(tmp_path)
    plat = yaml.safe_load((d / cfg.PLATFORM_FILE).read_text())
    plat["environments"]["dev"]["transit_gateway_id"] = "tgw-nothex"
    (d / cfg.PLATFORM_FILE).write_text(yaml.safe_dump(plat))
    with pytest.raises(ConfigError) as err:
        cfg.load_file(d / f"project-sample-dev{cfg.CONFIG_SUFFIX}", backend_path=BACKEND)
    assert err.value.path.endswith("platform.yml") and err.value.field == "environments.dev.transit_gateway_id"


def test_backend_file_errors_name_the_backend_file(tmp_path: Path) -> None:
    backend = tmp_path / "backend.tf.json"
    shutil.copy(BACKEND, backend)
    backend.write_text(backend.read_text().replace('"encrypt": true', '"encrypt": false'))
    with pytest.raises(ConfigError) as err:
        cfg.load_file(CONFIG_DIR / f"project-sample-dev{cfg.CONFIG_SUFFIX}", backend_path=backend)
    assert err.value.field == "terraform.backend.s3.encrypt"


def test_loaded_collections_are_read_only() -> None:
    c = load_sample("project-sample-production")
    with pytest.raises(TypeError):
        c.network.subnets["workload"]["ap-northeast-1a"] = "10.0.0.0/24"  # type: ignore[index]
    with pytest.raises(TypeError):
        c.tags["Owner"] = "me"  # type: ignore[index]


def test_sample_backend_reaches_state_through_a_role_in_the_state_account() -> None:
    backend = cfg.load_backend(BACKEND)
    accounts = cfg.load_accounts(CONFIG_DIR / cfg.ACCOUNTS_FILE)
    assert backend.assume_role is not None and backend.profile is None
    assert backend.assume_role.role_arn.split(":")[4] == accounts.state_account_id


def test_an_empty_config_file_says_so(tmp_path: Path) -> None:
    d = variant_dir(tmp_path)
    (d / f"project-sample-dev{cfg.CONFIG_SUFFIX}").write_text("")
    with pytest.raises(ConfigError) as err:
        cfg.load_file(d / f"project-sample-dev{cfg.CONFIG_SUFFIX}", backend_path=BACKEND)
    assert err.value.field == "(top level)" and "the file is empty" in err.value.message


def test_a_config_dir_without_accounts_file_points_to_it(tmp_path: Path) -> None:
    d = variant_dir(tmp_path)
    (d / cfg.ACCOUNTS_FILE).unlink()
    with pytest.raises(ConfigError) as err:
        cfg.load_file(d / f"project-sample-dev{cfg.CONFIG_SUFFIX}", backend_path=BACKEND)
    assert err.value.path.endswith(cfg.ACCOUNTS_FILE) and "formerly account_baseline" in err.value.message


@pytest.mark.parametrize(
    "project",
    ["../project-sample", "project-sample/../x", "/etc/passwd", "project-a\nb", "project-sample\n", "Project-x"],
)
def test_project_variable_cannot_leave_the_config_dir(project: str) -> None:
    with pytest.raises(ConfigError) as err:
        cfg.load_project(CONFIG_DIR, project, "dev", backend_path=BACKEND)
    assert err.value.path == "Project" and "\n" not in str(err.value)


def test_missing_config_lists_at_most_ten_and_quotes_odd_names(tmp_path: Path) -> None:
    d = variant_dir(tmp_path)
    for i in range(12):
        (d / f"project-x{i:02d}-dev{cfg.CONFIG_SUFFIX}").write_text("")
    (d / f"project-odd\x1b[31m-dev{cfg.CONFIG_SUFFIX}").write_text("")
    with pytest.raises(ConfigError) as err:
        cfg.load_project(d, "project-nope", "dev", backend_path=BACKEND)
    assert "and 4 more" in err.value.message and "\x1b" not in str(err.value)
