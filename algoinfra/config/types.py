"""The base model and the field types shared by every config file.

Every model is frozen, strict (YAML already gives typed values: ``"5"`` is not
5, ``yes`` is not a number) and forbids unknown keys. Field types carry their
JSON Schema (pattern, bounds, enum) so the schema says what the loader checks;
what a schema cannot say is checked by validators with a plain message.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated, Any, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    WithJsonSchema,
)
from pydantic.config import JsonDict
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from algoinfra.config import facts

MAX_ECHO = 80


def echo(value: Any) -> str:
    """A user value as it may appear in a one-line message: repr, at most ~80 characters."""
    text = repr(value)
    return text if len(text) <= MAX_ECHO else text[: MAX_ECHO - 3] + "..."


class Invalid(ValueError):
    """A broken rule, said as is; ``at`` names the sub-field below the validated value."""

    def __init__(self, message: str, *at: str | int) -> None:
        super().__init__(message)
        self.message = message
        self.at = at


class Model(BaseModel):
    """Base of every config model."""

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid", validate_default=False)


# ---------------------------------------------------------------------------
# Strings of a given shape
# ---------------------------------------------------------------------------

# pattern -> what the value should be, for messages ("must be <what>, got ...").
PATTERN_WHAT: dict[str, str] = {}


def _must_be_str(what: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, str):
            raise Invalid(f"must be {what}, got {echo(value)}")
        return value

    return check


@dataclass(frozen=True)
class Shape:
    """``Annotated[str, Shape(what, pattern)]``: the schema gets the pattern, messages say ``what``."""

    what: str
    pattern: str | None = None
    max_length: int | None = None

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        if self.pattern is not None:
            PATTERN_WHAT[self.pattern] = self.what
        inner = handler.generate_schema(
            Annotated[str, StringConstraints(pattern=self.pattern, max_length=self.max_length)]
        )
        return core_schema.no_info_before_validator_function(_must_be_str(self.what), inner)


class OneOf:
    """``Annotated[str, OneOf("a", "b")]``: one of a few words (the schema's ``enum``)."""

    def __init__(self, *choices: str) -> None:
        self.choices = choices

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        def check(value: Any) -> str:
            if not isinstance(value, str) or value not in self.choices:
                raise Invalid(f"must be one of {', '.join(self.choices)}, got {echo(value)}")
            return value

        return core_schema.no_info_plain_validator_function(check)

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"type": "string", "enum": list(self.choices)}


def _not_zero_account(value: str) -> str:
    if value == "000000000000":
        raise Invalid("000000000000 is not an AWS account id")
    return value


ACCOUNT_ID_SCHEMA: JsonDict = {"type": "string", "pattern": r"^[0-9]{12}$", "not": {"const": "000000000000"}}
AccountId = Annotated[
    str,
    Shape("a quoted 12-digit AWS account id", r"^[0-9]{12}$"),
    AfterValidator(_not_zero_account),
    WithJsonSchema(ACCOUNT_ID_SCHEMA),
]
RoleArn = Annotated[
    str,
    Shape(
        "an IAM role ARN such as arn:aws:iam::123456789012:role/name (a name of at most 64, after an optional path)",
        r"^arn:aws:iam::[0-9]{12}:role/(?:[A-Za-z0-9+=,.@_-]+/)*[A-Za-z0-9+=,.@_-]{1,64}$",
    ),
]
ProfileName = Annotated[
    str, Shape("an AWS profile name (letters, digits and _ . + = , @ -)", r"^[A-Za-z0-9_.+=,@-]{1,128}$")
]
PeopleName = Annotated[
    str, Shape("a name for people (letters, digits, spaces and _ . : / = + @ -)", r"^[A-Za-z0-9 _.:/=+@-]{1,64}$")
]


def role_account(arn: str) -> str:
    return arn.split(":")[4]


# ---------------------------------------------------------------------------
# Regions and zones (facts from algoinfra/data/regions.yml)
# ---------------------------------------------------------------------------


