"""Every request body the API reads, each declared once as a strict pydantic model.

A model both validates (a 400 ``invalid_parameter`` naming every bad field, as
``items[0].qty``, ``home.lat`` or an unknown ``coupon``) and gives the OpenAPI document its
schema (:func:`body_schemas`). Strict: no ``"1"`` for 1, no ``1.0`` for a whole number, no
``0`` for false, no field the model does not name. The text is first read by
:func:`web.params.json_object` (size, UTF-8, NaN, control characters, names given twice, depth).
What depends on the time, on Redis or on who calls (a deliver_at too soon, an unknown sku, a
store token's statuses) stays with the view or the domain; shape stays here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import UnionType
from typing import Annotated, Any, ClassVar, Self, Union, get_args, get_origin

from flask import request
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    SkipValidation,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from dispatch.couriers import MAX_SHIFT
from dispatch.orders import (
    CHANNELS,
    FULFILMENTS,
    MAX_CAMPAIGN,
    MAX_LINES,
    MAX_QTY,
    STATUSES,
    OrderLine,
    OrderRequest,
)
from dispatch.storage.tokens import BOUND_ROLES, MAX_GRACE, ROLES
from geo.travel import VEHICLE_SPEEDS_MPS
from web.errors import invalid_parameters
from web.params import (
    MAX_PROBLEMS,
    MOMENT_RULE,
    SAFE_ID,
    SHOWN_NAME_LEN,
    is_safe_id,
    json_object,
    parse_moment,
)

# The limits of what a body may hold, named once: the models below, the views and the CLI
# use these names (and the OpenAPI document shows them, from the models).
MAX_ID_LEN = 128  # ids that become keys, paths and log fields; a channel's own order id
MAX_COURIER_ID_LEN = 64  # a courier id is also a path segment of the fleet pages
MAX_SKU_LEN = 64
MAX_TEXT_LEN = 500  # addresses, notes, reasons, photo references
MAX_CODE_LEN = 16  # a delivery or pick-up code as typed
MAX_CONTACT_LEN = 40
MAX_NAME_LEN = 100  # a courier's name
MAX_LABEL_LEN = 200  # a token's label
MAX_CAPACITY = 20  # orders a courier carries at once
MAX_BATCH = 200  # orders in one bulk intake
MAX_PINGS = 500  # fixes in one upload from a phone
MAX_STOCK_LINES = 1000
MAX_STOCK_QTY = 1_000_000  # a level, or a delta either way
MIN_TTL_S, MAX_TTL_S = 60, 366 * 86_400  # a token's lifetime
MAX_GRACE_S = int(MAX_GRACE.total_seconds())
# The most bytes each kind of body may have (a 413 past it).
SMALL_BODY_BYTES = 4_000  # tokens
FORM_BODY_BYTES = 8_000  # fleet, pins, courier events
ORDER_BODY_BYTES = 32_000
BATCH_BODY_BYTES = 640_000  # MAX_BATCH orders of the largest reasonable size
PINGS_BODY_BYTES = 100_000

EVENT_TYPES = ("arrived", "picked_up", "delivered", "failed")
STOCK_MODES = ("set", "adjust")
CONTACT = re.compile(r"\+?[0-9][0-9 ().-]{4,30}")  # a phone number as people write one

RULE = "body_rule"  # the type of an error whose message is said as is, at ctx["field"] if given


def refused(message: str, *, field: str | None = None) -> PydanticCustomError:
    """A validator's refusal, said to the client as ``message`` (at ``field``, a path from the
    body's top, when a check of the whole model names one member)."""
    return PydanticCustomError(RULE, "{message}", {"message": message, "field": field})


@dataclass(frozen=True, slots=True)
class Rule:
    """What a field must be, said back (as today's answers did) for any fault of its value."""

    text: str


@dataclass(frozen=True, slots=True)
class Whole(Rule):
    """A member named as one field: a fault of any part of it (``home.lat``) is said at it
    (``home``), but for an unknown field inside, named by its own path."""


