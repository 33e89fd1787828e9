"""The reading layer (algoinfra.inputs) and the one-line contract, class by class (issue 19).

Each class of hostile input is refused by the reader functions with a
ConfigError naming the file (and the field, and the line, when there is one),
next to a good input of the same kind that is read; a representative case per
class goes through main.py as users run it. The fuzz at the end feeds mangled
samples to the readers: nothing but ConfigError may come out.
"""

from __future__ import annotations

import codecs
import errno
import json
import os
import random
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from algoinfra import config as cfg
from algoinfra import inputs
from algoinfra.errors import (
    LINE_LIMIT,
    ConfigError,
    VariableError,
    field_path,
    one_line,
    shown,
    shown_path,
)
from tests.helpers import BACKEND, CONFIG_DIR, ROOT, sample_path
from tests.test_main import permissions_apply, run_main

Reader = Callable[[Path], Any]
READERS = {"yaml": inputs.read_yaml, "json": inputs.read_json}
SAMPLE = "project-sample-dev"
SAMPLE_FILE = f"{SAMPLE}{cfg.CONFIG_SUFFIX}"


def write(tmp: Path, data: bytes | str, name: str = "input.yml") -> Path:
    path = tmp / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def refused(read: Reader, path: Path, *, field: str | None = None, fragment: str = "") -> ConfigError:
    """``read(path)`` raises ConfigError naming ``path`` (and ``field``) in one bounded line."""
    with pytest.raises(ConfigError) as err:
        read(path)
    exc = err.value
    assert type(exc) is ConfigError
    assert exc.path == str(path)
    if field is not None:
        assert exc.field == field, str(exc)
    assert fragment in exc.message, str(exc)
    assert_one_line(str(exc))
    return exc


def assert_one_line(line: str) -> None:
    assert len(line.splitlines()) == 1 and line.isprintable(), repr(line)
    assert len(line) <= LINE_LIMIT
    line.encode("utf-8")  # no lone surrogate can reach the terminal


