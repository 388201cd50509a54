"""The input schema: what a personal serious-illness help campaign (个人大病求助) *is*.

Field names are the public contract and use the domain's words (see ``docs/concepts.md``):
发起人 ``initiator``, 求助人/患者 ``patient``, 信息公示 ``disclosure``, 提现 ``payout``.

Money is CNY yuan held as :class:`~decimal.Decimal` with exactly two places (fen), so a threshold such
as ¥300,000 is compared exactly. A naive time means Asia/Shanghai. ``None`` in a disclosure item means
*not answered*, which is different from ``False`` (answered "no").

Identity numbers are accepted only to be hashed with a platform key (see :class:`compliance.Blacklist`):
they are held as secrets, never appear in ``repr``, dumps, digests or error messages.
"""

from __future__ import annotations

import decimal
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from compliance._vocabulary import Frozen
from compliance.errors import CampaignError, FieldProblem

__all__ = [
    "DISCLOSURE_ITEMS",
    "SHANGHAI",
    "Activity",
    "Campaign",
    "Disclosure",
    "Documents",
    "Initiator",
    "Medical",
    "Patient",
    "Payee",
    "Payout",
    "Relation",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")
_FEN = Decimal("0.01")
DECIMAL_CONTEXT = decimal.Context(prec=28, rounding=decimal.ROUND_HALF_EVEN)
"""One fixed decimal context for money and rule evaluation, whatever the calling thread's context is."""

Relation = Literal["self", "spouse", "parent", "child", "sibling", "other_relative", "other"]
"""Who the initiator is to the patient (发起人与患者关系)."""

Payee = Literal["patient", "close_relative", "hospital_account", "other"]
"""Who receives a payout: the patient, a close relative (近亲属), the hospital's account (就诊帐户) or other."""


def _to_fen(amount: Decimal) -> Decimal:
    return amount.quantize(_FEN, context=DECIMAL_CONTEXT)


Money = Annotated[Decimal, Field(ge=0, decimal_places=2, max_digits=17, allow_inf_nan=False), AfterValidator(_to_fen)]
"""CNY yuan, exact to the fen: finite, non-negative, at most two decimal places; floats are read by their
shortest text (49999.99 stays 49999.99), so no rounding happens at a threshold."""

MONEY = TypeAdapter(Money)
"""Validates one amount the way campaign fields are validated (used for money parameters)."""


def _to_shanghai(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=SHANGHAI)
    return value.astimezone(SHANGHAI)


def _instant(value: datetime) -> datetime:
    """A time as Asia/Shanghai, refused when it or its UTC time falls outside the years 1 to 9999."""
    if 1 < value.year < 9999:  # an offset is less than a day: no conversion can leave the calendar
        return value.replace(tzinfo=SHANGHAI) if value.tzinfo is None else value.astimezone(SHANGHAI)
    try:
        shanghai = _to_shanghai(value)
        shanghai.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(
            "datetime_out_of_range", "the time lies outside the years 1 to 9999 in Asia/Shanghai or in UTC"
        ) from None
    return shanghai


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_micros(value: datetime) -> int:
    """Microseconds since the Unix epoch, exactly; a naive time means Asia/Shanghai (as for a campaign)."""
    return (_to_shanghai(value) - _EPOCH) // timedelta(microseconds=1)


def from_epoch_micros(micros: int) -> datetime:
    """The Asia/Shanghai time ``micros`` microseconds after the Unix epoch (the inverse of :func:`epoch_micros`)."""
    return (_EPOCH + timedelta(microseconds=micros)).astimezone(SHANGHAI)


UTC_OFFSET = r"(?:Z|[+-]\d{2}:?\d{2})"
"""How an ISO time written as text ends when it names its offset from UTC: ``Z``, ``+08:00`` or ``+0800``,
as the schema reads them (a time without one is Asia/Shanghai time). Every column reader of text times
uses this one pattern, so a table reads an offset as a single campaign does."""

Instant = Annotated[datetime, AfterValidator(_instant)]
"""A point in time; a naive value or a bare date means Asia/Shanghai. Both its Asia/Shanghai and its UTC
time must lie within the years 1 to 9999 (``datetime_out_of_range`` otherwise)."""


def is_unicode(text: str) -> bool:
    """Whether ``text`` is valid Unicode, i.e. holds no lone surrogate (which no encoding can write)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unicode(value: str) -> str:
    if not is_unicode(value):
        raise PydanticCustomError("string_unicode", "the text is not valid Unicode (it holds a lone surrogate)")
    return value


Text = Annotated[str, Field(min_length=0)]
"""Text that is valid Unicode: a lone surrogate (``"\\udcff"``, which Python allows in a ``str`` but no
encoding can write) is refused (``string_unicode``), so every text can be hashed, digested and printed.
A length constraint, even this empty one, has pydantic-core read the text as UTF-8, which refuses a lone
surrogate with its own ``string_unicode``: a Python validator per text cost about 0.4 µs each
(``tests/test_inputs.py`` holds every text field to this)."""


def _ordered(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        raise PydanticCustomError("tuple_type", "Input should be a list or tuple: a set has no order")
    return value


Texts = Annotated[tuple[Text, ...], BeforeValidator(_ordered)]
"""An ordered list of texts; a ``set`` is refused, as its order (and so the input digest) differs by process."""


def normalise_id_number(number: str) -> str:
    """An identity number as it is hashed: trimmed, with a final ``x`` upper-cased."""
    return number.strip().upper()


def _normalise_id(value: Any) -> Any:
    if isinstance(value, str):
        if not value.isascii():
            _unicode(value)
        value = normalise_id_number(value)
        if not value:
            raise ValueError("an identity number cannot be empty")
    return value


IdNumber = Annotated[SecretStr, BeforeValidator(_normalise_id)]
COUNT_LIMIT = 2**63 - 1
"""The largest count (a signed 64-bit integer, as tables store counts)."""


Count = Annotated[int, Field(ge=0, le=COUNT_LIMIT)]
"""A count of things the platform observed; ``None`` where the export does not say (unknown, not zero).
A boolean is refused (``int_type``, as money refuses one: see :func:`_counts_without_booleans`), and so is
a count above :data:`COUNT_LIMIT`."""
_NOT_A_COUNT = object()  # what int validation refuses (int_type), at the field's own location


def _is_boolean(value: Any) -> bool:
    kind = type(value)
    return kind is bool or (kind is not int and kind.__module__ == "numpy" and kind.__name__ in ("bool", "bool_"))


_PLAIN_KINDS = frozenset({int, type(None), str, float, Decimal})


def _counts_without_booleans(data: Any, counts: tuple[str, ...]) -> Any:
    """``data`` with each boolean given for one of its ``counts`` replaced by a value int validation refuses:
    lax int validation reads ``True`` as 1. One check per model, not a validator per count field (which
    cost about 0.4 µs each)."""
    if type(data) is not dict or set(map(type, map(data.get, counts))) <= _PLAIN_KINDS:
        return data
    found = [name for name in counts if _is_boolean(data.get(name))]
    return {**data, **dict.fromkeys(found, _NOT_A_COUNT)} if found else data


HashHex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class _Model(Frozen):
    """The library's frozen base, and a value that fails validation is never quoted: it may be an identity number."""

    model_config = ConfigDict(hide_input_in_errors=True)


class _Person(_Model):
    real_name_verified: bool | None = None
    """Whether the platform verified this person's real name (实名认证); ``None`` if unknown."""
    id_number: IdNumber | None = Field(default=None, exclude=True, repr=False)
    """Raw identity number: only ever hashed with a platform key, never stored or echoed."""
    id_number_hash: HashHex | None = None
    """HMAC-SHA256 of the identity number under the platform key, as 64 lower-case hex digits."""


class Initiator(_Person):
    """发起人: the person who starts the campaign."""

    relation_to_patient: Relation | None = None
    truthfulness_acknowledged: bool | None = None
    """Whether the initiator acknowledged being responsible for the truth of the information."""
    account_created_at: Instant | None = None
    """When the initiator's platform account was opened."""
    prior_campaign_count: Count | None = None
    """Campaigns this initiator started before this one, on this platform."""
    prior_rejection_count: Count | None = None
    """Earlier applications by this initiator that review rejected."""

    @model_validator(mode="before")
    @classmethod
    def _no_boolean_counts(cls, data: Any) -> Any:
        return _counts_without_booleans(data, ("prior_campaign_count", "prior_rejection_count"))


class Patient(_Person):
    """求助人/患者: the person whose illness the campaign is for."""


class Disclosure(_Model):
    """信息公示: each item ``True``/``False`` when answered, ``None`` when *not answered*."""

    basic_medical_insurance: bool | None = None  # 基本医疗保险
    commercial_insurance: bool | None = None  # 商业保险
    minimum_subsistence_allowance: bool | None = None  # 低保
    registered_poor_household: bool | None = None  # 建档立卡贫困户
    government_medical_aid: bool | None = None  # 政府医疗救助
    other_platform_fundraising: bool | None = None  # 其他平台筹款
    house: bool | None = None  # 房产
    car: bool | None = None  # 车辆


DISCLOSURE_ITEMS: tuple[str, ...] = tuple(Disclosure.model_fields)
"""Every disclosure item the schema knows, in schema order."""


DiagnosisCategory = Literal[
    "leukemia",
    "lymphoma",
    "solid_tumor",
    "organ_failure",
    "congenital_heart",
    "burn_or_trauma",
    "stroke",
    "rare_disease",
    "other",
]
"""Broad diagnosis groups, enough to compare a target with what such treatment usually costs."""


class Medical(_Model):
    """The illness and its treatment, as the platform recorded them."""

    diagnosis_category: DiagnosisCategory | None = None
    diagnosis: Text | None = None
    """Free text as written on the campaign; kept for people, not used as a model feature."""
    hospital_id: Text | None = None
    estimated_cost: Money | None = None
    """The treating hospital's itemised cost estimate (预估治疗费用), when one was given."""
    document_hashes: Texts = ()
    """Content hashes of the medical documents submitted (to find the same record on other campaigns)."""


class Activity(_Model):
    """What the platform saw while the campaign ran. Each count is ``None`` when unknown, never 0 by default."""

    donation_count: Count | None = None
    donations_first_24h: Count | None = None
    amount_first_24h: Money | None = None
    share_count: Count | None = None
    endorsement_count: Count | None = None
    """证实: acquaintances vouching for the campaign."""
    endorsements_first_24h: Count | None = None
    complaint_count: Count | None = None
    """举报: reports received from the public or the family."""

    @model_validator(mode="before")
    @classmethod
    def _no_boolean_counts(cls, data: Any) -> Any:
        counts = ("donation_count", "donations_first_24h", "share_count", "endorsement_count")
        return _counts_without_booleans(data, (*counts, "endorsements_first_24h", "complaint_count"))


class Documents(_Model):
    """Materials submitted for review; ``None`` when the export does not say."""

    medical_proof: bool | None = None  # 医疗证明 (diagnosis, records)
    medical_plan: bool | None = None  # 预期医疗计划
    cost_list: bool | None = None  # 医疗花费清单
    plan_published: bool | None = None  # plan and cost list reviewed and published (审核并公示)
    edit_traces_detected: bool | None = None
    """The platform's document check found signs of editing, e.g. image-editing traces (PS痕迹) in the
    medical records (孝昌 2024; 水滴筹 2019-12-10: PS'd records); ``False`` when checked and none were
    found, ``None`` when no such check was run or the export does not say."""


class Payout(_Model):
    """提现: a request to pay out raised funds."""

    amount: Money
    payee: Payee
    batched: bool = False
    requested_at: Instant
    payee_id_number: IdNumber | None = Field(default=None, exclude=True, repr=False)
    payee_id_number_hash: HashHex | None = None


class Campaign(_Model):
    """One campaign as a platform holds it.

    >>> c = Campaign.parse({"campaign_id": "c1", "platform": "水滴筹", "created_at": "2025-03-01 09:00",
    ...                     "target_amount": 200000, "raised_amount": "50000"})
    >>> c.raised_amount, c.created_at.tzinfo.key
    (Decimal('50000.00'), 'Asia/Shanghai')
    """

    campaign_id: Annotated[Text, Field(min_length=1)]
    platform: Annotated[Text, Field(min_length=1)]
    created_at: Instant
    target_amount: Money
    raised_amount: Money = Decimal("0.00")
    initiator: Initiator = Initiator()
    patient: Patient = Patient()
    disclosure: Disclosure = Disclosure()
    documents: Documents = Documents()
    payout: Payout | None = None
    medical: Medical = Medical()
    activity: Activity = Activity()
    promoter_id: Text | None = None
    """The offline staff member or promoter who brought the campaign in, if any (a platform id)."""
    other_platform_campaign_ids: Texts = ()
    """Campaigns for the same patient found on other platforms."""

    @classmethod
    def parse(cls, data: Campaign | dict[str, Any] | str | bytes, *, row: int | str | None = None) -> Campaign:
        """Read a campaign from a plain nested dict or JSON text (or pass one through).

        JSON text is validated directly by pydantic-core, without building a dict first: a backend can
        hand over a request body as it arrived. Raises :class:`CampaignError` naming every field at fault.
        """
        if isinstance(data, cls):
            return data
        try:
            if isinstance(data, (str, bytes, bytearray)):
                return cls.model_validate_json(data)
            if isinstance(data, dict):
                return cls.model_validate(data)
        except ValidationError as error:
            raise CampaignError(field_problems(error), row=row) from None
        raise CampaignError(
            [
                FieldProblem(
                    "(campaign)", "type", f"expected a mapping of fields or JSON text, got {type(data).__name__}"
                )
            ],
            row=row,
        )


def field_problems(error: ValidationError) -> list[FieldProblem]:
    """Turn pydantic's error records into problems that never carry the input value."""
    problems = []
    for record in error.errors(include_input=False, include_url=False):
        loc = ".".join(str(part) for part in record["loc"]) or "(campaign)"
        message = record["msg"].removeprefix("Value error, ")
        problems.append(FieldProblem(loc, record["type"], message))
    return problems