@dataclass(frozen=True, slots=True)
class OneOf:
    """A string that must be one of ``values`` (an enum in the schema)."""

    values: tuple[str, ...]

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> Any:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        return handler(schema) | {"enum": list(self.values)}

    def _check(self, value: str) -> str:
        if value not in self.values:
            msg = "must be one of {allowed}"
            raise PydanticCustomError("one_of", msg, {"allowed": ", ".join(self.values)})
        return value


@dataclass(frozen=True, slots=True)
class NotNull:
    """An optional field that may be left out but not sent as null (its schema says so)."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> Any:
        return core_schema.no_info_before_validator_function(_not_null, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        shown = handler(schema)
        kept = [s for s in shown.get("anyOf", ()) if s != {"type": "null"}]
        if len(kept) == 1:
            shown = {k: v for k, v in shown.items() if k != "anyOf"} | kept[0]
        return shown


def _not_null(value: Any) -> Any:
    if value is None:
        raise PydanticCustomError("not_null", "may be left out, but not null")
    return value


def _moment(value: Any) -> Any:
    moment = parse_moment(value)
    if moment is None:
        raise PydanticCustomError("moment", "must be {rule}", {"rule": MOMENT_RULE})
    return moment


def _stripped(value: str) -> str:
    return value.strip()


def _contact(value: str) -> str:
    """6 to 15 digits, with spaces, dashes, dots or brackets as written, and a leading +."""
    digits = sum(ch.isdigit() for ch in value)
    if value and (not CONTACT.fullmatch(value) or not 6 <= digits <= 15):
        raise refused("a phone number: 6 to 15 digits, optionally +, spaces and dashes")
    return value


def _given_id(value: str) -> str:
    if not value:
        raise refused("required: the channel's own id of this order")
    return value


@dataclass(frozen=True, slots=True)
class BlankIsAbsent:
    """An optional id that a blank string ("" or spaces) leaves out, as absence does; null is
    refused like a number (its schema says so)."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> Any:
        return core_schema.no_info_before_validator_function(self._absent, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        shown = handler(schema)
        blank = {"type": "string", "pattern": r"^\s*$"}
        shown["anyOf"] = [blank if s == {"type": "null"} else s for s in shown.get("anyOf", ())]
        return shown

    @staticmethod
    def _absent(value: Any) -> Any:
        _not_null(value)
        return (value.strip() or None) if isinstance(value, str) else value


SafeId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_LEN, pattern=SAFE_ID)]
CourierId = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_COURIER_ID_LEN, pattern=SAFE_ID)
]
Moment = Annotated[datetime, BeforeValidator(_moment)]  # see web.params.parse_moment
Lat = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Lng = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT_LEN), AfterValidator(_stripped)]
TEXT_RULE = Rule(f"must be a string of at most {MAX_TEXT_LEN} characters")
Checked = Annotated[bool | None, NotNull()]
TTL = Annotated[
    Annotated[int, Field(ge=MIN_TTL_S, le=MAX_TTL_S)] | None,
    Field(description="expire this many seconds from now"),
    Rule(f"a whole number of seconds from {MIN_TTL_S} to {MAX_TTL_S}"),
]
DELIVER_AT_TEXT = (
    "a scheduled order: deliver around this moment (zone required), at least 60 min ahead, "
    "later today or tomorrow in the store's calendar, the store open while it prepares; null "
    "or absent: within the hour. On a pick-up order it is the pick-up time: the goods are "
    "ready at the counter when its window opens"
)


def _without_docstring(schema: dict[str, Any]) -> None:
    """A model's docstring is for whoever reads the code; the document says what the API
    does around each schema."""
    schema.pop("description", None)


class Body(BaseModel):
    """A request body: strict, closed to fields it does not name, read by :meth:`read`."""

    model_config = ConfigDict(
        strict=True, extra="forbid", frozen=True, json_schema_extra=_without_docstring
    )
    max_bytes: ClassVar[int] = FORM_BODY_BYTES
    shape: ClassVar[str] = "must be a JSON object"  # said when a member is not an object

    @classmethod
    def read(cls, *, optional: bool = False) -> Self:
        """The request's body as this model (``optional``: no body at all reads as ``{}``);
        a 400 naming each bad field, a 413 past :attr:`max_bytes`."""
        return cls.read_with_json(optional=optional)[0]

    @classmethod
    def read_with_json(cls, *, optional: bool = False) -> tuple[Self, dict[str, Any]]:
        """The body as this model, and as the JSON object it was (for a fingerprint)."""
        if optional and not request.get_data(cache=True):
            return cls.from_json({}), {}
        raw = json_object(max_bytes=cls.max_bytes)
        return cls.from_json(raw), raw

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Self:
        """``raw`` (a JSON object read by :func:`web.params.json_object`) as this model."""
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise invalid_parameters(problems_of(cls, exc)) from None


