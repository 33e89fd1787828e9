"""Docs that match the code: the release notes name the current version."""

from __future__ import annotations

import json
import re
import tomllib

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
