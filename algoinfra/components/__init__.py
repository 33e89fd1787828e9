"""Constructs, one per concern; stacks only wire them together."""