def problems_of(model: type[BaseModel], error: ValidationError) -> dict[str, str]:
    """Each bad field of ``error`` by its path in the body (``items[0].qty``), with what it
    must be: the field's :class:`Rule` where it has one, else the check's own words."""
    problems: dict[str, str] = {}
    for fault in error.errors(include_url=False, include_input=False):
        if len(problems) >= MAX_PROBLEMS:
            break
        loc = tuple(fault["loc"])
        context = fault.get("ctx") or {}
        owner, info = _field_at(model, loc[:-1] if fault["type"] == "extra_forbidden" else loc)
        if fault["type"] == "extra_forbidden":
            holder = owner if info is None else _model_of(info.annotation)
            expected = ", ".join(sorted(holder.model_fields)) if holder else ""
            problems[path_of(loc)] = f"unknown field (expected: {expected})"
        elif fault["type"] == RULE:
            problems[context.get("field") or path_of(loc)] = fault["msg"]
        else:
            whole = _whole_at(model, loc)
            if whole is not None:
                problems[path_of(loc[: whole[0]])] = whole[1]
            else:
                problems[path_of(loc)] = _said(fault, info, owner)
    return problems


def _whole_at(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[int, str] | None:
    """Where along ``loc`` a :class:`Whole` member holds the fault, and what it says."""
    for depth in range(1, len(loc)):
        info = _field_at(model, loc[:depth])[1]
        said = next((m for m in info.metadata if isinstance(m, Whole)), None) if info else None
        if said is not None:
            return depth, said.text
    return None


def _said(fault: Any, info: FieldInfo | None, owner: type[BaseModel] | None) -> str:
    rule = next((m.text for m in info.metadata if isinstance(m, Rule)), None) if info else None
    if rule is not None:
        return rule
    if fault["type"] == "model_type":  # a list item or a member that is not an object
        shaped = owner if info is None else _model_of(info.annotation)
        return str(getattr(shaped, "shape", Body.shape))
    if fault["type"] == "missing":
        return "required"
    message = str(fault["msg"])
    return message[:1].lower() + message[1:]


def path_of(loc: tuple[Any, ...]) -> str:
    """A pydantic location as the API names fields: ``items[0].sku``, ``home.lat``."""
    path = ""
    for step in loc:
        if isinstance(step, int):
            path += f"[{step}]"
        else:
            name = str(step)[:SHOWN_NAME_LEN]
            path = f"{path}.{name}" if path else name
    return path


def _field_at(
    model: type[BaseModel], loc: tuple[Any, ...]
) -> tuple[type[BaseModel] | None, FieldInfo | None]:
    """The model that holds the member at ``loc``, and the field it is (None for a list item
    or the whole body)."""
    owner: type[BaseModel] | None = model
    info: FieldInfo | None = None
    kind: Any = model
    for step in loc:
        if isinstance(step, int):
            kind = next(_inner(kind, item=True), None)
            owner, info = _model_of(kind), None
            continue
        owner = _model_of(kind)
        if owner is None or step not in owner.model_fields:
            return owner, None
        info = owner.model_fields[step]
        kind = info.annotation
    return owner, info


def _inner(kind: Any, *, item: bool = False) -> Iterator[Any]:
    """The types inside ``kind``: a union's members, a list's items (``item``)."""
    origin = get_origin(kind)
    if origin is Annotated:
        yield from _inner(get_args(kind)[0], item=item)
    elif origin in (Union, UnionType):
        for member in get_args(kind):
            yield from _inner(member, item=item)
    elif item and origin is list:
        yield from _inner(get_args(kind)[0])
    elif not item:
        yield kind


def _model_of(kind: Any) -> type[BaseModel] | None:
    for member in _inner(kind):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return member
    return None


# --- orders: shoppers, channels, store staff ---------------------------------------------


class OrderLineBody(Body):
    shape: ClassVar[str] = "must be an object {sku, qty}"
    sku: Annotated[
        str, StringConstraints(min_length=1, max_length=MAX_SKU_LEN), Rule("required: a string")
    ]
    qty: Annotated[
        int, Field(ge=1, le=MAX_QTY), Rule(f"must be a whole number from 1 to {MAX_QTY}")
    ]


class OrderBody(Body):
    """An order from any channel (POST /orders, and each of a bulk intake's)."""

    max_bytes: ClassVar[int] = ORDER_BODY_BYTES
    channel: Annotated[str, OneOf(CHANNELS), Rule(f"must be one of {', '.join(CHANNELS)}")]
    external_id: Annotated[
        str,
        StringConstraints(min_length=1, max_length=MAX_ID_LEN),
        AfterValidator(_stripped),
        AfterValidator(_given_id),
        Rule(f"required: the channel's own id of this order (at most {MAX_ID_LEN} characters)"),
    ]
    lat: Annotated[Lat, Rule("required: a number in [-90, 90]")]
    lng: Annotated[Lng, Rule("required: a number in [-180, 180]")]
    address: Annotated[Text, TEXT_RULE] = ""
    items: Annotated[
        list[OrderLineBody],
        Field(min_length=1, max_length=MAX_LINES),
        Rule(f"required: a list of 1 to {MAX_LINES} {{sku, qty}} lines"),
    ]
    note: Annotated[Text, TEXT_RULE] = ""
    store_id: Annotated[
        SafeId | None,
        BlankIsAbsent(),
        Rule(f"a store id matching {SAFE_ID} (blank or absent: none)"),
        Field(
            description="the store that fulfils the order or none does: with channel store "
            "required, the store that took it (a store token's own store); on any other order "
            "the store the shopper chose from the nearby list (422 no_store_can_fulfil with its "
            "reasons and details.nearest_that_could if it cannot)"
        ),
    ] = None
    fulfilment: Annotated[
        str,
        OneOf(FULFILMENTS),
        Field(
            description="delivery: a courier brings it within the hour; pickup: the shopper "
            "collects it at the store's counter with the pick-up code (no courier, no delivery "
            "radius)"
        ),
    ] = "delivery"
    campaign: Annotated[
        Annotated[str, StringConstraints(min_length=1, max_length=MAX_CAMPAIGN, pattern=SAFE_ID)]
        | None,
        Rule(f"a code of 1 to {MAX_CAMPAIGN} characters matching {SAFE_ID}"),
        Field(
            description="the coupon or QR campaign code that brought the order (merchant "
            "figures per campaign)"
        ),
    ] = None
    contact: Annotated[
        str,
        StringConstraints(max_length=MAX_CONTACT_LEN),
        AfterValidator(_stripped),
        AfterValidator(_contact),
        Rule(f"must be a string of at most {MAX_CONTACT_LEN} characters"),
        Field(
            description="the shopper's phone for the courier: 6 to 15 digits, optionally +, "
            "spaces, dashes; couriers see it masked (09xx-xxx-678)"
        ),
    ] = ""
    deliver_at: Annotated[Moment | None, Field(description=DELIVER_AT_TEXT)] = None

    @field_validator("items")
    @classmethod
    def _one_line_per_sku(cls, items: list[OrderLineBody]) -> list[OrderLineBody]:
        if len({line.sku for line in items}) != len(items):
            raise refused("each sku may appear on one line only")
        return items

    def order_request(self) -> OrderRequest:
        """The domain's order request (deliver_at in UTC; whether it can be booked is the
        intake's to say)."""
        return OrderRequest(
            self.channel, self.external_id, self.lat, self.lng, self.address,
            tuple(OrderLine(line.sku, line.qty) for line in self.items), self.note,
            store_id=self.store_id, fulfilment=self.fulfilment, campaign=self.campaign,
            contact=self.contact,
            deliver_at=None if self.deliver_at is None else self.deliver_at.astimezone(UTC),
        )  # fmt: skip


class BatchOrdersBody(Body):
    """Bulk intake: each order is read on its own (:meth:`OrderBody.from_json`) and refused in
    its place, so the envelope holds them unread."""

    max_bytes: ClassVar[int] = BATCH_BODY_BYTES
    orders: Annotated[
        list[SkipValidation[OrderBody]],
        Field(min_length=1, max_length=MAX_BATCH),
        Rule(f"required, and only it: a list of 1 to {MAX_BATCH}"),
    ]


class ReorderBody(Body):
    max_bytes: ClassVar[int] = ORDER_BODY_BYTES
    deliver_at: Annotated[Moment | None, Field(description=DELIVER_AT_TEXT)] = None


class StatusChangeBody(Body):
    max_bytes: ClassVar[int] = ORDER_BODY_BYTES
    status: Annotated[str, OneOf(STATUSES[1:]), Rule(f"must be one of {', '.join(STATUSES[1:])}")]
    note: Annotated[Text, TEXT_RULE] = ""


class CancelBody(Body):
    max_bytes: ClassVar[int] = ORDER_BODY_BYTES
    reason: Annotated[Text, TEXT_RULE] = ""


ID_CHECKED_RULE = Rule("true or false: whether the buyer's ID was checked and valid")


class CollectBody(Body):
    max_bytes: ClassVar[int] = ORDER_BODY_BYTES
    code: Annotated[
        str,
        StringConstraints(min_length=1, max_length=MAX_CODE_LEN),
        Rule("required: the shopper's pick-up code, as a string"),
    ]
    id_checked: Annotated[
        Checked,
        ID_CHECKED_RULE,
        Field(description="the buyer's ID was checked and valid: required for age-restricted "
              "items"),
    ] = None  # fmt: skip


UNKNOWN_SKU = Rule("unknown sku")  # a sku must also be in the catalogue (the view's to say)


class StockLineBody(Body):
    shape: ClassVar[str] = "must be an object {sku, qty}"
    sku: Annotated[str, StringConstraints(min_length=1, max_length=MAX_SKU_LEN), UNKNOWN_SKU]
    qty: Annotated[int, Field(ge=-MAX_STOCK_QTY, le=MAX_STOCK_QTY), Rule("must be a whole number")]


class StockBody(Body):
    """A store's stock push: levels (set) or deltas (adjust), one line per sku."""

    max_bytes: ClassVar[int] = ORDER_BODY_BYTES
    mode: Annotated[str, OneOf(STOCK_MODES), Rule("must be set or adjust")] = "set"
    items: Annotated[
        list[StockLineBody],
        Field(min_length=1, max_length=MAX_STOCK_LINES),
        Rule(f"required: a list of 1 to {MAX_STOCK_LINES} {{sku, qty}} entries"),
    ]

    @model_validator(mode="after")
    def _one_line_per_sku(self) -> Self:
        seen: set[str] = set()
        for i, line in enumerate(self.items):
            if line.sku in seen:  # which of two levels or deltas was meant? neither is kept
                msg = f"{line.sku} is on an earlier line too: one line per sku"
                raise refused(msg, field=f"items[{i}].sku")
            if self.mode == "set" and line.qty < 0:
                raise refused("a level cannot be negative", field=f"items[{i}].qty")
            seen.add(line.sku)
        return self

    def changes(self) -> dict[str, int]:
        return {line.sku: line.qty for line in self.items}


# --- the courier's phone ---------------------------------------------------------------


class ProofBody(Body):
    code: Annotated[
        Annotated[str, StringConstraints(min_length=1, max_length=MAX_CODE_LEN)] | None,
        Rule("the shopper's four digits, as a string"),
    ] = None
    photo_ref: Annotated[
        Annotated[str, StringConstraints(max_length=MAX_TEXT_LEN)] | None, TEXT_RULE
    ] = None


class CourierEventBody(Body):
    """One event from a phone; the rules that depend on its type and on the order (a reason
    for a failure, a proof for a delivery, the ID check) are the view's."""

    event_id: Annotated[
        str,
        StringConstraints(min_length=1, max_length=MAX_ID_LEN),
        Rule(f"required: the phone's own id of this event (1-{MAX_ID_LEN} chars)"),
    ]
    order_id: Annotated[
        str, StringConstraints(min_length=1, max_length=MAX_ID_LEN), Rule("required")
    ]
    type: Annotated[str, OneOf(EVENT_TYPES), Rule(f"must be one of {', '.join(EVENT_TYPES)}")]
    proof: ProofBody | None = None
    reason: Annotated[
        Annotated[str, StringConstraints(max_length=MAX_TEXT_LEN)] | None,
        Rule(f"a string of at most {MAX_TEXT_LEN} characters"),
    ] = None
    id_checked: Annotated[
        Checked,
        ID_CHECKED_RULE,
        Field(description="delivered: true is required for age-restricted items; failed with "
              "false: the ID check failed (no reason needed), the goods go back to the store's "
              "stock"),
    ] = None  # fmt: skip


class FixBody(Body):
    """A location fix from a phone; a bad one is refused in its place, with its reason."""

    lat: Lat
    lng: Lng
    at: Moment

    @classmethod
    def judged(cls, item: Any) -> Self | str:
        """The fix, or why it is refused (in the words the phones are used to)."""
        if not isinstance(item, dict):
            return "must be an object {lat, lng, at}"
        try:
            return cls.model_validate(item)
        except ValidationError as exc:
            faults = exc.errors(include_url=False, include_input=False)
        unknown = [str(f["loc"][0]) for f in faults if f["type"] == "extra_forbidden"]
        if unknown:
            return f"unknown field(s): {', '.join(sorted(unknown))} (a fix is {{lat, lng, at}})"
        if any(f["loc"][0] in ("lat", "lng") for f in faults):
            return "lat and lng must be numbers in WGS84 degrees"
        return f"at must be {MOMENT_RULE}"


class PingsBody(Body):
    max_bytes: ClassVar[int] = PINGS_BODY_BYTES
    pings: Annotated[
        list[SkipValidation[FixBody]],
        Field(min_length=1, max_length=MAX_PINGS),
        Rule(f"required: a list of 1 to {MAX_PINGS} fixes"),
    ]


# --- dispatchers: the fleet and pins -----------------------------------------------------


class PositionBody(Body):
    """A position in WGS84 degrees: a location ping, a courier's home."""

    shape: ClassVar[str] = "required: {lat, lng} in WGS84 degrees"
    lat: Annotated[Lat, Rule("required: a number from -90 to 90")]
    lng: Annotated[Lng, Rule("required: a number from -180 to 180")]


class CourierBody(Body):
    """A courier registered (or registered again): vehicle, capacity, shift and home."""

    id: Annotated[
        CourierId, Rule(f"required: 1 to {MAX_COURIER_ID_LEN} characters matching {SAFE_ID}")
    ]
    name: Annotated[
        Annotated[str, StringConstraints(max_length=MAX_NAME_LEN)] | None,
        NotNull(),
        Rule(f"a string of at most {MAX_NAME_LEN} characters"),
        Field(description="default: the id"),
    ] = None
    vehicle: Annotated[
        str,
        OneOf(tuple(VEHICLE_SPEEDS_MPS)),
        Rule(f"must be one of {', '.join(VEHICLE_SPEEDS_MPS)}"),
    ]
    capacity: Annotated[
        int,
        Field(ge=1, le=MAX_CAPACITY),
        Rule(f"a whole number of orders from 1 to {MAX_CAPACITY}"),
    ]
    shift_start: Annotated[Moment, Rule(f"required: {MOMENT_RULE}")]
    shift_end: Annotated[Moment, Rule(f"required: {MOMENT_RULE}, after shift_start")]
    home: Annotated[PositionBody, Whole("required: {lat, lng} in WGS84 degrees")]

    @field_validator("shift_end")
    @classmethod
    def _after_the_start(cls, end: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("shift_start")
        if start is not None and end <= start:
            raise refused(f"required: {MOMENT_RULE}, after shift_start")
        return end


SHIFT_END_RULE = (
    f"required: {MOMENT_RULE}, after start and at most {MAX_SHIFT.total_seconds() / 3600:g} h later"
)


class DeactivateBody(Body):
    reason: Annotated[Text, TEXT_RULE] = ""


class ShiftBody(Body):
    """A shift on another day; how far ahead, and that it is not over, are the view's (now)."""

    start: Annotated[Moment, Rule(f"required: {MOMENT_RULE}")]
    end: Annotated[Moment, Rule(SHIFT_END_RULE)]

    @field_validator("end")
    @classmethod
    def _after_the_start(cls, end: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("start")
        if start is not None and not start < end <= start + MAX_SHIFT:
            raise refused(SHIFT_END_RULE)
        return end


class PinBody(Body):
    courier_id: Annotated[CourierId, Rule("required: the id of a registered courier")]
    allow_late: Annotated[
        bool,
        Rule("true or false"),
        Field(description="accept a courier who can only deliver after the promise"),
    ] = False


# --- admins: tokens ----------------------------------------------------------------------


def subject_problem(role: str, subject: Any) -> str | None:
    """What is wrong with ``subject`` as the subject of a ``role`` token, if anything (the
    token body's rule, and the CLI's)."""
    if role not in BOUND_ROLES:
        return None if subject is None else f"a {role} token acts for no one: leave it out"
    if subject is None:
        return f"required: the {role} id a {role} token acts for"
    if not is_safe_id(subject, max_length=MAX_ID_LEN):
        return f"an id of 1 to {MAX_ID_LEN} characters matching {SAFE_ID}"
    return None


class ExpiryBody(Body):
    """When a token expires: ``ttl_s`` from now or at ``expires_at`` (one at most; that it is
    in the future is the view's)."""

    max_bytes: ClassVar[int] = SMALL_BODY_BYTES
    ttl_s: TTL = None
    expires_at: Annotated[
        Moment | None,
        Rule(f"{MOMENT_RULE}, in the future"),
        Field(description="expire at this moment (not with ttl_s)"),
    ] = None

    @model_validator(mode="after")
    def _one_expiry(self) -> Self:
        if self.ttl_s is not None and self.expires_at is not None:
            raise refused("give ttl_s or expires_at, not both", field="ttl_s")
        return self

    def expiry(self, *, at: datetime) -> datetime | None:
        """The moment asked for (None: none asked)."""
        if self.ttl_s is not None:
            return at + timedelta(seconds=self.ttl_s)
        return self.expires_at


class TokenBody(ExpiryBody):
    role: Annotated[str, OneOf(ROLES), Rule(f"must be one of {', '.join(ROLES)}")]
    subject: Annotated[
        SafeId | None,
        Rule(f"an id of 1 to {MAX_ID_LEN} characters matching {SAFE_ID}"),
        Field(description="shopper, store or courier roles only: the id it acts for"),
    ] = None
    label: Annotated[
        str,
        StringConstraints(max_length=MAX_LABEL_LEN),
        Rule(f"must be a string of at most {MAX_LABEL_LEN} characters"),
    ] = ""

    @model_validator(mode="after")
    def _subject_for_the_role(self) -> Self:
        problem = subject_problem(self.role, self.subject)
        if problem is not None:
            raise refused(problem, field="subject")
        return self


class RotationBody(ExpiryBody):
    grace_s: Annotated[
        int,
        Field(ge=0, le=MAX_GRACE_S, description="the old secret works this much longer"),
        Rule(f"a whole number of seconds from 0 to {MAX_GRACE_S}"),
    ] = 0


# --- the document ------------------------------------------------------------------------


class _Schema(GenerateJsonSchema):
    """Schemas as the document shows them: no generated title on every property."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


REF = "#/components/schemas/{model}"


def body_models() -> dict[str, type[Body]]:
    """Every body model by its name (the name its schema has in the document)."""
    found: dict[str, type[Body]] = {}
    waiting: list[type[Body]] = [Body]
    while waiting:
        for model in waiting.pop().__subclasses__():
            found[model.__name__] = model
            waiting.append(model)
    return found


def schema_of(model: type[BaseModel]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A body's schema for the document, and the schemas it refers to (for components/schemas,
    referred to as ``#/components/schemas/<Name>``)."""
    schema = model.model_json_schema(ref_template=REF, schema_generator=_Schema)
    return {k: v for k, v in schema.items() if k != "$defs"}, schema.get("$defs", {})
