"""Files that appear whole or not at all: what the library writes goes to a temporary file beside its target,
renamed over it only when complete, so a reader (or a later step) never sees half of one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["replaced_when_done"]


@contextlib.contextmanager
def replaced_when_done(path: Path) -> Iterator[Path]:
    """A fresh temporary path beside ``path`` (same folder, so the rename stays on one file system) to write to;
    on leaving without an error it replaces ``path``, on an error it is removed and ``path`` is left as it was.
    Its name is unique, so two runs writing the same target never share it.

    >>> with replaced_when_done(Path(tempfile.mkdtemp()) / "out.txt") as partial:
    ...     _ = partial.write_text("done")
    """
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    os.close(handle)
    partial = Path(name)
    try:
        yield partial
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, path)
