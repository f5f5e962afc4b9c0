"""Object-storage paths checked before any request: their scheme, a filesystem for it, and an
input file that can be read.

Airflow's own errors for a path it cannot open (``Unsupported filesystem: 'foo'``, ``Install
s3fs to access S3``, ``No filesystem registered for scheme s3``) name neither the argument nor
the path; these name both, and the fix.
"""

from __future__ import annotations

import errno
import os
import stat
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
#: What object stores tell of an object that a rewrite changes (s3fs, gcsfs, adlfs, fsspec's own).
VERSION_KEYS = frozenset(
    {"etag", "size", "mtime", "lastmodified", "last_modified", "updated", "created", "generation"}
    | {"versionid", "version_id"}
)


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


def source_state(source: ObjectStoragePath, path: str, name: str) -> tuple[object, ...]:
    """Fail, naming ``name`` and ``path``, unless ``source`` is a file to read; else its state, which
    changes when the file is rewritten.

    Checks what :func:`check_filesystem` does, then the file itself: a directory, nothing (a
    missing file, a link to nothing, a loop of links) and, on the local disk, a FIFO, a device or
    a socket (a read would wait for a writer, or never end) are refused. The state of a local
    file is its device, inode, size and times; of an object, what its store tells (ETag, size,
    modification time...).
    """
    check_filesystem(source, name, path)
    if source.protocol in LOCAL_SCHEMES:
        return _local_state(source.path, path, name)
    try:
        info = source.fs.info(source.path)
    except FileNotFoundError:
        raise _unreadable(name, path, "names nothing: it must name the file to read") from None
    except OSError as error:
        raise _unreadable(name, path, f"cannot be read: {error.strerror or error}") from None
    if info.get("type") == "directory":
        raise _directory(name, path)
    return tuple(sorted((key, str(value)) for key, value in info.items() if key.lower() in VERSION_KEYS))


def _local_state(local: str, path: str, name: str) -> tuple[object, ...]:
    try:
        status = os.stat(local)
    except FileNotFoundError:
        what = "a symbolic link to nothing" if os.path.islink(local) else "nothing"
        raise _unreadable(name, path, f"names {what}: it must name the file to read") from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise _unreadable(name, path, "names a loop of symbolic links") from None
        raise _unreadable(name, path, f"cannot be read: {error.strerror or error}") from None
    if stat.S_ISDIR(status.st_mode):
        raise _directory(name, path)
    if not stat.S_ISREG(status.st_mode):
        special = "names a FIFO, a device or a socket: it must name a regular file (copy the data to one)"
        raise _unreadable(name, path, special)
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns


def _directory(name: str, path: str) -> ValueError:
    example = f"{path.rstrip('/')}/contacts.jsonl"
    return _unreadable(name, path, f"names a directory: it must name the file to read, such as {example}")


def _unreadable(name: str, path: str, problem: str) -> ValueError:
    return ValueError(f"{name} {path!r} {problem}")
