"""All stacks of one project config, in deploy order."""

from __future__ import annotations

from pathlib import Path

from cdktf import App

from algoinfra.config import ProjectConfig
from stacks import (
    account_baseline,
    algorithm_compute_resource,
    algorithm_dns,
    algorithm_server_infra,
    algorithm_service,
    algorithm_store,
    terraform_state,
)
from stacks.account_baseline import AccountBaselineStack
from stacks.algorithm_compute_resource import AlgorithmComputeResourceStack
from stacks.algorithm_dns import AlgorithmDnsStack
from stacks.algorithm_server_infra import AlgorithmServerInfraStack
from stacks.algorithm_service import AlgorithmServiceStack
from stacks.algorithm_store import AlgorithmStoreStack
from stacks.terraform_state import TerraformStateStack

# Every stack id, in deploy order (account-baseline is left out where a config turns it off).
STACK_IDS = (
    terraform_state.STACK_ID,
    account_baseline.STACK_ID,
    algorithm_store.STACK_ID,
    algorithm_server_infra.STACK_ID,
    algorithm_compute_resource.STACK_ID,
    algorithm_service.STACK_ID,
    algorithm_dns.STACK_ID,
)


def build_app(config: ProjectConfig, outdir: Path) -> App:
    """Every stack of ``config`` in one app; cross-stack values are typed references."""
    app = App(outdir=str(outdir))
    TerraformStateStack(app, config=config)
    baseline = AccountBaselineStack(app, config=config) if config.account.baseline.enabled else None
    store = AlgorithmStoreStack(app, config=config)
    infra = AlgorithmServerInfraStack(app, config=config)
    compute = AlgorithmComputeResourceStack(app, config=config, infra=infra)
    service = AlgorithmServiceStack(app, config=config, store=store, infra=infra, compute=compute)
    if baseline is not None:
        # CodeBuild clones from GitHub with the account's source credential: the baseline comes first.
        service.add_dependency(baseline)
    AlgorithmDnsStack(app, config=config, infra=infra)
    return app


def synth_config(config: ProjectConfig, outdir: Path) -> None:
    build_app(config, outdir).synth()
    terraform_state.link_bootstrap_state(outdir / "stacks" / terraform_state.STACK_ID, config.state_account_id)
