"""The stacks: each one builds constructs from ``algoinfra.components`` and wires them."""
