"""Text that reaches Terraform: always literal, and valid where AWS restricts it."""

from __future__ import annotations

import re
from collections.abc import Mapping

# What EC2 accepts in security group and security group rule descriptions.
_EC2_DESCRIPTION_RE = re.compile(r"^[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]{0,255}$")


def literal(text: str) -> str:
    """``text`` as Terraform must receive it to read it back unchanged.

    Terraform reads ``${`` and ``%{`` in every string as the start of a
    template expression (a buildspec's ``${VAR%%/*}``, a user's tag). Escaped
    as ``$${`` and ``%%{`` they read back as themselves; nothing else changes.
    """
    return text.replace("${", "$${").replace("%{", "%%{")


def literal_tags(tags: Mapping[str, str]) -> dict[str, str]:
    return {literal(k): literal(v) for k, v in tags.items()}


def ec2_description(text: str) -> str:
    """A security group or rule description, checked against EC2's rules at synth time.

    EC2 refuses anything else on apply, long after review (an apostrophe was enough).
    """
    if not _EC2_DESCRIPTION_RE.match(text):
        bad = sorted({c for c in text if not _EC2_DESCRIPTION_RE.match(c)})
        detail = f"characters {''.join(bad)!r}" if bad else f"{len(text)} characters (at most 255)"
        raise ValueError(f"EC2 refuses the description {text!r}: {detail}")
    return literal(text)
