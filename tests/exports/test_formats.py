"""The writers of each format, on what only a file system can do to them."""

from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path

import pytest

from airflow_provider_callbell.exports import formats


def test_rows_that_cannot_be_parked_name_the_temporary_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """CSV learns its columns from every row first, parking them past 10 bytes here on disk."""
    gone = tmp_path / "gone"
    monkeypatch.setattr(tempfile, "tempdir", str(gone))
    monkeypatch.setattr(formats, "_SPOOL_IN_MEMORY", 10)
    where = re.escape(str(gone))

    with pytest.raises(
        OSError, match=f"could not park the rows in {where} while learning the columns: "
    ) as caught:
        formats.WRITERS["csv"]([{"uuid": "a1", "name": "Ada"}], io.BytesIO(), None)
    assert caught.value.filename == str(gone)
