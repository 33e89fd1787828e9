"""The only way this project reads its input files: bytes in, plain data or one ConfigError out.

:func:`read_yaml` and :func:`read_json` return a tree of ``dict`` (string keys),
``list``, ``str``, ``int``, ``float``, ``bool`` and ``None``: no shared or
recursive nodes, at most :data:`MAX_DEPTH` deep and :data:`MAX_VALUES` values.
Anything else, whatever the bytes, raises :class:`ConfigError` naming the file
(and the field when there is one) in one line, in milliseconds:

* only regular files are read, and they are checked before they are opened, so
  a FIFO or a device never blocks; at most :data:`MAX_BYTES`;
* strict UTF-8 (a UTF-8 byte-order mark is allowed), no NUL bytes;
* YAML is read as a strict subset of YAML 1.2 (core schema), refusing
  whatever a YAML 1.1 reader (PyYAML, older tools) would read differently
  rather than guessing: ``yes/no/on/off``, base-60 numbers (``1:00``), numbers
  with a leading zero (``07200``), ``0o``/``0x``/``0b`` and ``1_000`` forms;
  timestamps stay strings; explicit tags other than ``!!str`` are refused;
  mapping keys are unique strings;
* JSON refuses duplicate keys, ``NaN``/``Infinity``, over-long numbers.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import yaml
from yaml.composer import Composer
from yaml.events import AliasEvent, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import BaseResolver

from algoinfra.errors import ConfigError, field_path, shown

# The largest config is about 2 KB; a platform file with hundreds of routed
# CIDRs stays well below this. The bound keeps the worst case (a file packed
# with tiny values) well under a second to refuse, and multi-megabyte files
# are refused without being read.
MAX_BYTES = 256 * 1024
# Lists and mappings nested in each other: configs nest 4; the bound keeps
# every recursive step far from Python's recursion limit.
MAX_DEPTH = 32
# Values (scalars, lists, mappings) in one document, aliases expanded: a
# config has about 100. Bounds alias bombs (billion laughs) and parse time.
MAX_VALUES = 10_000
# 20 digits hold any 64-bit integer; longer is a mistake (and Python refuses
# to convert integers beyond 4,300 digits).
MAX_INT_DIGITS = 20
MAX_FLOAT_CHARS = 40

_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
# A plain (unquoted, untagged) scalar: resolved below by the YAML 1.2 core schema.
_PLAIN = "tag:algoinfra,2024:plain"

_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
_OS_PROBLEMS = {
    errno.ENOENT: "no such file or directory",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ELOOP: "too many levels of symbolic links (a symlink loop?)",
    errno.ENAMETOOLONG: "file name too long",
    errno.ENOTDIR: "a parent of the path is not a directory",
    errno.EISDIR: "is a directory, not a file",
}
_BOMS = (
    (b"\x00\x00\xfe\xff", "UTF-32 (big-endian)"),
    (b"\xff\xfe\x00\x00", "UTF-32 (little-endian)"),
    (b"\xfe\xff", "UTF-16 (big-endian)"),
    (b"\xff\xfe", "UTF-16 (little-endian)"),
)
_UTF8_BOM = b"\xef\xbb\xbf"
_SURROGATE_RE = re.compile("[\ud800-\udfff]")

# YAML 1.2 core schema (used with fullmatch: a "$" would accept a trailing newline).
_NULL_RE = re.compile(r"~|null|Null|NULL|")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT_RE = re.compile(r"[-+]?[0-9]+")
_FLOAT_RE = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_SPECIAL_FLOAT_RE = re.compile(r"[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")
# What YAML 1.1 reads differently: refused, with the reason.
_AMBIGUOUS = (
    (
        re.compile(r"y|yes|n|no|on|off", re.IGNORECASE),
        "is a boolean in YAML 1.1 and a string in YAML 1.2: write true or false, or quote it for a string",
    ),
    (
        re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?"),
        "is a base-60 number in YAML 1.1 (1:00 is 60): quote it for a string",
    ),
    (
        re.compile(r"[-+]?0[0-9_]+"),
        "has a leading zero (YAML 1.1 reads 07200 as the octal 3712): quote it for a string"
        " (an account id is always quoted), or drop the zero",
    ),
    (
        re.compile(r"[-+]?0[oxbOXB][0-9a-fA-F_]*"),
        "is an octal, hexadecimal or binary number, which YAML versions read differently: write it in decimal",
    ),
    (
        re.compile(r"[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?"),
        "has an underscore, which YAML 1.1 drops (1_000 is 1000): write the number without it, or quote it",
    ),
)


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------


def read_text(path: Path) -> str:
    """The file as text: a regular file of at most :data:`MAX_BYTES`, strict UTF-8, no NUL."""
    data = _read_bytes(path)
    return _decode(path, data)


def _read_bytes(path: Path) -> bytes:
    try:
        # stat before open: opening a FIFO blocks until a writer comes.
        before = os.stat(path)
        _check_kind(path, before)
        # O_NONBLOCK: should the path become a FIFO between stat and open, open must not block.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read: {os_problem(exc)}") from None
    try:
        after = os.fstat(fd)
        _check_kind(path, after)
        if (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
            raise ConfigError(path, "", "cannot read: the file changed while it was opened")
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, MAX_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read: {os_problem(exc)}") from None
    finally:
        os.close(fd)
    if size > MAX_BYTES:
        raise ConfigError(path, "", _too_big(size, more=True))
    return b"".join(chunks)


def _check_kind(path: Path, st: os.stat_result) -> None:
    for test, kind in _FILE_KINDS:
        if test(st.st_mode):
            raise ConfigError(path, "", f"is {kind}, not a regular file")
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(path, "", "is not a regular file")
    if st.st_size > MAX_BYTES:
        raise ConfigError(path, "", _too_big(st.st_size, more=False))


def _too_big(size: int, *, more: bool) -> str:
    amount = f"more than {MAX_BYTES} bytes" if more else f"{size} bytes"
    return f"is {amount}; input files may hold at most {MAX_BYTES // 1024} KiB"


def os_problem(exc: OSError) -> str:
    """What went wrong with a path, in a few words (no path: the caller names it)."""
    if exc.errno in _OS_PROBLEMS:
        return _OS_PROBLEMS[exc.errno]
    return exc.strerror or os.strerror(exc.errno or 0) or type(exc).__name__


def _decode(path: Path, data: bytes) -> str:
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise ConfigError(path, "", f"is encoded as {name} (byte-order mark): save it as UTF-8")
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
    nul = data.find(b"\x00")
    if nul >= 0:
        hint = " (UTF-16 or UTF-32?)" if data[:64].count(b"\x00") > 1 else ""
        raise ConfigError(path, "", f"NUL byte at {_byte_position(data, nul)}: not UTF-8 text{hint}; save it as UTF-8")
    try:
        return data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        bad = data[exc.start : min(exc.end, exc.start + 4)]
        raise ConfigError(
            path,
            "",
            f"not UTF-8: byte {bad.hex(' ')} at {_byte_position(data, exc.start)} ({exc.reason});"
            " save the file as UTF-8 (Latin-1 and UTF-16 are not read)",
        ) from None


def _byte_position(data: bytes, offset: int) -> str:
    line = data.count(b"\n", 0, offset) + 1
    return f"byte offset {offset} (line {line})"


# ---------------------------------------------------------------------------
# YAML
# ---------------------------------------------------------------------------


def read_yaml(path: Path) -> Any:
    """The YAML document in ``path`` as plain data (``None`` for an empty file)."""
    return parse_yaml(read_text(path), path)


def parse_yaml(text: str, path: Path | str, *, pure_python: bool = False) -> Any:
    """YAML text as plain data; ``path`` only names the source in errors.

    Events come from libyaml when PyYAML has it (about 15 times faster), else from
    PyYAML's own parser (``pure_python``: the tests check that both agree).
    """
    tab = text.find("\t")
    if tab >= 0:
        # libyaml and PyYAML disagree on tabs inside plain scalars; no config needs one.
        line, column = text.count("\n", 0, tab) + 1, tab - (text.rfind("\n", 0, tab) + 1) + 1
        raise ConfigError(path, "", f"line {line}, column {column}: tab character: use spaces in YAML files")
    loader_class = _PureLoader if pure_python or _CLoader is None else _CLoader
    loader = None
    try:
        loader = loader_class(text, path)  # PyYAML's reader checks the characters here
        node = loader.get_single_node()
    except yaml.reader.ReaderError as exc:
        raise ConfigError(path, "", _reader_problem(exc, text, bytes_offset=loader_class.offsets_in_bytes)) from None
    except yaml.YAMLError as exc:
        raise ConfigError(path, "", _yaml_problem(exc)) from None
    finally:
        if loader is not None:
            loader.dispose()
    if node is None:
        return None
    return _Builder(path).build(node)


def _reader_problem(exc: yaml.reader.ReaderError, text: str, *, bytes_offset: bool) -> str:
    """A character YAML does not allow (control characters, U+FFFE...)."""
    if bytes_offset:  # libyaml counts in the UTF-8 encoding
        line = text.encode("utf-8", "surrogatepass")[: exc.position].count(b"\n") + 1
    else:
        line = text[: exc.position].count("\n") + 1
    char = exc.character if isinstance(exc.character, int) else ord(exc.character or "\0")
    return f"line {line}: character U+{char:04X} is not allowed in YAML ({exc.reason})"


def _yaml_problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = exc.problem or exc.context or "invalid YAML"
        context = f"{exc.context}, " if exc.context and exc.problem else ""
        return f"YAML syntax error: {where}{context}{problem}"
    first = str(exc).strip().splitlines()
    return f"YAML error: {first[0] if first else type(exc).__name__}"


class _BoundedComposer(Composer, BaseResolver):
    """PyYAML's composer, bounded in depth and size, over the events of a parser.

    The resolver tags every plain scalar ``_PLAIN``; :class:`_Builder` resolves it.
    Listed before the parser in a loader's bases: libyaml's CParser has its own,
    unbounded composer, which this one replaces.
    """

    offsets_in_bytes = False

    if TYPE_CHECKING:  # from the parser class next to it in a loader

        def peek_event(self) -> Any: ...

        def dispose(self) -> None: ...

    def _start(self, path: Path | str) -> None:
        Composer.__init__(self)
        BaseResolver.__init__(self)
        self._path = path
        self._depth = 0
        self._events = 0

    def get_single_node(self) -> Node | None:
        return Composer.get_single_node(self)

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        self._events += 1
        if self._events > MAX_VALUES:
            _refuse_at(self._path, "", event.start_mark, f"more than {MAX_VALUES} values in one document")
        if isinstance(event, AliasEvent | ScalarEvent):
            return Composer.compose_node(self, parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            _refuse_at(self._path, "", event.start_mark, f"nested deeper than {MAX_DEPTH} levels")
        node = Composer.compose_node(self, parent, index)
        self._depth -= 1
        return node

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            return _PLAIN if implicit[0] else _STR
        return _SEQ if kind is SequenceNode else _MAP


class _PureLoader(_BoundedComposer, yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    def __init__(self, text: str, path: Path | str) -> None:
        yaml.reader.Reader.__init__(self, text)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        self._start(path)


def _c_loader() -> type[_BoundedComposer] | None:
    c_parser: Any = getattr(getattr(yaml, "_yaml", None), "CParser", None)
    if c_parser is None:
        return None

    class CLoader(_BoundedComposer, c_parser):  # type: ignore[misc]
        offsets_in_bytes = True

        def __init__(self, text: str, path: Path | str) -> None:
            c_parser.__init__(self, text)
            self._start(path)

    return CLoader


_CLoader: Any = _c_loader()


class _Builder:
    """Nodes to plain data, top-down, so every refusal names its field and line."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self.values = 0
        self.open: set[int] = set()  # nodes being built: an alias to one of them is a cycle

    def build(self, node: Node, where: tuple[str | int, ...] = (), depth: int = 1) -> Any:
        self.values += 1
        if self.values > MAX_VALUES:
            self.refuse(node, where, f"more than {MAX_VALUES} values once aliases are expanded")
        if isinstance(node, ScalarNode):
            return self.scalar(node, where)
        if depth > MAX_DEPTH:
            self.refuse(node, where, f"nested deeper than {MAX_DEPTH} levels once aliases are expanded")
        if id(node) in self.open:
            self.refuse(node, where, "an alias refers to a node that contains it (a recursive structure)")
        self.open.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                if node.tag != _SEQ:
                    self.refuse(node, where, _tag_problem(node.tag))
                return [self.build(item, (*where, i), depth + 1) for i, item in enumerate(node.value)]
            if isinstance(node, MappingNode):
                if node.tag != _MAP:
                    self.refuse(node, where, _tag_problem(node.tag))
                return self.mapping(node, where, depth)
            self.refuse(node, where, f"unexpected YAML node {type(node).__name__}")
        finally:
            self.open.discard(id(node))

    def mapping(self, node: MappingNode, where: tuple[str | int, ...], depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = self.key(key_node, where)
            if key in out:
                self.refuse(
                    key_node,
                    (*where, key),
                    f"duplicate key {shown(key)} (first at line {first_line[key]}): the last one would silently win",
                )
            first_line[key] = key_node.start_mark.line + 1
            out[key] = self.build(value_node, (*where, key), depth + 1)
        return out

    def key(self, node: Node, where: tuple[str | int, ...]) -> str:
        if not isinstance(node, ScalarNode):
            self.refuse(node, where, "mapping keys must be plain strings, not lists or mappings")
        if node.tag == _PLAIN and node.value == "<<":
            self.refuse(node, where, "merge keys (<<) are not supported: write the keys out")
        value = self.scalar(node, where)
        if not isinstance(value, str):
            kind = "null" if value is None else "a boolean" if isinstance(value, bool) else "a number"
            self.refuse(
                node, where, f"mapping key {shown(node.value, 40)} is read as {kind}: quote it (keys are strings)"
            )
        return value

    def scalar(self, node: ScalarNode, where: tuple[str | int, ...]) -> Any:
        value: str = node.value
        if node.tag == _STR:
            if _SURROGATE_RE.search(value):
                self.refuse(node, where, f"{shown(value)} holds a lone UTF-16 surrogate escape (\\ud800-\\udfff)")
            return value
        if node.tag != _PLAIN:
            self.refuse(node, where, _tag_problem(node.tag))
        if _NULL_RE.fullmatch(value):
            return None
        if value in _BOOL:
            return _BOOL[value]
        if _INT_RE.fullmatch(value):
            digits = value.lstrip("+-")
            if len(digits) > 1 and digits.startswith("0"):
                self.refuse(node, where, f"{shown(value)} {_AMBIGUOUS[2][1]}")
            if len(digits) > MAX_INT_DIGITS:
                self.refuse(node, where, f"a number of {len(digits)} digits; at most {MAX_INT_DIGITS} are read")
            return int(value)
        if _FLOAT_RE.fullmatch(value) or _SPECIAL_FLOAT_RE.fullmatch(value):
            return self.finite(node, where, value)
        for pattern, reason in _AMBIGUOUS:
            if pattern.fullmatch(value):
                self.refuse(node, where, f"{shown(value)} {reason}")
        return value

    def finite(self, node: ScalarNode, where: tuple[str | int, ...], value: str) -> float:
        if _SPECIAL_FLOAT_RE.fullmatch(value):
            self.refuse(node, where, f"{shown(value)} is not a finite number")
        if len(value) > MAX_FLOAT_CHARS:
            self.refuse(node, where, f"a number of {len(value)} characters; at most {MAX_FLOAT_CHARS} are read")
        number = float(value)
        if not math.isfinite(number):
            self.refuse(node, where, f"{shown(value, 40)} is out of range")
        return number

    def refuse(self, node: Node, where: tuple[str | int, ...], message: str) -> NoReturn:
        _refuse_at(self.path, field_path(*where), node.start_mark, message)


def _tag_problem(tag: str) -> str:
    name = tag.replace("tag:yaml.org,2002:", "!!")
    return (
        f"explicit YAML tag {shown(name, 40)} is not supported (only !!str):"
        " write the value plainly, or quote it for a string"
    )


def _refuse_at(path: Path | str, field: str, mark: Any, message: str) -> NoReturn:
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    raise ConfigError(path, field, f"{where}{message}")


# ---------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------


class _Duplicates(dict[str, Any]):
    """An object with a repeated key (reported with its field once the tree is walked)."""

    duplicate: str = ""


class _BadNumber:
    def __init__(self, text: str, problem: str) -> None:
        self.text = text
        self.problem = problem


def read_json(path: Path) -> Any:
    """The JSON document in ``path`` as plain data."""
    return parse_json(read_text(path), path)


def parse_json(text: str, path: Path | str) -> Any:
    """JSON text as plain data; ``path`` only names the source in errors."""
    _check_json_shape(text, path)
    try:
        data = json.loads(
            text,
            object_pairs_hook=_json_object,
            parse_int=_json_int,
            parse_float=_json_float,
            parse_constant=_json_constant,
        )
    except json.JSONDecodeError as exc:
        raise ConfigError(path, "", f"JSON syntax error: line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:  # pragma: no cover - the hooks and the nesting check stop these
        raise ConfigError(path, "", f"JSON error: {exc}") from None
    for values, (where, value) in enumerate(_walk(data), start=1):
        field = field_path(*where)
        if values > MAX_VALUES:
            raise ConfigError(path, field, f"more than {MAX_VALUES} values in one document")
        if isinstance(value, _Duplicates):
            raise ConfigError(
                path,
                field_path(*where, value.duplicate),
                f"duplicate key {shown(value.duplicate)}: the last one would silently win",
            )
        if isinstance(value, _BadNumber):
            raise ConfigError(path, field, value.problem)
        if isinstance(value, str) and _SURROGATE_RE.search(value):
            raise ConfigError(path, field, f"{shown(value)} holds a lone UTF-16 surrogate escape (\\ud800-\\udfff)")
    return data


_JSON_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKET_RE = re.compile(r"[\[\]{}]")


def _check_json_shape(text: str, path: Path | str) -> None:
    """Refuse deep nesting before the parser recurses into it, and many values before it builds them."""
    bare = _JSON_STRING_RE.sub('""', text)  # brackets and commas in strings are text
    commas = bare.count(",")
    if commas >= MAX_VALUES:  # n commas separate at least n + 1 values
        raise ConfigError(path, "", f"more than {MAX_VALUES} values in one document")
    depth = 0
    for match in _JSON_BRACKET_RE.finditer(bare):
        if match.group() in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                line = bare.count("\n", 0, match.start()) + 1
                raise ConfigError(path, "", f"line {line}: nested deeper than {MAX_DEPTH} levels")
        else:
            depth -= 1


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            dup = _Duplicates(out)
            dup.duplicate = key
            return dup
        out[key] = value
    return out


def _json_int(text: str) -> int | _BadNumber:
    digits = text.lstrip("-")
    if len(digits) > MAX_INT_DIGITS:
        return _BadNumber(text, f"a number of {len(digits)} digits; at most {MAX_INT_DIGITS} are read")
    return int(text)


def _json_float(text: str) -> float | _BadNumber:
    if len(text) > MAX_FLOAT_CHARS:
        return _BadNumber(text, f"a number of {len(text)} characters; at most {MAX_FLOAT_CHARS} are read")
    number = float(text)
    if not math.isfinite(number):
        return _BadNumber(text, f"{shown(text, 40)} is out of range")
    return number


def _json_constant(text: str) -> _BadNumber:
    return _BadNumber(text, "is not a number JSON allows (NaN and Infinity are refused)")


def _walk(node: Any, where: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Every value of a parsed tree, top-down, with its place; keys are checked like values."""
    yield where, node
    if isinstance(node, _Duplicates):
        return
    if isinstance(node, dict):
        for key, value in node.items():
            if _SURROGATE_RE.search(key):
                yield (*where, key), key
            yield from _walk(value, (*where, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, (*where, i))
