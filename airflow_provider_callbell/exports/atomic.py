"""Files that appear complete at their path, or not at all."""

from __future__ import annotations

import contextlib
import uuid
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow.providers.common.compat.sdk import ObjectStoragePath


def partial_path(target: ObjectStoragePath) -> ObjectStoragePath:
    """A hidden sibling of ``target`` to write into first; downstream globs on the suffix miss it."""
    return target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}.partial"


@contextlib.contextmanager
def atomic_write(target: ObjectStoragePath) -> Iterator[IO[bytes]]:
    """Write into a hidden sibling of ``target``, then move it onto ``target``.

    On a local file system the move is a rename: readers see the old file or the new one, never
    a mix. On object storage it is a copy then a delete, and the copy makes the object appear
    whole. If the block fails, the partial file is removed and ``target`` is left as it was.
    """
    if target.protocol in ("", "file", "local"):
        target.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(target)
    try:
        with partial.open("wb") as handle:  # type: ignore[no-untyped-call]
            yield handle
        partial.rename(target)
    except BaseException:
        with contextlib.suppress(Exception):
            partial.unlink(missing_ok=True)
        raise
