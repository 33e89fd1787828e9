"""Text that reaches Terraform: always literal."""

from __future__ import annotations

from collections.abc import Mapping


def literal(text: str) -> str:
    """``text`` as Terraform must receive it to read it back unchanged.

    Terraform reads ``${`` and ``%{`` in every string as the start of a
    template expression (a buildspec's ``${VAR%%/*}``, a user's tag). Escaped
    as ``$${`` and ``%%{`` they read back as themselves; nothing else changes.
    """
    return text.replace("${", "$${").replace("%{", "%%{")


def literal_tags(tags: Mapping[str, str]) -> dict[str, str]:
    return {literal(k): literal(v) for k, v in tags.items()}