def within(seconds: float, call: Callable[[], Any]) -> Any:
    """``call()`` in a daemon thread: a read that blocks (a FIFO opened) fails the test instead of hanging it."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s: the read blocks"
    if "error" in box:
        raise box["error"]
    return box.get("value")


# ---------------------------------------------------------------------------
# Running main.py on a config dir (or a whole root, for backend.tf.json)
# ---------------------------------------------------------------------------


def sample_dir(tmp: Path, *, edit: Callable[[Path], None] | None = None) -> Path:
    """A config dir with the platform file and the dev sample, as text, then ``edit(dir)``."""
    d = tmp / "configs"
    d.mkdir(parents=True, exist_ok=True)
    for name in (cfg.PLATFORM_FILE, cfg.ACCOUNTS_FILE):
        shutil.copy(CONFIG_DIR / name, d / name)
    shutil.copy(sample_path(SAMPLE), d / SAMPLE_FILE)
    if edit is not None:
        edit(d)
    return d


def refused_by_main(
    tmp: Path, env: dict[str, str], *fragments: str, root: Path = ROOT, popen: dict[str, Any] | None = None
) -> str:
    """main.py exits 2 with exactly one line naming what is wrong, no traceback, and writes nothing."""
    out = tmp / "out" / "cdktf.out"
    result = run_main({"CDKTF_OUTDIR": str(out), **env}, main=root / "main.py", timeout=10, **(popen or {}))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    line = result.stderr.rstrip("\n")
    assert_one_line(line)
    for fragment in fragments:
        assert fragment in line, line
    assert not (tmp / "out").exists(), "main.py wrote something"
    return line


def edited(name: str, change: Callable[[str], str | bytes]) -> Callable[[Path], None]:
    def edit(d: Path) -> None:
        new = change((d / name).read_text())
        (d / name).write_bytes(new.encode() if isinstance(new, str) else new)

    return edit


def raw_value(field: str, raw: str) -> Callable[[str], str]:
    """The sample with ``field`` (``compute.max_vcpus``) set to ``raw`` YAML text, as written."""

    def change(text: str) -> str:
        import yaml

        data = yaml.safe_load(text)
        *parents, last = field.split(".")
        node = data
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = "__RAW__"
        return yaml.safe_dump(data, sort_keys=False).replace("__RAW__", raw)

    return change


# ---------------------------------------------------------------------------
# Good input: the samples read as plain trees
# ---------------------------------------------------------------------------


def test_samples_read_as_the_same_data_as_before() -> None:
    import yaml

    for path in [CONFIG_DIR / cfg.PLATFORM_FILE, *cfg.list_configs(CONFIG_DIR)]:
        assert inputs.read_yaml(path) == yaml.safe_load(path.read_text())
    assert inputs.read_json(BACKEND) == json.loads(BACKEND.read_text())


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("a: 12", 12),
        ("a: -3", -3),
        ("a: +4", 4),
        ("a: 0", 0),
        ("a: 1.5", 1.5),
        ("a: 1e3", 1000.0),
        ("a: .5", 0.5),
        ("a: true", True),
        ("a: True", True),
        ("a: FALSE", False),
        ("a: null", None),
        ("a: ~", None),
        ("a:", None),
        ("a: '200000000001'", "200000000001"),
        ("a: !!str 07200", "07200"),
        ("a: '1:00'", "1:00"),
        ("a: 2024-01-01", "2024-01-01"),  # no implicit timestamps
        ("a: 2001-12-14t21:59:43.10-05:00", "2001-12-14t21:59:43.10-05:00"),
        ("a: '='", "="),
        ("a: 10.0.0.0/16", "10.0.0.0/16"),
        ("a: ap-northeast-1a", "ap-northeast-1a"),
        ("a: tRuE", "tRuE"),  # not a YAML 1.2 boolean, not a YAML 1.1 one either
        ("a: 99999999999999999999", 99999999999999999999),
        ("a: |\n  x\n  y\n", "x\ny\n"),
        ("a: プロジェクト", "プロジェクト"),
    ],
)
def test_yaml_scalars_resolve_by_the_yaml_1_2_core_schema(tmp_path: Path, text: str, value: Any) -> None:
    assert inputs.read_yaml(write(tmp_path, text)) == {"a": value}


def test_yaml_result_is_a_plain_tree_even_with_aliases(tmp_path: Path) -> None:
    data = inputs.read_yaml(write(tmp_path, "azs: &azs [a, c]\nother: *azs\n"))
    assert data == {"azs": ["a", "c"], "other": ["a", "c"]}
    assert data["azs"] is not data["other"]  # no shared nodes: changing one never changes the other


# ---------------------------------------------------------------------------
# Class: exceptions the loader did not catch
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "a: !!float abc",
        "a: !!float 1.5",
        "a: !!int x",
        "a: !!int 12",
        "a: !!bool maybe",
        "a: !!null x",
        "a: !!timestamp 2024-13-45",
        "a: !!timestamp 2024-01-01",
        "a: !!binary '###'",
        "a: !!python/object/apply:os.system ['true']",
        "a: !!python/name:os.system ''",
        "a: !!set {x: null}",
        "a: !!omap [x: 1]",
        "a: !custom x",
        "a: !<tag:yaml.org,2002:int> 12",
        "a: !!map {x: !!foo 1}",
    ],
)
def test_explicit_yaml_tags_are_refused_with_their_line(tmp_path: Path, text: str) -> None:
    exc = refused(inputs.read_yaml, write(tmp_path, text), fragment="explicit YAML tag")
    assert exc.field.startswith("a") and exc.message.startswith("line 1, column ")
    # good, next to it: the same value without the tag, or quoted
    value = text.split(" ", 2)[-1]
    assert inputs.read_yaml(write(tmp_path, f"a: '{value.replace(chr(39), chr(39) * 2)}'")) == {"a": value}


def test_str_tag_and_collection_tags_are_read(tmp_path: Path) -> None:
    assert inputs.read_yaml(write(tmp_path, "a: !!str 12\nb: !!map {c: !!seq [1]}")) == {"a": "12", "b": {"c": [1]}}


@pytest.mark.parametrize("digits", [21, 400, 4301, 100_000])
def test_integers_too_long_are_refused(tmp_path: Path, digits: int) -> None:
    refused(inputs.read_yaml, write(tmp_path, f"a: {'9' * digits}"), field="a", fragment=f"{digits} digits")
    refused(inputs.read_yaml, write(tmp_path, f"a: [-{'1' * digits}]"), field="a[0]", fragment="digits")
    refused(inputs.read_json, write(tmp_path, f'{{"a": {"9" * digits}}}', "b.json"), field="a", fragment="digits")
    refused(inputs.read_json, write(tmp_path, f'{{"a": -{"9" * digits}}}', "b.json"), field="a", fragment="digits")
    # good: 20 digits (any 64-bit integer)
    assert inputs.read_yaml(write(tmp_path, f"a: {'9' * 20}")) == {"a": int("9" * 20)}
    assert inputs.read_json(write(tmp_path, f'{{"a": {"9" * 20}}}', "b.json")) == {"a": int("9" * 20)}


def _nested_yaml(kind: str, depth: int) -> str:
    """``depth`` lists or mappings nested in each other, cut at the size bound (still too deep where cut)."""
    if kind == "flow-seq":
        text = "[" * depth + "]" * depth
    elif kind == "flow-map":
        text = "{a: " * depth + "1" + "}" * depth
    else:
        lines, size = [], 0
        for i in range(depth + 1):
            line = "  " * i + ("a:\n" if kind == "block-map" else "-\n")
            if i == depth:
                line = "  " * i + ("b: 1\n" if kind == "block-map" else "- 1\n")
            size += len(line)
            if size > inputs.MAX_BYTES:
                break
            lines.append(line)
        text = "".join(lines)
    return text[: inputs.MAX_BYTES]


@pytest.mark.parametrize("kind", ["flow-seq", "flow-map", "block-map", "block-seq"])
@pytest.mark.parametrize("depth", [inputs.MAX_DEPTH + 1, 1000, 100_000])
def test_deep_yaml_is_refused_without_recursion_error(tmp_path: Path, kind: str, depth: int) -> None:
    text = _nested_yaml(kind, depth)
    exc = refused(inputs.read_yaml, write(tmp_path, text))
    assert "nested deeper than" in exc.message or "exceeded maximum" in exc.message or "YAML syntax" in exc.message


@pytest.mark.parametrize("kind", ["flow-seq", "flow-map", "block-map", "block-seq"])
def test_nesting_at_the_bound_is_read(tmp_path: Path, kind: str) -> None:
    data = inputs.read_yaml(write(tmp_path, _nested_yaml(kind, inputs.MAX_DEPTH - 1)))
    assert data is not None


@pytest.mark.parametrize("depth", [inputs.MAX_DEPTH + 1, 5000, 200_000])
def test_deep_json_is_refused_without_recursion_error(tmp_path: Path, depth: int) -> None:
    for text in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth, "[" * depth):
        path = write(tmp_path, text[: inputs.MAX_BYTES], "b.json")
        refused(inputs.read_json, path, fragment="nested deeper than")
    good = '{"a":' * (inputs.MAX_DEPTH - 1) + "1" + "}" * (inputs.MAX_DEPTH - 1)
    assert inputs.read_json(write(tmp_path, good, "b.json")) is not None
    # brackets inside strings are not nesting
    assert inputs.read_json(write(tmp_path, json.dumps({"a": "[" * 1000}), "b.json")) == {"a": "[" * 1000}


ENCODINGS = [
    # (id, bytes of a small document, fragment of the message)
    ("latin-1", "project: caf\xe9\n".encode("latin-1"), "not UTF-8: byte e9 at byte offset 12 (line 1)"),
    ("latin-1-line-3", b"a: 1\nb: 2\nc: \xe9t\xe9\n", "(line 3)"),
    ("utf-16-le-bom", codecs.BOM_UTF16_LE + "a: 1\n".encode("utf-16-le"), "UTF-16 (little-endian)"),
    ("utf-16-be-bom", codecs.BOM_UTF16_BE + "a: 1\n".encode("utf-16-be"), "UTF-16 (big-endian)"),
    ("utf-16-le", "a: 1\n".encode("utf-16-le"), "UTF-16 or UTF-32?"),
    ("utf-16-be", "a: 1\n".encode("utf-16-be"), "NUL byte at byte offset 0"),
    ("utf-32-le-bom", codecs.BOM_UTF32_LE + "a: 1\n".encode("utf-32-le"), "UTF-32 (little-endian)"),
    ("utf-32-be-bom", codecs.BOM_UTF32_BE + "a: 1\n".encode("utf-32-be"), "UTF-32 (big-endian)"),
    ("utf-32-le", "a: 1\n".encode("utf-32-le"), "NUL byte"),
    ("stray-ff", b"a: 1\n\xff\n", "byte ff at byte offset 5 (line 2)"),
    ("overlong", b"a: \xc0\xaf\n", "not UTF-8"),
    ("encoded-surrogate", b"a: \xed\xa0\x80\n", "not UTF-8"),
    ("truncated", b"a: \xe3\x81", "not UTF-8"),
    ("nul", b"a: 1\x00\n", "NUL byte at byte offset 4"),
    ("cp1252-quotes", b"a: \x93x\x94\n", "not UTF-8"),
    ("shift-jis", "a: 東京\n".encode("shift_jis"), "not UTF-8"),
]


@pytest.mark.parametrize("kind", sorted(READERS))
@pytest.mark.parametrize(("data", "fragment"), [e[1:] for e in ENCODINGS], ids=[e[0] for e in ENCODINGS])
def test_anything_but_utf8_is_refused_with_the_byte_offset(
    tmp_path: Path, kind: str, data: bytes, fragment: str
) -> None:
    refused(READERS[kind], write(tmp_path, data, f"input.{kind}"), field="", fragment=fragment)


@pytest.mark.parametrize("kind", sorted(READERS))
def test_utf8_with_or_without_bom_is_read(tmp_path: Path, kind: str) -> None:
    text = 'a: "東京 café"\n' if kind == "yaml" else '{"a": "東京 café"}'
    for data in (text.encode(), codecs.BOM_UTF8 + text.encode()):
        assert READERS[kind](write(tmp_path, data, f"input.{kind}")) == {"a": "東京 café"}


JSON_NUMBERS = [
    ("1e999", "out of range"),
    ("-1e999", "out of range"),
    ("NaN", "NaN and Infinity are refused"),
    ("Infinity", "NaN and Infinity are refused"),
    ("-Infinity", "NaN and Infinity are refused"),
    ("1." + "1" * 60, "at most 40"),
    ("9" * 30, "30 digits"),
]


@pytest.mark.parametrize(("number", "fragment"), JSON_NUMBERS)
def test_json_numbers_that_are_not_plain_numbers_are_refused(tmp_path: Path, number: str, fragment: str) -> None:
    path = write(tmp_path, f'{{"terraform": {{"backend": [1, {number}]}}}}', "b.json")
    refused(inputs.read_json, path, field="terraform.backend[1]", fragment=fragment)


@pytest.mark.parametrize("text", ["01", "1.", ".5", "+1", "0x10", "1e", "--1", "[1,]", "{'a': 1}", '{"a" 1}', ""])
def test_malformed_json_is_a_syntax_error_with_line_and_column(tmp_path: Path, text: str) -> None:
    refused(inputs.read_json, write(tmp_path, f'{{"a": {text}}}' if text else "", "b.json"), fragment="line 1, column")


def test_good_json_numbers_are_read(tmp_path: Path) -> None:
    path = write(tmp_path, '{"a": [0, -1, 1.5, 1e3, -2.5E-3, 123456789012]}', "b.json")
    assert inputs.read_json(path) == {"a": [0, -1, 1.5, 1000.0, -0.0025, 123456789012]}


def test_symlink_loop_is_one_line_and_printing_it_cannot_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.yml").symlink_to(tmp_path / "b.yml")
    (tmp_path / "b.yml").symlink_to(tmp_path / "a.yml")
    (tmp_path / "self.yml").symlink_to("self.yml")
    monkeypatch.chdir(tmp_path)
    for name in ("a.yml", "self.yml"):
        for read in READERS.values():
            exc = refused(read, Path(name), field="", fragment="symlink loop")
            assert str(exc).startswith(f"{name}: ")  # relative, as given
        assert shown_path(tmp_path / name) == name
    # good: a symlink to a regular file is read
    (tmp_path / "ok.yml").write_text("a: 1\n")
    (tmp_path / "link.yml").symlink_to("ok.yml")
    assert inputs.read_yaml(Path("link.yml")) == {"a": 1}


def test_shown_path_survives_a_vanished_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    assert shown_path("x/y.yml") == "x/y.yml"
    assert str(ConfigError("x/y.yml", "f", "m")) == "x/y.yml: f: m"


def test_mixed_key_types_never_reach_the_config(tmp_path: Path) -> None:
    for text, fragment in [
        ("1: a\nb: c\n", "key '1' is read as a number"),
        ("b: c\n12.5: a\n", "key '12.5' is read as a number"),
        ("true: x\n", "key 'true' is read as a boolean"),
        ("null: x\n", "key 'null' is read as null"),
        ("~: x\n", "key '~' is read as null"),
        ("? [a, b]\n: x\n", "keys must be plain strings"),
        ("? {a: 1}\n: x\n", "keys must be plain strings"),
    ]:
        refused(inputs.read_yaml, write(tmp_path, text), fragment=fragment)
    assert inputs.read_yaml(write(tmp_path, "'1': a\nb: c\n'true': x\n")) == {"1": "a", "b": "c", "true": "x"}


@pytest.mark.parametrize("kind", sorted(READERS))
def test_over_long_names_are_one_line(tmp_path: Path, kind: str) -> None:
    refused(READERS[kind], tmp_path / ("x" * 300), field="", fragment="file name too long")
    refused(READERS[kind], tmp_path / "missing.yml", field="", fragment="no such file or directory")
    (tmp_path / "file").write_text("a: 1")
    refused(
        READERS[kind], tmp_path / "file" / "below.yml", field="", fragment="a parent of the path is not a directory"
    )


def test_os_problems_are_a_few_words() -> None:
    for code, words in [
        (errno.EACCES, "permission denied"),
        (errno.ELOOP, "symlink loop"),
        (errno.ENAMETOOLONG, "file name too long"),
        (errno.EISDIR, "is a directory"),
        (errno.EIO, "Input/output error"),
    ]:
        assert words in inputs.os_problem(OSError(code, os.strerror(code)))


# ---------------------------------------------------------------------------
# Class: inputs that hang or crawl
# ---------------------------------------------------------------------------

BILLION_LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
)


def test_alias_bombs_are_refused(tmp_path: Path) -> None:
    refused(inputs.read_yaml, write(tmp_path, BILLION_LAUGHS), fragment="once aliases are expanded")
    # each alias doubling: 2**40 values from 40 lines
    doubling = "a0: &a0 [x, x]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]\n" for i in range(1, 40))
    refused(inputs.read_yaml, write(tmp_path, doubling), fragment="once aliases are expanded")
    # aliases that nest deeper than the bound once expanded
    deep = "a0: &a0 [[[[[[[[1]]]]]]]]\n" + "".join(f"a{i}: &a{i} [[[[[[[[*a{i - 1}]]]]]]]]\n" for i in range(1, 6))
    refused(inputs.read_yaml, write(tmp_path, deep), fragment="nested deeper than")


def test_recursive_aliases_are_refused(tmp_path: Path) -> None:
    refused(inputs.read_yaml, write(tmp_path, "a: &a [*a]\n"), field="a[0]", fragment="recursive")
    refused(inputs.read_yaml, write(tmp_path, "a: &a {b: *a}\n"), field="a.b", fragment="recursive")
    refused(inputs.read_yaml, write(tmp_path, "a: *nowhere\n"), fragment="undefined alias")


def test_modest_aliases_are_read(tmp_path: Path) -> None:
    doubling = "a0: &a0 [x, x]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]\n" for i in range(1, 8))
    data = inputs.read_yaml(write(tmp_path, doubling))
    assert len(data["a7"]) == 2 and json.dumps(data["a7"]).count('"x"') == 2**8


def test_too_many_values_are_refused(tmp_path: Path) -> None:
    n = inputs.MAX_VALUES
    refused(inputs.read_yaml, write(tmp_path, "[" + "1," * n + "1]"), fragment=f"more than {n} values")
    refused(inputs.read_yaml, write(tmp_path, "".join(f"k{i}: v\n" for i in range(n))), fragment="values")
    refused(inputs.read_json, write(tmp_path, "[" + "1," * n + "1]", "b.json"), fragment=f"more than {n} values")
    assert len(inputs.read_yaml(write(tmp_path, "[" + "1," * 2000 + "1]"))) == 2001


def _special_files(tmp: Path) -> Iterator[tuple[str, Path, str]]:
    fifo = tmp / "fifo.yml"
    os.mkfifo(fifo)
    yield "fifo", fifo, "is a FIFO (named pipe), not a regular file"
    zero = tmp / "zero.yml"
    zero.symlink_to("/dev/zero")  # endless: reading it would never end
    yield "char-device", zero, "is a character device"
    directory = tmp / "dir.yml"
    directory.mkdir()
    yield "directory", directory, "is a directory"
    sock_path = tmp / "sock.yml"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    yield "socket", sock_path, "is a socket"
    sock.close()


@pytest.mark.parametrize("kind", sorted(READERS))
def test_special_files_are_refused_without_opening(tmp_path: Path, kind: str) -> None:
    for _name, path, fragment in _special_files(tmp_path):
        with pytest.raises(ConfigError) as err:
            within(10, lambda p=path: READERS[kind](p))  # type: ignore[misc]
        assert fragment in err.value.message and err.value.path == str(path)


@pytest.mark.parametrize("kind", sorted(READERS))
def test_big_files_are_refused_without_reading_them(tmp_path: Path, kind: str) -> None:
    sparse = tmp_path / "sparse"
    with sparse.open("wb") as f:
        f.truncate(1 << 40)  # a terabyte, instantly: only stat() can afford to look at it
    refused(READERS[kind], sparse, field="", fragment=f"{1 << 40} bytes; input files may hold at most 256 KiB")
    big = write(tmp_path, b"a: " + b"x" * (5 << 20), "big")
    refused(READERS[kind], big, fragment="at most 256 KiB")
    # good: just under the bound
    text = "a: '" + "x" * (inputs.MAX_BYTES - 20) + "'\n" if kind == "yaml" else json.dumps({"a": "x" * 1000})
    assert READERS[kind](write(tmp_path, text, "ok")) is not None


# ---------------------------------------------------------------------------
# Class: messages that are not one line
# ---------------------------------------------------------------------------

NASTY = [
    "",
    "plain",
    "a\nb",
    "a\r\nb",
    "tab\there",
    "\x1b[31mred\x1b[0m",
    "bell\x07",
    "nul\x00",
    "\u2028line\u2029para\x85nel\x0b\x0c\x1c\x1d\x1e",
    "bidi \u202eevil\u202c",
    "zero\u200bwidth",
    "lone \ud800 surrogate",
    "東京",
    "'quotes\" and \\ backslash",
    "x" * 10_000,
    "\n" * 10_000,
]


@pytest.mark.parametrize("text", NASTY, ids=range(len(NASTY)))
def test_config_error_is_one_bounded_line_whatever_it_echoes(text: str) -> None:
    for exc in (
        ConfigError(text, text, text),
        ConfigError(f"/tmp/{text}/x.yml", field_path("tags", text), f"bad value {shown(text)}"),
        VariableError(text, text),
    ):
        assert_one_line(str(exc))
    quoted = shown(text)
    assert_one_line(quoted)
    assert len(quoted) <= 110 and quoted[0] in "'\""


def test_huge_values_are_truncated_cheaply() -> None:
    huge = "x\n" * (15 << 20)
    line = str(ConfigError("c.yml", "tags.a", f"bad value {shown(huge)}: {huge}"))
    assert_one_line(line)
    assert f"({len(huge)} characters)" in line
    assert shown(10 ** (10**5)).startswith("<an integer of about 100001 digits")
    assert len(shown(list(range(10**6)))) <= 90 and len(shown({"k": ["v" * 1000] * 1000})) <= 90


def test_shown_quotes_and_escapes() -> None:
    assert shown("abc") == "'abc'"
    assert shown("a\nb") == "'a\\nb'"
    assert shown("\x1b[0m") == "'\\x1b[0m'"
    assert shown(12) == "12" and shown(True) == "True" and shown(None) == "None" and shown(1.5) == "1.5"
    assert shown(["a", 1]) == "['a', 1]" and shown({"a": [1]}) == "{'a': [1]}"
    assert shown("x" * 100, 20).endswith("… (100 characters)")


def test_field_path_names_places() -> None:
    assert field_path("network", "vpc_cidr") == "network.vpc_cidr"
    assert field_path("routed_cidrs", 2) == "routed_cidrs[2]"
    assert field_path("tags", "Cost Center") == "tags['Cost Center']"
    assert field_path("tags", "a\nb") == "tags['a\\nb']"
    assert field_path() == ""


def test_one_line_is_idempotent() -> None:
    for text in NASTY:
        once = one_line(text, 50)
        assert one_line(once, 50) == once and len(once) <= 50


def test_keys_with_newlines_are_escaped_in_the_field(tmp_path: Path) -> None:
    exc = refused(inputs.read_yaml, write(tmp_path, '"a\\nb": 1\n"a\\nb": 2\n'), fragment="duplicate key 'a\\nb'")
    assert exc.field == "['a\\nb']"


# ---------------------------------------------------------------------------
# Class: input accepted that should not be
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field", "line"),
    [
        ("a: 1\na: 2\n", "a", 2),
        ("account_id: '200000000001'\nx: 1\naccount_id: '200000000002'\n", "account_id", 3),
        ("m:\n  v: 1\n  w: 2\n  v: 3\n", "m.v", 4),
        ("l:\n- {a: 1, a: 1}\n", "l[0].a", 2),
        ("a: 1\n'a': 2\n", "a", 2),  # quoted or not, the same key
    ],
)
def test_duplicate_yaml_keys_are_refused_with_field_and_line(tmp_path: Path, text: str, field: str, line: int) -> None:
    exc = refused(inputs.read_yaml, write(tmp_path, text), field=field, fragment="duplicate key")
    assert exc.message.startswith(f"line {line}, ")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"a": 1, "a": 2}', "a"),
        ('{"terraform": {"backend": {"s3": {"bucket": "a", "bucket": "b"}}}}', "terraform.backend.s3.bucket"),
        ('{"l": [{"x": 1}, {"y": 1, "y": 1}]}', "l[1].y"),
    ],
)
def test_duplicate_json_keys_are_refused_with_field(tmp_path: Path, text: str, field: str) -> None:
    refused(inputs.read_json, write(tmp_path, text, "b.json"), field=field, fragment="duplicate key")


AMBIGUOUS = [
    # YAML 1.1 reads these differently from YAML 1.2: refused, not guessed.
    ("1:00", "base-60"),
    ("190:20:30", "base-60"),
    ("-1:30", "base-60"),
    ("1:30.5", "base-60"),
    ("07200", "leading zero"),
    ("012345678901", "leading zero"),
    ("-0755", "leading zero"),
    ("00", "leading zero"),
    ("0o17", "octal, hexadecimal or binary"),
    ("0x1F", "octal, hexadecimal or binary"),
    ("0b101", "octal, hexadecimal or binary"),
    ("1_000", "underscore"),
    ("1_000.5", "underscore"),
    ("yes", "boolean in YAML 1.1"),
    ("No", "boolean in YAML 1.1"),
    ("ON", "boolean in YAML 1.1"),
    ("off", "boolean in YAML 1.1"),
    ("y", "boolean in YAML 1.1"),
    ("N", "boolean in YAML 1.1"),
    (".inf", "not a finite number"),
    ("-.Inf", "not a finite number"),
    (".NaN", "not a finite number"),
    ("1e400", "out of range"),
]


@pytest.mark.parametrize(("scalar", "fragment"), AMBIGUOUS, ids=[a[0] for a in AMBIGUOUS])
def test_plain_scalars_yaml_versions_disagree_on_are_refused(tmp_path: Path, scalar: str, fragment: str) -> None:
    refused(inputs.read_yaml, write(tmp_path, f"x:\n  k: {scalar}\n"), field="x.k", fragment=fragment)
    refused(inputs.read_yaml, write(tmp_path, f"x: [1, {scalar}]\n"), field="x[1]", fragment=fragment)
    refused(inputs.read_yaml, write(tmp_path, f"{scalar}: 1\n"), fragment=fragment)  # as a key too
    # good, next to it: quoted, it is the string
    assert inputs.read_yaml(write(tmp_path, f"x:\n  k: '{scalar}'\n")) == {"x": {"k": scalar}}


@pytest.mark.parametrize("text", ["a: [x\ty]\n", "a:\tb\n", "a:\n\t- b\n", "# c\tc\na: 1\n", "a: 'x\ty'\n"])
def test_tabs_are_refused_where_libyaml_and_pyyaml_disagree(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    refused(inputs.read_yaml, path, fragment="tab character")
    for pure in (False, True):
        with pytest.raises(ConfigError, match=r"line \d+, column \d+: tab character"):
            inputs.parse_yaml(text, path, pure_python=pure)
    assert inputs.read_yaml(write(tmp_path, text.replace("\t", " "))) is not None  # good, next to it


def test_merge_keys_and_multiple_documents_are_refused(tmp_path: Path) -> None:
    refused(inputs.read_yaml, write(tmp_path, "a: &a {x: 1}\nb:\n  <<: *a\n"), field="b", fragment="merge keys")
    refused(inputs.read_yaml, write(tmp_path, "a: 1\n---\nb: 2\n"), fragment="single document")
    assert inputs.read_yaml(write(tmp_path, "---\na: 1\n...\n")) == {"a": 1}
    assert inputs.read_yaml(write(tmp_path, "")) is None


def test_lone_surrogates_are_refused(tmp_path: Path) -> None:
    refused(inputs.read_json, write(tmp_path, '{"a": "x\\ud800"}', "b.json"), field="a", fragment="surrogate")
    refused(inputs.read_json, write(tmp_path, '{"\\udfff": 1}', "b.json"), fragment="surrogate")
    refused(inputs.read_yaml, write(tmp_path, 'a: "x\\ud800"\n'), fragment="Unicode")
    assert inputs.read_json(write(tmp_path, '{"a": "\\ud83d\\ude00"}', "b.json")) == {"a": "😀"}


def test_syntax_errors_are_one_line_with_line_and_column(tmp_path: Path) -> None:
    for text in ["a: b: c\n", "a: [1, 2\n", "a: 'x\n", "- a\nb: 1\n", "a: @x\n", "&a\n&b"]:
        exc = refused(inputs.read_yaml, write(tmp_path, text), field="", fragment="YAML syntax error: line ")
        assert ", column " in exc.message


# ---------------------------------------------------------------------------
# Fuzz: mangled samples; nothing but ConfigError may come out
# ---------------------------------------------------------------------------

_SPECIALS = [
    b":", b"-", b"[", b"]", b"{", b"}", b"&a", b"*a", b"!!", b"!", b"|", b">", b"'", b'"', b"%", b"@", b"`", b"#",
    b"\t", b"\n", b"\r", b" ", b"\x00", b"\xff", b"\xe9", b"\xc3", b"\\", b"\\u", b"?", b",", b"<<", b"---", b"...",
    b"0", b"07", b"1:0", b"yes", b"~", b"1e999", b"NaN", b"\xef\xbb\xbf", b"\xe2\x80\xa8", b"\x07", b"\x1b",
]  # fmt: skip


def _mangle(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(6)
        pos = rng.randrange(len(out) + 1)
        if choice == 0:
            out[pos:pos] = rng.choice(_SPECIALS)
        elif choice == 1 and out:
            del out[pos : pos + rng.randint(1, 8)]
        elif choice == 2 and out:
            out[min(pos, len(out) - 1)] = rng.randrange(256)
        elif choice == 3:
            out = out[:pos]
        elif choice == 4:
            start = rng.randrange(len(out) + 1)
            out[pos:pos] = out[start : start + rng.randint(1, 40)]
        else:
            out[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 6)))
    return bytes(out)


def _check_tree(node: Any, depth: int = 1) -> None:
    assert depth <= inputs.MAX_DEPTH
    if isinstance(node, dict):
        for k, v in node.items():
            assert isinstance(k, str)
            _check_tree(v, depth + 1)
    elif isinstance(node, list):
        for v in node:
            _check_tree(v, depth + 1)
    else:
        assert node is None or isinstance(node, str | int | float | bool)


FUZZ_SOURCES = {
    "platform.yml": CONFIG_DIR / cfg.PLATFORM_FILE,
    "project.yml": sample_path(SAMPLE),
    "backend.tf.json": BACKEND,
}


@pytest.mark.parametrize("name", sorted(FUZZ_SOURCES))
def test_fuzz_readers_raise_only_config_error(tmp_path: Path, name: str) -> None:
    rng = random.Random(f"algoinfra-{name}")  # deterministic: a failure is reproducible
    seeds = [FUZZ_SOURCES[name].read_bytes(), *(data.encode() for data in ("a: 1", '{"a": [1, {"b": null}]}'))]
    outcomes = {"read": 0, "refused": 0}
    for _ in range(1000):
        data = _mangle(rng, rng.choice(seeds))
        path = write(tmp_path, data, name)
        for read in READERS.values():
            try:
                result = read(path)
            except ConfigError as exc:
                assert_one_line(str(exc))
                outcomes["refused"] += 1
            else:
                _check_tree(result)
                outcomes["read"] += 1
    assert outcomes["read"] > 100 and outcomes["refused"] > 100, outcomes  # the fuzz reaches both sides


def _outcome(text: str, *, pure_python: bool) -> Any:
    try:
        return inputs.parse_yaml(text, "x.yml", pure_python=pure_python)
    except ConfigError as exc:
        assert_one_line(str(exc))
        return ConfigError


def test_pure_python_parser_reads_and_refuses_alike() -> None:
    """Without libyaml (a PyYAML built without it) the same inputs are read, or refused, the same way."""
    rng = random.Random("algoinfra-pure")
    texts = [
        BILLION_LAUGHS,
        "a: &a [*a]\n",
        "a: !!float 1\n",
        "a: 1\na: 2\n",
        "1: x\n",
        "x: " + "[" * 40 + "]" * 40,
        "".join("  " * i + "a:\n" for i in range(40)),
        "a: b\n\x07",
        "a: [1, 2\n",
        *(f"a: {scalar}\n" for scalar, _ in AMBIGUOUS),
        *(sample.read_text() for sample in FUZZ_SOURCES.values() if sample.suffix == ".yml"),
    ]
    for _ in range(300):
        seed = rng.choice([p.read_bytes() for p in FUZZ_SOURCES.values() if p.suffix == ".yml"])
        texts.append(_mangle(rng, seed).decode("utf-8", "replace").replace("\x00", ""))
    outcomes = []
    for text in texts:
        c, pure = _outcome(text, pure_python=False), _outcome(text, pure_python=True)
        assert c == pure, repr(text[:200])
        outcomes.append(c is ConfigError)
    assert 100 < sum(outcomes) < len(outcomes) - 100  # both sides, many times


# ---------------------------------------------------------------------------
# Through main.py: a representative case per class
# ---------------------------------------------------------------------------

DEEP = "x: " + "[" * 200 + "]" * 200 + "\n"
MAIN_CASES = [
    # (id, edit of the config dir, fragments of the one line)
    ("tag", edited(SAMPLE_FILE, raw_value("compute.max_vcpus", "!!float abc")), (SAMPLE_FILE, "compute.max_vcpus: line", "explicit YAML tag")),
    ("long-int", edited(SAMPLE_FILE, raw_value("compute.max_vcpus", "9" * 5000)), (SAMPLE_FILE, "compute.max_vcpus", "5000 digits")),
    ("deep", edited(SAMPLE_FILE, lambda t: t + DEEP), (SAMPLE_FILE, "nested deeper than")),
    ("latin-1-platform", edited(cfg.PLATFORM_FILE, lambda t: (t + "# caf\xe9\n").encode("latin-1")), ("platform.yml: not UTF-8: byte e9",)),
    ("utf-16-config", edited(SAMPLE_FILE, lambda t: t.encode("utf-16")), (SAMPLE_FILE, "UTF-16")),
    ("mixed-keys", edited(SAMPLE_FILE, lambda t: t + "1: x\n"), (SAMPLE_FILE, "key '1' is read as a number")),
    ("alias-bomb", edited(SAMPLE_FILE, lambda t: t + "bomb:\n" + "".join("  " + line + "\n" for line in BILLION_LAUGHS.splitlines())), (SAMPLE_FILE, "once aliases are expanded")),
    ("big-platform", edited(cfg.PLATFORM_FILE, lambda t: t + "#" * (1 << 20) + "\n"), ("platform.yml: is", "at most 256 KiB")),
    ("dup-account", edited(SAMPLE_FILE, lambda t: t + "account_id: '200000000009'\n"), (SAMPLE_FILE, "account_id: line", "duplicate key 'account_id'")),
    ("sexagesimal", edited(SAMPLE_FILE, raw_value("compute.max_vcpus", "1:00")), (SAMPLE_FILE, "compute.max_vcpus", "base-60")),
    ("octal", edited(SAMPLE_FILE, raw_value("compute.max_vcpus", "016")), (SAMPLE_FILE, "compute.max_vcpus", "leading zero")),
    ("newline-key", edited(SAMPLE_FILE, lambda t: t + '"a\\nb": 1\n"a\\nb": 2\n'), (SAMPLE_FILE, "['a\\nb']", "duplicate key")),
]  # fmt: skip


@pytest.mark.parametrize(("edit", "fragments"), [c[1:] for c in MAIN_CASES], ids=[c[0] for c in MAIN_CASES])
def test_main_refuses_each_class_in_one_line(
    tmp_path: Path, edit: Callable[[Path], None], fragments: tuple[str, ...]
) -> None:
    configs = sample_dir(tmp_path / "in", edit=edit)
    refused_by_main(tmp_path, {"INFRA_CONFIG_DIR": str(configs)}, *fragments)


def test_main_reads_the_unedited_sample_dir(tmp_path: Path) -> None:
    """The good case next to MAIN_CASES: the same dir unedited passes validation (checked with a bad REGION,
    which is compared only once every file has been read)."""
    configs = sample_dir(tmp_path / "in")
    line = refused_by_main(tmp_path, {"INFRA_CONFIG_DIR": str(configs), "REGION": "us-west-2"})
    assert "REGION=us-west-2 but the config says ap-northeast-1" in line


def _special_platform(kind: str) -> Callable[[Path], None]:
    def edit(d: Path) -> None:
        target = d / cfg.PLATFORM_FILE
        target.unlink()
        if kind == "fifo":
            os.mkfifo(target)
        elif kind == "device":
            target.symlink_to("/dev/zero")
        elif kind == "loop":
            target.symlink_to(target.name)
        else:
            target.mkdir()

    return edit


@pytest.mark.parametrize(
    ("kind", "fragment"),
    [
        ("fifo", "is a FIFO"),
        ("device", "is a character device"),
        ("loop", "symlink loop"),
        ("directory", "is a directory"),
    ],
)
def test_main_refuses_special_platform_files_without_blocking(tmp_path: Path, kind: str, fragment: str) -> None:
    configs = sample_dir(tmp_path / "in", edit=_special_platform(kind))
    refused_by_main(
        tmp_path,
        {"INFRA_CONFIG_DIR": str(configs)},
        "platform.yml: cannot read" if kind == "loop" else "platform.yml: is",
        fragment,
    )


def test_a_fifo_neighbour_does_not_block_the_estate_check(tmp_path: Path) -> None:
    """The estate check reads every neighbour: a FIFO among them is named at once, never opened
    (skipping it would hide an overlap)."""

    def edit(d: Path) -> None:
        os.mkfifo(d / f"project-a-dev{cfg.CONFIG_SUFFIX}")

    configs = sample_dir(tmp_path / "in", edit=edit)
    refused_by_main(tmp_path, {"INFRA_CONFIG_DIR": str(configs)}, f"project-a-dev{cfg.CONFIG_SUFFIX}", "FIFO")


def test_main_refuses_a_bad_backend_file(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(ROOT / "main.py", root / "main.py")
    shutil.copytree(CONFIG_DIR, root / "configs")
    (root / "backend.tf.json").write_text('{"terraform": {"backend": {"s3": {"bucket": "a", "bucket": NaN}}}}')
    refused_by_main(tmp_path, {}, "backend.tf.json: terraform.backend.s3.bucket", "duplicate key", root=root)
    (root / "backend.tf.json").write_bytes(BACKEND.read_text().encode("utf-16"))
    refused_by_main(tmp_path, {}, "backend.tf.json: is encoded as UTF-16", root=root)


def test_main_escapes_paths_with_newlines(tmp_path: Path) -> None:
    configs = sample_dir(tmp_path / "con\nfigs", edit=edited(SAMPLE_FILE, raw_value("compute.max_vcpus", "yes")))
    line = refused_by_main(tmp_path, {"INFRA_CONFIG_DIR": str(configs)}, "con\\nfigs/configs/", "boolean in YAML 1.1")
    assert str(configs) not in line


def test_main_refuses_unreadable_files(tmp_path: Path) -> None:
    """EACCES is one line too (as root, the child runs without the capabilities that ignore permissions)."""
    configs = sample_dir(tmp_path / "in")
    (configs / cfg.PLATFORM_FILE).chmod(0)
    line = refused_by_main(
        tmp_path,
        {"INFRA_CONFIG_DIR": str(configs)},
        "platform.yml: cannot read: permission denied",
        popen=permissions_apply(),
    )
    assert "configs/platform.yml" in line
