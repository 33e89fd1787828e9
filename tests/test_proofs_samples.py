"""Issues 14 and 15 proven by Terraform itself (the rehearsal) on the sample configs.

Scenarios plan every stack of every sample config in dependency order, keeping each plan's JSON,
and apply the stacks whose outputs others read (so remote-state values are known when the
readers are planned). On the production sample the same state then carries on: the store planned without its KMS
key (14.5), three compute changes applied to ``algorithm-compute-resource`` alone (15.1), and
last a copy with sensitive values, to show that the readability check can fail (14.7).
All Terraform work runs once, in the module fixture (two scenarios at a time); tests read its record.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from algoinfra import config as cfg
from algoinfra.rehearse import schema as sch
from algoinfra.rehearse.scenario import ApplyRun, Scenario
from algoinfra.rehearse.terraform import TerraformError
from tests.conftest import synth_one
from tests.helpers import load_variant
from tests.test_rehearse_standin import proposed, standin

INPUT = ("-input=false", "-no-color")
COMPUTE, SERVICE, STORE, INFRA = (
    "algorithm-compute-resource",
    "algorithm-service",
    "algorithm-store",
    "algorithm-server-infra",
)
PRODUCTION = "project-sample-production"

# --- readable plans (14.7): what a reviewer must read in a plan ---------------------------------------------------

# Resource type -> attributes whose value a reviewer must read in full: never sensitive, known at plan time.
REVIEWED: dict[str, tuple[str, ...]] = {
    "aws_iam_role": ("assume_role_policy",),
    "aws_iam_role_policy": ("policy",),
    "aws_s3_bucket_policy": ("policy",),
    "aws_kms_key": ("policy",),
    "aws_cloudwatch_event_rule": ("event_pattern",),
    "aws_batch_job_definition": ("container_properties",),
}
# Every value of an event target must be readable (never sensitive); ARNs of what the same plan
# creates are "(known after apply)", which is not a review problem.
EVENT_TARGET = "aws_cloudwatch_event_target"


def sensitive_paths(node: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Paths in an ``after_sensitive`` structure that Terraform shows as ``(sensitive value)``."""
    if node is True:
        yield path
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from sensitive_paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from sensitive_paths(v, (*path, i))


def schema_sensitive(kind: sch.Kind, type_name: str, path: tuple[str | int, ...]) -> bool:
    """Does the provider's schema itself mark the attribute at ``path`` sensitive (a password, a token)?"""
    found = sch.lookup(kind, type_name)
    assert found is not None, type_name
    block, steps = found.block, list(path)
    while steps:
        step = steps.pop(0)
        if isinstance(step, int):
            continue  # an element of a list or set block
        if step in block.attributes:
            return block.attributes[step].sensitive
        if step not in block.blocks:
            return False
        nested = block.blocks[step]
        if nested.nesting == "map" and steps:
            steps.pop(0)  # the map key
        block = nested.block
    return False  # the whole object or block


