"""The dishonest-fundraiser blacklist (失信筹款人黑名单), held only as keyed hashes.

Identity numbers have little entropy (a Chinese resident ID is a birth date, a region and a few
digits), so a plain hash of one can be reversed by trying them all. Every number is therefore hashed
with HMAC-SHA256 under a key that only the platform holds; the blacklist stores those hashes and
nothing else, and a campaign's numbers are hashed with the same key when they are checked.

>>> bl = Blacklist.from_id_numbers(["110101199003074578"], key="a platform key of 16+ chars")
>>> len(bl), "110101199003074578" in repr(bl)
(1, False)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from pathlib import Path

from pydantic import SecretStr

from compliance.campaign import Campaign, is_unicode, normalise_id_number
from compliance.errors import BlacklistError

__all__ = ["FILE_FORMAT", "Blacklist", "hash_id_number"]

FILE_FORMAT = "compliance-blacklist/1"
HEX64 = re.compile(r"^[0-9a-f]{64}$")
"""A keyed identity-number hash as written: 64 lowercase hex digits."""
_KEY_CHECK_MESSAGE = b"compliance blacklist key check"
MIN_KEY_BYTES = 16


def _key_bytes(key: bytes | str) -> bytes:
    raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if len(raw) < MIN_KEY_BYTES:
        raise BlacklistError(f"the blacklist key must be at least {MIN_KEY_BYTES} bytes")
    return raw


def _id_bytes(normalised: str) -> bytes:
    """An identity number as UTF-8; one that is not valid Unicode is refused without echoing any of it
    (``UnicodeEncodeError`` would hold the whole number)."""
    if not is_unicode(normalised):  # checked, not caught: the error's context must not be the encoding's
        raise BlacklistError("an identity number is not valid Unicode (it holds a lone surrogate)")
    return normalised.encode("utf-8")


def hash_id_number(id_number: str, key: bytes | str) -> str:
    """The keyed hash of an identity number (trimmed, upper-cased), as 64 lower-case hex digits."""
    return hmac.new(_key_bytes(key), _id_bytes(normalise_id_number(id_number)), hashlib.sha256).hexdigest()


class Blacklist:
    """A set of keyed hashes of blacklisted identity numbers, and the key to check campaigns against it."""

    def __init__(self, hashes: Iterable[str], *, key: bytes | str) -> None:
        self._key = _key_bytes(key)
        self._mac = hmac.new(self._key, digestmod=hashlib.sha256)  # keyed state, copied per number
        cleaned = set()
        for index, value in enumerate(hashes):
            text = value.strip().lower() if isinstance(value, str) else ""
            if not HEX64.match(text):
                raise BlacklistError(
                    f"entry {index}: not a keyed hash (64 hex digits); raw identity numbers "
                    "must be given to Blacklist.from_id_numbers, which hashes them"
                )
            cleaned.add(text)
        self._hashes = frozenset(cleaned)

    @classmethod
    def from_id_numbers(cls, id_numbers: Iterable[str], *, key: bytes | str) -> Blacklist:
        """Hash raw identity numbers with ``key``; the raw numbers are not kept."""
        return cls((hash_id_number(n, key) for n in id_numbers), key=key)

    @classmethod
    def load(cls, path: Path | str, *, key: bytes | str) -> Blacklist:
        """Read a blacklist file written by :meth:`save`, checking it was made with the same key."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise BlacklistError(f"{path}: cannot read the blacklist file ({error})") from None
        if not isinstance(data, dict) or data.get("format") != FILE_FORMAT or not isinstance(data.get("hashes"), list):
            raise BlacklistError(f"{path}: not a blacklist file (expected format {FILE_FORMAT!r} with a 'hashes' list)")
        blacklist = cls(data["hashes"], key=key)
        if data.get("key_check") != blacklist.key_check:
            raise BlacklistError(f"{path}: the file was made with a different key than the one given")
        return blacklist

    def save(self, path: Path | str) -> None:
        """Write the hashes (sorted, so the file is reproducible) with a check of the key, never the key."""
        payload = {"format": FILE_FORMAT, "key_check": self.key_check, "hashes": sorted(self._hashes)}
        Path(path).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")

    @property
    def key_check(self) -> str:
        """A value derived from the key that shows which key a file belongs to without revealing it."""
        return hmac.new(self._key, _KEY_CHECK_MESSAGE, hashlib.sha256).hexdigest()[:16]

    @property
    def hashes(self) -> frozenset[str]:
        """The keyed hashes listed (never the key): what a table's hash columns are looked up in."""
        return self._hashes

    def __len__(self) -> int:
        return len(self._hashes)

    def __repr__(self) -> str:
        return f"<Blacklist of {len(self._hashes)} keyed hashes, key check {self.key_check}>"

    def contains(self, *, id_number: str | None = None, id_number_hash: str | None = None) -> bool | None:
        """Whether a person is listed; ``None`` when neither a number nor a hash is known."""
        if id_number is not None:
            return self._keyed(normalise_id_number(id_number)) in self._hashes
        if id_number_hash is not None:
            return id_number_hash in self._hashes
        return None

    def _keyed(self, normalised: str) -> str:
        mac = self._mac.copy()
        mac.update(_id_bytes(normalised))
        return mac.hexdigest()

    def match(self, campaign: Campaign) -> Match:
        """``initiator``, ``patient``, ``payee``: listed (true), not listed (false), or unknown (null)."""
        initiator, patient, payout = campaign.initiator, campaign.patient, campaign.payout
        return Match(
            self._listed(initiator.id_number, initiator.id_number_hash),
            self._listed(patient.id_number, patient.id_number_hash),
            None if payout is None else self._listed(payout.payee_id_number, payout.payee_id_number_hash),
        )

    def _listed(self, secret: SecretStr | None, id_hash: str | None) -> bool | None:
        if secret is not None:  # a Campaign's numbers were normalised when it was validated
            return self._keyed(secret.get_secret_value()) in self._hashes
        return None if id_hash is None else id_hash in self._hashes


class Match:
    """Whether each person of a campaign is listed: true, false, or ``None`` when they could not be checked."""

    __slots__ = ("initiator", "patient", "payee")

    def __init__(self, initiator: bool | None, patient: bool | None, payee: bool | None) -> None:
        self.initiator = initiator
        self.patient = patient
        self.payee = payee

    def __repr__(self) -> str:
        return f"Match(initiator={self.initiator}, patient={self.patient}, payee={self.payee})"


UNCHECKED = Match(None, None, None)
"""The blacklist view when no blacklist was supplied: nobody could be checked."""
