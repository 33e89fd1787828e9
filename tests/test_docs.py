"""Docs that match the code: the release notes name the current version."""

from __future__ import annotations

import json
import re
import tomllib
import unicodedata
import urllib.parse
from pathlib import Path

import pytest

from tests.helpers import ROOT

HEADING = re.compile(r"^## \[(?P<version>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}|Unreleased))?$", re.M)


def test_the_version_has_a_changelog_heading_and_package_json_agrees() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    assert json.loads((ROOT / "package.json").read_text())["version"] == version
    headings = [m.group("version") for m in HEADING.finditer((ROOT / "CHANGELOG.md").read_text())]
    assert headings and headings[0] in (version, "Unreleased"), "the newest CHANGELOG section is not this version"
    assert version in headings


def test_changelog_is_newest_first_and_dated() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    sections = [(m.group("version"), m.group("date")) for m in HEADING.finditer(text)]
    versions = [tuple(int(n) for n in v.split(".")) for v, _ in sections if v != "Unreleased"]
    assert versions == sorted(versions, reverse=True) and len(versions) == len(set(versions))
    assert all(date for v, date in sections if v != "Unreleased"), "a released version needs its date"
    assert all(date != "Unreleased" for _, date in sections[1:]), "only the newest section can be unreleased"


# ---- links and anchors -------------------------------------------------------

DOCS = ["README.md", "docs/runbook.ja.md", "CHANGELOG.md"]
FENCE = re.compile(r"^(```|~~~)")
LINK = re.compile(r"(?<!!)\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING_LINE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks."""
    out, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            out.append(line)
    return out


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lowercase, punctuation removed, spaces to hyphens."""
    parts = re.sub(r"<!--.*?-->", "", heading).split("`")
    # HTML tags and link targets go, except inside code spans, which are literal text
    parts = [
        p if i % 2 else re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", re.sub(r"<[^>]+>", "", p)) for i, p in enumerate(parts)
    ]
    text = "".join(parts)
    text = text.replace("`", "").replace("*", "").strip().lower()
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LNM")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    counts: dict[str, int] = {}
    for line in prose_lines(path.read_text()):
        m = HEADING_LINE.match(line)
        if not m:
            continue
        base = slug(m.group(2))
        n = counts.get(base, 0)
        counts[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    found |= set(re.findall(r"<a (?:name|id)=\"([^\"]+)\"", path.read_text()))
    return found


def broken_links(path: Path) -> list[str]:
    problems = []
    for line in prose_lines(path.read_text()):
        for target in LINK.findall(re.sub(r"`[^`]*`", "", line)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
                continue
            file_part, _, anchor = target.partition("#")
            dest = (path.parent / file_part).resolve() if file_part else path
            if not dest.exists():
                problems.append(f"{path.name}: {target}: no such file")
            elif anchor and (dest.is_dir() or urllib.parse.unquote(anchor) not in anchors(dest)):
                problems.append(f"{path.name}: {target}: no such heading in {dest.name}")
    return problems


def test_github_anchor_rules() -> None:
    assert slug("2. AWSアカウントでの準備 (account-baseline)") == "2-awsアカウントでの準備-account-baseline"
    assert slug("DNS across accounts (`algorithm-dns`)") == "dns-across-accounts-algorithm-dns"
    assert slug("Project config: `configs/<project>-<env>-algorithm-server-infra.yml`") == (
        "project-config-configsproject-env-algorithm-server-infrayml"
    )
    assert slug("9. トラブルシューティング") == "9-トラブルシューティング"
    assert slug("推論アルゴリズムサーバのinfra環境構築 (CDKTF版)  <!-- omit in toc -->") == (
        "推論アルゴリズムサーバのinfra環境構築-cdktf版"
    )


def test_the_checker_finds_a_broken_link(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    (tmp_path / "other.md").write_text("# Other\n\n## 手順 (1)\n")
    doc.write_text(
        "# Title\n\n[ok](#title) [ok2](other.md#手順-1) [web](https://example.com/x#y)\n"
        "[gone](#nope) [missing](missing.md) [bad](other.md#other-2)\n```\n[code](#ignored)\n```\n"
    )
    assert broken_links(doc) == [
        "doc.md: #nope: no such heading in doc.md",
        "doc.md: missing.md: no such file",
        "doc.md: other.md#other-2: no such heading in other.md",
    ]


@pytest.mark.parametrize("doc", DOCS)
def test_every_relative_link_and_anchor_exists(doc: str) -> None:
    path = ROOT / doc
    assert LINK.search(path.read_text()) or doc == "CHANGELOG.md"
    assert broken_links(path) == []


# ---- what the operator docs must say -------------------------------------------


def sections(path: Path) -> list[tuple[str, list[tuple[bool, str]]]]:
    """(heading, its lines as (in a fenced code block, line)) for every heading."""
    out: list[tuple[str, list[tuple[bool, str]]]] = [("", [])]
    fenced = False
    for line in path.read_text().splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
            continue
        m = HEADING_LINE.match(line)
        if m and not fenced:
            out.append((m.group(2), []))
        else:
            out[-1][1].append((fenced, line))
    return out


@pytest.mark.parametrize("doc", ["README.md", "docs/runbook.ja.md"])
def test_a_preview_comes_before_every_deploy(doc: str) -> None:
    """In each section, every `npx cdktf deploy` command follows a `make plan` or an `npx cdktf diff`."""
    deploys = 0
    for heading, lines in sections(ROOT / doc):
        for i, (fenced, line) in enumerate(lines):
            if fenced and "cdktf deploy" in line:
                deploys += 1
                before = "\n".join(text for _, text in lines[:i])
                assert "make plan" in before or "cdktf diff" in before, f"{doc}: {heading}: {line.strip()}"
    assert deploys >= 4


@pytest.mark.parametrize("doc", ["README.md", "docs/runbook.ja.md"])
def test_the_token_never_goes_on_the_command_line(doc: str) -> None:
    lines = [line for line in (ROOT / doc).read_text().splitlines() if "put-secret-value" in line]
    assert lines
    for line in lines:
        assert "--secret-string file://" in line and "$(" not in line, line


def test_runbook_bootstraps_the_state_backend_before_the_account_baseline() -> None:
    path = ROOT / "docs" / "runbook.ja.md"
    text = path.read_text()
    contents = [line for line in prose_lines(text) if line.startswith("- [")]
    titles = [re.sub(r"^- \[(.*)\]\(.*$", r"\1", line) for line in contents]
    state = next(i for i, t in enumerate(titles) if "terraform-state" in t)
    baseline = next(i for i, t in enumerate(titles) if "account-baseline" in t)
    assert state < baseline
    assert text.index("npx cdktf deploy terraform-state") < text.index("npx cdktf deploy account-baseline")
    # the contents list every numbered section, in order
    numbered = [m.group(2) for line in prose_lines(text) if (m := HEADING_LINE.match(line)) and m.group(1) == "##"]
    assert titles == [t for t in numbered if re.match(r"^\d+\. ", t)]
    body = text[text.index("トラブルシューティング\n") :]
    for symptom in ("execvp", "checkpoint-api.hashicorp.com", "state lock", "AWS account ID not allowed", "Node 20"):
        assert symptom in body, symptom
