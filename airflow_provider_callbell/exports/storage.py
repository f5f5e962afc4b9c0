"""Object-storage paths checked before any request: their scheme, and a filesystem for it.

Airflow's own errors for a path it cannot open (``Unsupported filesystem: 'foo'``, ``Install
s3fs to access S3``, ``No filesystem registered for scheme s3``) name neither the argument nor
the path; these name both, and the fix.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

#: Schemes of the local disk: always there.
LOCAL_SCHEMES = ("", "file", "local")
#: The Airflow provider serving a scheme, for the common ones.
PROVIDERS = {
    "s3": "apache-airflow-providers-amazon[s3fs]",
    "s3a": "apache-airflow-providers-amazon[s3fs]",
    "gs": "apache-airflow-providers-google",
    "gcs": "apache-airflow-providers-google",
    "abfs": "apache-airflow-providers-microsoft-azure",
    "abfss": "apache-airflow-providers-microsoft-azure",
    "az": "apache-airflow-providers-microsoft-azure",
    "adl": "apache-airflow-providers-microsoft-azure",
    "wasb": "apache-airflow-providers-microsoft-azure",
    "hdfs": "apache-airflow-providers-apache-hdfs",
    "webhdfs": "apache-airflow-providers-apache-hdfs",
    "sftp": "apache-airflow-providers-sftp",
    "ftp": "apache-airflow-providers-ftp",
}


def scheme_of(path: str) -> str:
    """The lowercased scheme of a URL (``s3`` of ``s3://bucket/key``), ``''`` for a plain path."""
    scheme, separator, _ = path.partition("://")
    return scheme.lower() if separator else ""


def same_file(path: str, other: str) -> bool:
    """Whether two paths name one file: ``/x/a.jsonl`` and ``file:///x/./a.jsonl`` do, and on the
    local disk so do a symlink (or a path through a symlinked directory) and a hard link to it."""

    def plain(given: str) -> str:
        scheme = scheme_of(given)
        if scheme in LOCAL_SCHEMES:
            return os.path.realpath(given.partition("://")[2] if scheme else given)
        return f"{scheme}://{given.partition('://')[2]}"

    first, second = plain(path), plain(other)
    if first == second:
        return True
    try:
        return os.path.samefile(first, second)
    except (OSError, ValueError):
        return False


def _fix(scheme: str, name: str) -> str:
    provider = PROVIDERS.get(scheme, f"the Airflow provider whose filesystem serves {scheme}://")
    conn_id = name.removesuffix("_path") + "_conn_id"
    return (
        f"install {provider} where the task runs and give its connection as {conn_id}, "
        "or use a local path or a file:/// URL"
    )


def check_scheme(path: str, name: str) -> None:
    """Fail if no filesystem anywhere knows the scheme of ``path`` (a typo such as ``foo://``).

    Cheap and the same on every machine (fsspec's list of filesystems, installed or not), so
    it holds at DAG parse time; whether the filesystem is installed is checked at run time by
    :func:`check_filesystem`.
    """
    import fsspec  # type: ignore[import-untyped]

    scheme = scheme_of(path)
    if scheme in LOCAL_SCHEMES or scheme in fsspec.available_protocols() or scheme in fsspec.registry:
        return
    raise ValueError(
        f"{name} {path!r} has the scheme {scheme!r}, which no filesystem serves: give a local "
        "path, a file:/// URL or an object-storage URL such as s3://bucket/contacts.jsonl, "
        "gs://bucket/contacts.jsonl or abfs://container/contacts.jsonl"
    )


def check_filesystem(target: ObjectStoragePath, name: str, path: str | None = None) -> None:
    """Fail, naming ``name`` and the path, if no filesystem for ``target``'s scheme is installed.

    Run at task run time, before any request to Callbell: the provider (and the library it
    needs, such as s3fs) must be where the task runs, not where the DAG is parsed.
    """
    shown = str(target) if path is None else path
    scheme = scheme_of(shown) or str(target.protocol or "").lower()
    if scheme in LOCAL_SCHEMES:
        return
    try:
        target.fs  # noqa: B018 - resolving the filesystem is the check
    except (ImportError, ValueError) as error:
        raise ValueError(
            f"{name} {shown!r}: no filesystem for {scheme}:// is installed ({error}): {_fix(scheme, name)}"
        ) from None
