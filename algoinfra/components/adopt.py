"""Terraform ``import`` blocks for resources that already exist (the config's ``adopt``).

An adopted resource is declared exactly like a new one; its stack's top-level
``import`` list tells Terraform (>= 1.5) to take it over from its id at the
next plan instead of creating it. Once it is in state the block does nothing.

The blocks are a stack override, not cdktf's ``resource.import_from()``: that
one also registers a synth-time check which runs ``terraform version``, so a
machine without Terraform could not synthesize. One consequence: ``cdktf synth
--hcl`` renders only the ``terraform`` block of a stack's overrides, so the HCL
output lacks the import blocks (the JSON output has them).
"""

from __future__ import annotations

import weakref
from typing import Any

from cdktf import TerraformResource, TerraformStack

# stack -> its import blocks, in the order they were added (one list per stack).
_BLOCKS: weakref.WeakKeyDictionary[TerraformStack, list[dict[str, Any]]] = weakref.WeakKeyDictionary()


def import_existing(resource: TerraformResource, import_id: str) -> None:
    """Import ``resource`` from ``import_id`` at the next plan instead of creating it.

    Args:
        resource: the resource as declared (its address is its type and logical id).
        import_id: what the provider's import takes for this type (a bucket name, an
            ARN); may reference a data source (``data.x.arn``), read at plan time.
    """
    stack = TerraformStack.of(resource)
    block: dict[str, Any] = {"to": f"{resource.terraform_resource_type}.{resource.friendly_unique_id}", "id": import_id}
    provider = resource.provider
    if provider is not None and provider.alias:
        block["provider"] = provider.fqn
    blocks = _BLOCKS.setdefault(stack, [])
    if any(b["to"] == block["to"] for b in blocks):
        raise ValueError(f"{block['to']} is imported twice")
    blocks.append(block)
    # The whole list each time: an override on a path replaces what was there.
    stack.add_override("import", list(blocks))