def dotted(path: tuple[str | int, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def sensitivity_problems(plan: dict[str, Any]) -> list[str]:
    """Every value a plan shows as ``(sensitive value)`` although the schema does not call it a secret,
    every reviewed value shown sensitive, and every sensitive output."""
    problems = []
    for rc in plan.get("resource_changes", []):
        kind: sch.Kind = "data" if rc["mode"] == "data" else "resource"
        after = rc["change"].get("after_sensitive")
        for path in sensitive_paths(after):
            if not path or not schema_sensitive(kind, rc["type"], path):
                problems.append(f"{rc['address']}: {dotted(path) or '(the whole object)'} is (sensitive value)")
        for attr in REVIEWED.get(rc["type"], ()) if kind == "resource" else ():
            if after is True or (isinstance(after, dict) and after.get(attr)):
                problems.append(f"{rc['address']}: {attr} is (sensitive value)")
    for name, change in plan.get("output_changes", {}).items():
        if list(sensitive_paths(change.get("after_sensitive"))):
            problems.append(f"output {name} is (sensitive value)")
    return sorted(set(problems))


def reviewed_values(plan: dict[str, Any]) -> dict[str, Any]:
    """``address.attribute`` -> planned value of every reviewed attribute (``None`` when unknown at plan)."""
    out = {}
    for rc in plan.get("resource_changes", []):
        change = rc["change"]
        if rc["mode"] != "managed" or change["after"] is None:  # a data source, or a delete
            continue
        attrs = tuple(change["after"]) if rc["type"] == EVENT_TARGET else REVIEWED.get(rc["type"], ())
        for attr in attrs:
            unknown = (change.get("after_unknown") or {}).get(attr) is True
            out[f"{rc['address']}.{attr}"] = None if unknown else change["after"].get(attr)
    return out


# --- running Terraform --------------------------------------------------------------------------------------------


def producers(outdir: Path) -> set[str]:
    """The stacks whose outputs another stack of ``outdir`` reads (``terraform_remote_state``)."""
    found = set()
    for path in (outdir / "stacks").glob("*/cdk.tf.json"):
        found |= set(re.findall(r"cross-stack-reference-input-([a-z0-9-]+)\.outputs", path.read_text()))
    return found


def plan_and_apply(
    sc: Scenario, outdir: Path, stacks: list[str] | None = None, apply: set[str] | None = None
) -> dict[str, dict[str, Any]]:
    """``stacks`` (all) in dependency order: plan (JSON kept), then apply that very plan when the stack is
    in ``apply`` (all)."""
    ws = sc.workspace(outdir)
    plans = {}
    for stack in [s for s in ws.order if stacks is None or s in stacks]:
        plans[stack] = sc.plan(outdir, stack)
        if apply is not None and stack not in apply:
            continue
        applied = sc.session.run("apply", *INPUT, "-json", "-auto-approve", "tfplan", cwd=ws.stack_dir(stack))
        if not applied.ok:
            raise TerraformError(applied, f"{outdir.name}/{stack}")
    return plans


def plan_or_refusal(sc: Scenario, outdir: Path, stack: str) -> dict[str, Any] | TerraformError:
    try:
        return sc.plan(outdir, stack)
    except TerraformError as refused:
        return refused


@dataclass
class ComputeChange:
    """One compute change applied on top of the previous state: the compute stack's calls, then the service's plan."""

    config: cfg.ProjectConfig
    run: ApplyRun
    service_plan: dict[str, Any]


@dataclass
class ProductionRecord:
    """What the production scenario saw, in the order it ran."""

    plans: dict[str, dict[str, Any]] = field(default_factory=dict)
    store_sse_s3: dict[str, Any] | TerraformError | None = None
    store_retained: dict[str, Any] | TerraformError | None = None
    service_retained: dict[str, Any] | None = None
    changes: dict[str, ComputeChange] = field(default_factory=dict)
    tampered_service_plan: dict[str, Any] = field(default_factory=dict)
    tampered_infra_plan: dict[str, Any] = field(default_factory=dict)


# name -> (change to the compute section, applied on top of the previous one, in this order)
COMPUTE_CHANGES: dict[str, dict[str, Any]] = {
    "spot with fallback -> spot": {"provisioning": "SPOT", "on_demand_fallback": False},
    "spot -> on-demand": {"provisioning": "EC2", "on_demand_fallback": False},
    "on-demand, other instance types": {"provisioning": "EC2", "instance_types": ["g5.4xlarge"]},
}
# Which changes replace a compute environment the schema does not say: the real provider's
# compute_resources.instance_type is ForceNew; the stand-in is told so.
FORCE_NEW = {"aws_batch_compute_environment": ["compute_resources.instance_type"]}


def _tampered(source: Path, target: Path) -> tuple[Path, set[str]]:
    """A copy of a synthesized config with sensitive values: algorithm-server-infra marks its cross-stack
    outputs sensitive (cdktf's default), and in algorithm-service the job definition's references and one
    role policy's document pass through ``sensitive()``. Returns the copy and the values made sensitive."""
    shutil.copytree(source, target, symlinks=True)
    infra_path = target / "stacks" / INFRA / "cdk.tf.json"
    infra = json.loads(infra_path.read_text())
    crossing = [o for name, o in infra["output"].items() if name.startswith("cross-stack-output-")]
    assert crossing
    for output in crossing:
        output["sensitive"] = True
    infra_path.write_text(json.dumps(infra, indent=2))
    service_path = target / "stacks" / SERVICE / "cdk.tf.json"
    service = json.loads(service_path.read_text())
    [(jd_name, jd)] = service["resource"]["aws_batch_job_definition"].items()
    jd["container_properties"], refs = re.subn(
        r"\$\{((?:data\.)?aws_[^}]+)\}", r"${sensitive(\1)}", jd["container_properties"]
    )
    assert refs
    policy_name = sorted(service["resource"]["aws_iam_role_policy"])[0]
    policy = service["resource"]["aws_iam_role_policy"][policy_name]
    assert re.fullmatch(r"\$\{[^}]+\}", policy["policy"])
    policy["policy"] = "${sensitive(" + policy["policy"][2:-1] + ")}"
    service_path.write_text(json.dumps(service, indent=2))
    return target, {
        f"aws_batch_job_definition.{jd_name}: container_properties is (sensitive value)",
        f"aws_iam_role_policy.{policy_name}: policy is (sensitive value)",
    }


def _production(synthesized: Path, variants: dict[str, Path], configs: dict[str, cfg.ProjectConfig]) -> Any:
    record = ProductionRecord()
    with Scenario.start(force_new=FORCE_NEW) as sc:
        # Applied: what other stacks read, and what the steps below change.
        record.plans = plan_and_apply(sc, synthesized, apply=producers(synthesized) | {STORE, COMPUTE, SERVICE})
        # 14.5: the store without its key, against the applied store that has one.
        record.store_sse_s3 = plan_or_refusal(sc, variants["sse-s3"], STORE)
        record.store_retained = plan_or_refusal(sc, variants["sse-s3, key retained"], STORE)
        record.service_retained = sc.plan(variants["sse-s3, key retained"], SERVICE)
        # 15.1: each change applied to the compute stack alone, then the service planned against it.
        for name in COMPUTE_CHANGES:
            run = sc.apply(variants[name], [COMPUTE])
            record.changes[name] = ComputeChange(configs[name], run, sc.plan(variants[name], SERVICE))
        # Last (it changes algorithm-server-infra's outputs): the check must be able to fail.
        tampered = variants["sensitive values"]
        record.tampered_infra_plan = plan_and_apply(sc, tampered, [INFRA])[INFRA]
        record.tampered_service_plan = sc.plan(tampered, SERVICE)
    return record


def _samples(synthesized: list[Path]) -> dict[str, dict[str, dict[str, Any]]]:
    """Each config's stacks planned; applied only where another stack reads the outputs."""
    with Scenario.start() as sc:
        return {d.name: plan_and_apply(sc, d, apply=producers(d)) for d in synthesized}


@dataclass
class Record:
    plans: dict[str, dict[str, dict[str, Any]]]  # config key -> stack -> plan JSON
    production: ProductionRecord
    configs: dict[str, cfg.ProjectConfig]
    tampered: set[str]  # the sensitivity problems the tampered copy must show


@pytest.fixture(scope="module")
def record(synth_root: Path, sample_configs, tmp_path_factory: pytest.TempPathFactory) -> Record:
    tmp = tmp_path_factory.mktemp("proofs-samples")
    configs: dict[str, cfg.ProjectConfig] = {}
    previous: dict[str, Any] = {}
    for name, change in COMPUTE_CHANGES.items():
        previous = {**previous, **change}
        configs[name] = load_variant(tmp / name / "c", PRODUCTION, lambda d, c=dict(previous): d["compute"].update(c))
    configs["sse-s3"] = load_variant(tmp / "sse" / "c", PRODUCTION, lambda d: d["store"].update(encryption="sse-s3"))
    configs["sse-s3, key retained"] = load_variant(
        tmp / "retained" / "c", PRODUCTION, lambda d: d["store"].update(encryption="sse-s3", kms_key_retained=True)
    )
    # Synthesis stays in this thread (one jsii runtime); Terraform runs in parallel below.
    variants = {}
    for name, c in configs.items():
        variants[name] = tmp / name / "out"
        synth_one(c, variants[name])
    variants["sensitive values"], tampered = _tampered(synth_root / PRODUCTION, tmp / "sensitive" / "out")
    with ThreadPoolExecutor(max_workers=2) as pool:
        production = pool.submit(_production, synth_root / PRODUCTION, variants, configs)
        others = pool.submit(_samples, [synth_root / key for key in sample_configs if key != PRODUCTION])
        plans = others.result()
        prod = production.result()
    plans[PRODUCTION] = prod.plans
    return Record(plans, prod, configs, tampered)


# --- 14.7: readable plans -----------------------------------------------------------------------------------------


def test_every_stack_of_every_sample_is_planned_after_its_dependencies(record: Record, synth_root: Path) -> None:
    for key, plans in record.plans.items():
        stacks = {p.parent.name for p in (synth_root / key / "stacks").glob("*/cdk.tf.json")}
        assert set(plans) == stacks, key
        for stack, plan in plans.items():
            assert plan["errored"] is False and plan["resource_changes"], (key, stack)
            # Remote-state values are known: each consumer read its applied producers' outputs.
            remote = [
                r
                for r in plan.get("prior_state", {}).get("values", {}).get("root_module", {}).get("resources", [])
                if r["type"] == "terraform_remote_state"
            ]
            assert all(r["values"]["outputs"] for r in remote), (key, stack)
            assert bool(remote) is (stack in (COMPUTE, SERVICE, "algorithm-dns")), (key, stack)


def test_no_sample_plan_shows_a_sensitive_policy_pattern_or_job_definition(record: Record) -> None:
    problems = {
        (key, stack): found
        for key, plans in record.plans.items()
        for stack, plan in plans.items()
        if (found := sensitivity_problems(plan))
    }
    assert problems == {}


def test_the_reviewed_values_are_in_every_sample_plan_in_full(record: Record) -> None:
    """Policies, event patterns and job definitions built from names are known at plan time, even on
    the first create: the reviewer reads the whole document (no "(known after apply)")."""
    for key, plans in record.plans.items():
        values = {addr: v for plan in plans.values() for addr, v in reviewed_values(plan).items()}
        reviewed = {a: v for a, v in values.items() if a.split(".", 1)[0] != EVENT_TARGET}
        types = {a.split(".", 1)[0] for a in values}
        assert types >= set(REVIEWED) - {"aws_kms_key"} | {EVENT_TARGET}, (key, types)
        assert [a for a, v in reviewed.items() if v is None] == [], key
        for address, text in reviewed.items():
            assert json.loads(text), address  # the document itself, readable JSON
        target = {a.rsplit(".", 1)[1]: v for a, v in values.items() if a.startswith(EVENT_TARGET)}
        assert target["arn"].endswith(f":job-queue/{key}-queue") and target["input_transformer"], key


def test_the_check_fails_on_a_sensitive_value_in_a_reviewed_attribute(record: Record) -> None:
    """The check can fail: a job definition and a role policy built from a sensitive value are exactly
    what it reports in algorithm-service's plan, and a sensitive output in algorithm-server-infra's."""
    assert set(sensitivity_problems(record.production.tampered_service_plan)) == record.tampered
    infra = sensitivity_problems(record.production.tampered_infra_plan)
    assert infra and all(p.startswith("output cross-stack-output-") for p in infra), infra


def test_terraform_drops_the_sensitivity_of_remote_state_outputs(record: Record) -> None:
    """What Terraform 1.15.5 does with cdktf's sensitive cross-stack outputs (hashicorp/terraform#29544, open):
    ``terraform_remote_state`` reads them unmarked. In the tampered copy algorithm-server-infra's outputs are
    sensitive, yet the SageMaker VPC policy built from them is not flagged (only the two values passed
    through ``sensitive()`` are, above). Should Terraform start to carry the mark, this fails: the
    non-sensitive cross-stack outputs (stacks/base.py) are then what keeps the plans readable."""
    plan = record.production.tampered_service_plan
    [vpc_policy] = [
        rc for rc in plan["resource_changes"] if rc["address"].startswith("aws_iam_role_policy.sagemaker_role_vpc-")
    ]
    assert vpc_policy["change"]["after_sensitive"] == {}
    remote = [
        r
        for r in plan["prior_state"]["values"]["root_module"]["resources"]
        if r["type"] == "terraform_remote_state" and INFRA in r["name"]
    ]
    assert remote and [p for r in remote for p in sensitive_paths(r["sensitive_values"])] == []
    assert "subnet/subnet-" in vpc_policy["change"]["after"]["policy"], "the policy does read the outputs"


def test_only_what_the_schema_calls_a_secret_is_sensitive(record: Record) -> None:
    """The class rule lets through what the provider itself marks sensitive (a token, a parameter value), and
    no reviewed attribute is one of those: the allowance can never excuse a policy."""
    seen = {
        (rc["type"], dotted(path))
        for plans in record.plans.values()
        for plan in plans.values()
        for rc in plan["resource_changes"]
        for path in sensitive_paths(rc["change"].get("after_sensitive"))
    }
    assert ("aws_codebuild_source_credential", "token") in seen
    assert ("aws_ssm_parameter", "value") in seen
    for rtype, attrs in REVIEWED.items():
        assert not any(schema_sensitive("resource", rtype, (a,)) for a in attrs), rtype
    assert schema_sensitive("resource", "aws_codebuild_source_credential", ("token",))


# --- 15.1: changing compute applies in one stack ------------------------------------------------------------------


def environments(run: ApplyRun) -> list[tuple[str, str]]:
    return [(c.address, c.action) for c in run.calls if c.type == "aws_batch_compute_environment"]


def queue_calls(run: ApplyRun) -> list[tuple[str, str]]:
    return [(c.address, c.action) for c in run.calls if c.type == "aws_batch_job_queue"]


def assert_create_update_delete(run: ApplyRun, created: list[str], deleted: list[str]) -> None:
    """Only the compute stack applied anything: new environments, then the queue, then the old ones."""
    assert set(run.results) == {COMPUTE}
    assert {c.type for c in run.calls} == {"aws_batch_compute_environment", "aws_batch_job_queue"}, run.order()
    [(queue, action)] = queue_calls(run)
    assert action == "update"
    expected = [(a, "create") for a in created] + [(queue, "update")] + [(a, "delete") for a in deleted]
    assert run.order() == expected


def assert_service_untouched(change: ComputeChange) -> None:
    """algorithm-service plans no change at all, and its trigger still names the queue the compute stack updated."""
    plan = change.service_plan
    assert {tuple(rc["change"]["actions"]) for rc in plan["resource_changes"]} == {("no-op",)}
    [queue] = [c for c in change.run.calls if c.type == "aws_batch_job_queue"]
    [target] = [rc for rc in plan["resource_changes"] if rc["type"] == EVENT_TARGET]
    assert target["change"]["after"]["arn"] == queue.id
    assert str(queue.id).endswith(f":job-queue/{change.config.key}-queue")


def test_turning_the_on_demand_fallback_off_updates_the_queue_then_deletes_the_environment(record: Record) -> None:
    change = record.production.changes["spot with fallback -> spot"]
    [(old, _)] = environments(change.run)
    assert "ec2" in old.lower()
    assert_create_update_delete(change.run, created=[], deleted=[old])
    assert_service_untouched(change)


def test_spot_to_on_demand_creates_updates_the_queue_then_deletes(record: Record) -> None:
    change = record.production.changes["spot -> on-demand"]
    (new, created), (old, deleted) = environments(change.run)
    assert (created, deleted) == ("create", "delete") and new != old
    assert "ec2" in new.lower() and "spot" in old.lower()
    assert_create_update_delete(change.run, created=[new], deleted=[old])
    assert_service_untouched(change)


def test_a_replacing_change_is_create_before_destroy_in_one_stack(record: Record) -> None:
    change = record.production.changes["on-demand, other instance types"]
    [address] = {a for a, _ in environments(change.run)}
    assert_create_update_delete(change.run, created=[address], deleted=[address])
    new, old = change.run.calls[0].id, change.run.calls[-1].id
    prefix = f":compute-environment/{change.config.key}-ec2-"
    assert new != old and prefix in str(new) and prefix in str(old), "name_prefix: both exist at once"
    assert_service_untouched(change)


# --- 14.5: the KMS key that old data depends on -------------------------------------------------------------------


def actions_on(plan: dict[str, Any], *types: str) -> dict[str, list[str]]:
    return {rc["address"]: rc["change"]["actions"] for rc in plan["resource_changes"] if rc["type"] in types}


KEY_TYPES = ("aws_kms_key", "aws_kms_alias")


def test_dropping_the_store_key_never_schedules_its_deletion(record: Record) -> None:
    """A protected store that switches from kms to sse-s3: Terraform refuses (prevent_destroy), or at least
    deletes nothing (the key forgotten, not destroyed) while noncurrent versions may still need it."""
    plan = record.production.store_sse_s3
    if isinstance(plan, TerraformError):
        assert any("aws_kms_key." in f"{e.address} {e.detail}" for e in plan.result.errors), str(plan)
        return
    assert plan is not None
    deleted = {a: act for a, act in actions_on(plan, *KEY_TYPES).items() if "delete" in act}
    assert deleted == {}, "the store key is scheduled for deletion"


def test_a_retained_key_stays_and_stays_readable(record: Record) -> None:
    plan = record.production.store_retained
    assert plan is not None and not isinstance(plan, TerraformError), str(plan)
    actions = actions_on(plan, *KEY_TYPES)
    assert len(actions) == 2 and [a for a, act in actions.items() if "delete" in act] == [], actions
    [repository] = actions_on(plan, "aws_ecr_repository").values()
    assert "delete" not in repository, "the images stay (ECR replaces a repository whose encryption changes)"
    encryption = [
        rc["change"]["after"]
        for rc in plan["resource_changes"]
        if rc["type"] == "aws_s3_bucket_server_side_encryption_configuration"
    ]
    assert encryption and all(
        e["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == "AES256" for e in encryption
    )
    service = record.production.service_retained
    assert service is not None
    readers = [
        rc["address"]
        for rc in service["resource_changes"]
        if rc["type"] == "aws_iam_role_policy" and "kms:Decrypt" in rc["change"]["after"]["policy"]
    ]
    assert readers, "readers of old object versions keep kms:Decrypt on the retained key"


def test_the_stand_in_replaces_a_repository_whose_encryption_changes() -> None:
    """ECR fixes a repository's encryption at creation (the provider's encryption_configuration is ForceNew):
    switching store.encryption plans a replacement of the image repository, as the real plan would (and AWS
    refuses to delete a repository that holds images: force_delete is false)."""
    s = standin()
    config = proposed("aws_ecr_repository", name="r", encryption_configuration=[{"encryption_type": "KMS"}])
    state = s.apply("aws_ecr_repository", None, s.plan("aws_ecr_repository", None, config, None)[0])
    changed = {**state, "encryption_configuration": [{"encryption_type": "AES256", "kms_key": None}]}
    assert s.plan("aws_ecr_repository", state, changed, None)[1] == [["encryption_configuration"]]
    assert s.plan("aws_ecr_repository", state, {**state, "image_tag_mutability": "MUTABLE"}, None)[1] == []
