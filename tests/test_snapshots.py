"""Snapshots of every stack of every sample config: a diff here is a change to real infrastructure.

Update deliberately with ``make snapshot-update`` and review every changed logical id.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from stacks.app import STACK_IDS
from tests.helpers import SAMPLE_KEYS


class SortedJSON(JSONSnapshotExtension):
    """Pretty JSON with sorted keys, one file per snapshot."""

    def serialize(self, data: Any, **kwargs: Any) -> str:
        return (
            json.dumps(json.loads(super().serialize(data, **kwargs)), indent=2, sort_keys=True, ensure_ascii=False)
            + "\n"
        )


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(SortedJSON)


@pytest.mark.parametrize("stack_id", STACK_IDS)
@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_stack_snapshot(stacks, key: str, stack_id: str, snapshot_json) -> None:
    if stack_id not in stacks[key]:
        assert stack_id == "account-baseline"  # off in this config; test_store checks that
        return
    assert stacks[key][stack_id] == snapshot_json
