"""Opening an export's bytes: plain or gzipped, a damaged or cut-short gzip stream reported near where
it breaks (:class:`_DamagedStream`), and its text encoding told (UTF-8, with or without a BOM, or
GB18030) from its first non-ASCII block.
"""

from __future__ import annotations

import codecs
import gzip
import io
import re
import typing
import zlib
from pathlib import Path
from typing import IO, Any

from compliance.errors import ExportError

_PROBE = 1 << 16

_UNDECODABLE = re.compile("[\udc80-\udcff]")
_NON_ASCII = bytes(range(0x80, 0x100))


def _open_bytes(path: Path) -> IO[bytes]:
    if path.suffix.lower() == ".gz":
        return typing.cast(IO[bytes], _GzipReader(_Inflating(path)))
    return open(path, "rb")


class _DamagedStream(ExportError):
    """A compressed file that cannot be read on; :func:`_chunks` adds how many records were read."""


class _GzipReader(io.BufferedReader):
    """A gzipped file's data, buffered; ``fileobj`` is the compressed file beneath (as ``GzipFile`` has it)."""

    @property
    def fileobj(self) -> IO[bytes]:
        return typing.cast(_Inflating, self.raw).fileobj


class _Inflating(io.RawIOBase):
    """A gzipped file's data; a cut-short or damaged stream raises :class:`_DamagedStream` (file, bytes read)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._file = gzip.open(path, "rb")  # noqa: SIM115 -- closed by close(), with the reader's stream
        self._done = 0

    @property
    def fileobj(self) -> IO[bytes]:
        return typing.cast(IO[bytes], self._file.fileobj)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:  # a block at a time, so a damaged stream is reported close to where it breaks
            count = self._file.readinto(memoryview(buffer)[:_PROBE])
        except EOFError:
            reason = "it ends before the end of its compressed stream: the file is cut short"
        except gzip.BadGzipFile:
            reason = "it is not gzip data from there on, or its checksum does not match"
        except (zlib.error, OSError) as error:
            reason = f"its compressed data is damaged ({type(error).__name__})"
        else:
            self._done += count
            return count
        raise _DamagedStream(f"{self._path}: cannot be read after {self._done:,} bytes of data: {reason}")

    def close(self) -> None:
        self._file.close()
        super().close()


def _detect_encoding(path: Path) -> str:
    """UTF-8 (BOM or not) if the first block holding non-ASCII bytes decodes as UTF-8, else GB18030.

    A few stray bytes do not make a UTF-8 file GB18030 (those records are reported instead): Chinese text
    in GBK fails UTF-8 at nearly every non-ASCII byte, so more than a quarter failing decides it.
    """
    try:
        with _open_bytes(path) as stream:
            block = stream.read(_PROBE)
            if block.startswith(codecs.BOM_UTF8):
                return "utf-8-sig"
            while block and block.isascii():
                block = stream.read(_PROBE)
    except _DamagedStream:  # damaged within its ASCII start: reading stops at the damage and says where
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
    text = decoder.decode(block, final=False)  # a character cut at the end of the block is not counted
    failing = len(_UNDECODABLE.findall(text))
    non_ascii = len(block) - len(block.translate(None, _NON_ASCII))
    return "gb18030" if failing > non_ascii // 4 else "utf-8-sig"


def _display(encoding: str) -> str:
    return encoding.removesuffix("-sig")


def _open_text(path: Path, encoding: str) -> io.TextIOWrapper:
    # undecodable bytes become lone surrogates, so the record holding them is reported, not the whole file
    return io.TextIOWrapper(_open_bytes(path), encoding=encoding, errors="surrogateescape", newline="")
