"""Offline Terraform rehearsal (placeholder docstring, rewritten below)."""