def _known_region(value: str) -> str:
    if value not in facts.regions():
        raise Invalid(f"unknown region {echo(value)}: not a commercial AWS region listed in algoinfra/data/regions.yml")
    return value


Region = Annotated[
    str,
    Shape("an AWS region such as ap-northeast-1"),
    AfterValidator(_known_region),
    WithJsonSchema({"type": "string", "enum": list(facts.regions())}),
]


def _known_zone(value: str) -> str:
    region = value[:-1]
    zones = facts.regions().get(region)
    if zones is None:
        raise Invalid(f"{echo(value)} is not an availability zone: unknown region {echo(region)}")
    if value not in zones:
        raise Invalid(f"{echo(value)} does not exist: {region} has {', '.join(zones)} (algoinfra/data/regions.yml)")
    return value


AvailabilityZone = Annotated[
    str,
    Shape("an availability zone such as ap-northeast-1a", r"^[a-z]{2}-[a-z]+-[0-9][a-z]$"),
    AfterValidator(_known_zone),
    WithJsonSchema({"type": "string", "enum": [az for zones in facts.regions().values() for az in zones]}),
]

# ---------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------

CIDR_PATTERN = r"^[0-9]{1,3}(?:\.[0-9]{1,3}){3}/[0-9]{1,2}$"


def parse_cidr(value: str) -> ipaddress.IPv4Network:
    """An IPv4 network in CIDR form with no host bits set."""
    if not re.fullmatch(CIDR_PATTERN, value):
        raise Invalid(f"must be an IPv4 CIDR such as 10.0.0.0/16, got {echo(value)}")
    try:
        return ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise Invalid(f"invalid CIDR {echo(value)}: {exc}") from None


def _canonical_cidr(value: str) -> str:
    return str(parse_cidr(value))


Cidr = Annotated[
    str,
    Shape("an IPv4 CIDR such as 10.0.0.0/16"),
    AfterValidator(_canonical_cidr),
    WithJsonSchema({"type": "string", "pattern": CIDR_PATTERN}),
]

# ---------------------------------------------------------------------------
# Collections: lists become tuples, mappings read-only proxies
# ---------------------------------------------------------------------------


def _as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _unique(value: tuple[Any, ...]) -> tuple[Any, ...]:
    seen: set[Any] = set()
    for item in value:
        if item in seen:
            raise Invalid(f"must not repeat an item: {echo(item)} appears twice")
        seen.add(item)
    return value


@dataclass(frozen=True)
class Items:
    """``Annotated[tuple[X, ...], Items(...)]``: a YAML list read as a tuple.

    ``max_items`` keeps a hostile list from crawling; items are unique unless said otherwise.
    """

    max_items: int
    min_items: int = 0
    unique: bool = True

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        inner = handler.generate_schema(
            Annotated[source, Field(min_length=self.min_items or None, max_length=self.max_items)]
        )
        if self.unique:
            inner = core_schema.no_info_after_validator_function(_unique, inner)
        return core_schema.no_info_before_validator_function(_as_tuple, inner)

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        out = handler(schema)
        if self.unique:
            out["uniqueItems"] = True
        return out


@dataclass(frozen=True)
class ReadOnly:
    """``Annotated[Mapping[K, V], ReadOnly()]``: a YAML mapping read as a read-only mapping."""

    max_items: int | None = None

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        key, value = get_args(source)
        inner = handler.generate_schema(Annotated[dict[key, value], Field(max_length=self.max_items)])  # type: ignore[valid-type]
        return core_schema.no_info_after_validator_function(MappingProxyType, inner)

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        out = handler(schema)
        # Keys of a given shape: say so for every key (pydantic's patternProperties
        # would let any other key through).
        if "patternProperties" in out:
            ((pattern, value),) = out.pop("patternProperties").items()
            out["propertyNames"] = {"pattern": pattern}
            out["additionalProperties"] = value
        return out
