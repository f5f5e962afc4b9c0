"""Files that appear complete at their path, or not at all."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import logging
import os
import stat
import time
from typing import IO, TYPE_CHECKING

from airflow_provider_callbell.exports.storage import LOCAL_SCHEMES

if TYPE_CHECKING:
    from collections.abc import Iterator

    from _typeshed import ReadableBuffer
    from airflow.providers.common.compat.sdk import ObjectStoragePath

log = logging.getLogger(__name__)

LEFT_BEHIND = "removing the partial file a killed run left: %s"
#: The longest file name most file systems take.
MAX_NAME_BYTES = 255
#: The suffix of partial files: no other program's, so that only ours are ever removed.
PARTIAL_SUFFIX = ".callbell-partial"
#: A partial file untouched this long and locked by no writer was left by a killed run.
STALE_SECONDS = 3600.0
#: Tries at claiming a partial file that another writer moves or removes as it is opened.
_CLAIMS = 3
#: Tries at locking a partial file a sweep may hold for an instant, and the wait between two.
_SWEEP_WAITS, _SWEEP_WAIT_SECONDS = 4, 0.02


def partial_path(target: ObjectStoragePath) -> ObjectStoragePath:
    """The hidden sibling of ``target`` written first; one per target, so a killed run's is reused.

    Downstream globs on the suffix of ``target`` miss it. A name too long for one more prefix and
    suffix (file systems take 255 bytes) gives way to its digest.
    """
    name = f".{target.name}{PARTIAL_SUFFIX}"
    if len(name.encode()) > MAX_NAME_BYTES:
        name = f".{hashlib.sha256(target.name.encode()).hexdigest()}{PARTIAL_SUFFIX}"
    return target.parent / name


def check_target(target: ObjectStoragePath, path: str, name: str) -> None:
    """Fail, before any request, if the argument ``name`` names a directory rather than a file.

    ``path`` is the path as given: ``target``, built from it, drops a trailing ``/``. Fails as
    well if no filesystem for its scheme is installed, and for a local symbolic link, device,
    FIFO or socket, which the rename would replace.
    """
    from airflow_provider_callbell.exports.storage import check_filesystem

    check_filesystem(target, name, path)
    local = target.protocol in LOCAL_SCHEMES
    try:
        if path.endswith("/") or target.is_dir():
            raise ValueError(
                f"{name} {path!r} names a directory: it must name the file to write, "
                f"such as {path.rstrip('/')}/contacts.jsonl"
            )
        special = _special_file(target.path) if local else None
        above = _ancestor_problem(target.path) if local else None
    except OSError as error:  # a name too long, a loop of links
        raise ValueError(f"{name} {path!r} cannot be written: {error.strerror or error}") from None
    if special:
        raise ValueError(
            f"{name} {path!r} names {special}, which the file would replace: name a regular file, "
            "or the link's target itself"
        )
    if above:
        raise ValueError(f"{name} {path!r} cannot be written: {above}")


def _ancestor_problem(path: str) -> str | None:
    """What keeps the nearest existing directory above ``path`` from holding it, if anything."""
    folder = os.path.dirname(path)
    while not os.path.lexists(folder) and folder != os.path.dirname(folder):
        folder = os.path.dirname(folder)
    if os.path.islink(folder) and not os.path.exists(folder):
        return f"{folder} above it is a symbolic link to nothing"
    return None if os.path.isdir(folder) else f"{folder} above it is no directory"


def _special_file(path: str) -> str | None:
    """What is at ``path`` if it is neither a regular file nor nothing."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return None if stat.S_ISREG(mode) else "a device, a FIFO or a socket"


@contextlib.contextmanager
def atomic_write(target: ObjectStoragePath) -> Iterator[IO[bytes]]:
    """Write into a hidden sibling of ``target``, then move it onto ``target``.

    On a local file system the file is synced to disk, renamed (readers see the old file or the
    new one, never a mix, even after a power loss) and locked meanwhile: a second writer of
    ``target`` fails within a tenth of a second; the partial files killed runs left in the
    directory are removed. On object storage the move is a copy then a delete, and the copy
    makes the object appear whole. If anything fails, the partial file is removed and ``target``
    is left as it was. Errors of the file name ``target``; errors of the block pass unchanged.
    """
    partial_file = _local_partial if target.protocol in LOCAL_SCHEMES else _remote_partial
    with partial_file(target, partial_path(target)) as file, _Named(file, target) as named:
        out = io.BufferedWriter(named)
        yield out
        out.flush()


class _Named(io.RawIOBase):
    """Writes to ``file``; its errors name ``target``, the path the caller gave."""

    def __init__(self, file: IO[bytes], target: ObjectStoragePath) -> None:
        super().__init__()
        self._file = file
        self._target = target

    def writable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer, /) -> int:
        with _naming(self._target):
            return self._file.write(data)


@contextlib.contextmanager
def _local_partial(target: ObjectStoragePath, partial: ObjectStoragePath) -> Iterator[IO[bytes]]:
    """The locked partial file; after the block, synced and renamed onto ``target``."""
    with _naming(target):
        try:
            os.makedirs(target.parent.path, exist_ok=True)
        except FileExistsError:
            raise NotADirectoryError(errno.ENOTDIR, "a directory above it is a file") from None
        file = _claim(target, partial)
        _sweep(target.parent.path, partial.path)
    # Removed before closing: once unlocked, the name may belong to the next writer.
    with contextlib.closing(file), _removed_on_error(partial):
        yield file
        with _naming(target):
            os.fsync(file.fileno())
            os.replace(partial.path, target.path)
    with _naming(target):
        _sync_directory(target.parent.path)


def _claim(target: ObjectStoragePath, partial: ObjectStoragePath) -> io.FileIO:
    """``partial`` opened, locked and emptied; a second writer of ``target`` fails here, at once
    (within a tenth of a second).

    The file opened may stop being the one at its path before it is locked (its writer just moved
    it onto ``target``, or a sweep removed a killed run's): then a new one is opened.
    """
    path = partial.path
    # Non-blocking, so a FIFO in the way fails here rather than waiting for a reader for ever.
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    for _ in range(_CLAIMS):
        left = os.path.lexists(path)
        try:
            file = io.FileIO(os.open(path, flags, 0o666), "wb")
        except OSError as error:
            if error.errno not in (errno.EISDIR, errno.ENXIO):
                raise
            raise _in_the_way(target, partial) from None
        try:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise _in_the_way(target, partial)
            os.set_blocking(file.fileno(), True)
            if _locked(file, path, target):
                if left:
                    log.warning(LEFT_BEHIND, partial)
                file.truncate(0)
                return file
        except BaseException:
            file.close()
            raise
        file.close()
    raise _being_written(target)


def _in_the_way(target: ObjectStoragePath, partial: ObjectStoragePath) -> OSError:
    return OSError(
        errno.EEXIST,
        f"could not write {target}: {partial}, where its partial file is written, is a directory, a "
        "FIFO or another file that is not a regular file: remove it",
        str(target),
    )


def _locked(file: io.FileIO, path: str, target: ObjectStoragePath) -> bool:
    """Lock ``file``, unless another writer holds it; whether it is still the file at ``path``.

    A sweep (:func:`_sweep`) holds a killed run's file locked for an instant before removing it:
    a lock refused is asked for again a few times before it counts as another writer's.
    """
    for attempt in range(_SWEEP_WAITS):
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if attempt == _SWEEP_WAITS - 1:
                raise _being_written(target) from None
            time.sleep(_SWEEP_WAIT_SECONDS)
    try:
        return os.path.samestat(os.fstat(file.fileno()), os.stat(path))
    except FileNotFoundError:
        return False


def _being_written(target: ObjectStoragePath) -> BlockingIOError:
    return BlockingIOError(errno.EAGAIN, f"another process is writing {target}", str(target))


def _sweep(directory: str, own: str) -> None:
    """Remove the partial files killed runs left beside ``own``: a run writing a templated path
    (``.../{{ run_id }}.jsonl``) leaves one no later run reuses. Only files untouched for
    :data:`STALE_SECONDS` that no writer holds locked go; nothing that fails stops the write."""
    try:
        names = [entry.path for entry in os.scandir(directory) if _is_partial_name(entry.name)]
    except OSError:
        return
    untouched_since = time.time() - STALE_SECONDS
    for path in names:
        if path != own:
            _remove_if_abandoned(path, untouched_since)


def _is_partial_name(name: str) -> bool:
    return name.startswith(".") and name.endswith(PARTIAL_SUFFIX) and len(name) > len(PARTIAL_SUFFIX) + 1


def _remove_if_abandoned(path: str, untouched_since: float) -> None:
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return
    try:
        found = os.fstat(descriptor)
        if stat.S_ISREG(found.st_mode) and found.st_mtime < untouched_since:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a live writer holds its lock
            if os.path.samestat(found, os.stat(path)):
                os.unlink(path)
                log.warning(LEFT_BEHIND, path)
    except OSError:  # locked, gone, or not ours to remove: left as it is
        pass
    finally:
        os.close(descriptor)


def _sync_directory(path: str) -> None:
    """Make a rename in the directory at ``path`` survive a power loss."""
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def _remote_partial(target: ObjectStoragePath, partial: ObjectStoragePath) -> Iterator[IO[bytes]]:
    """The partial object; after the block, uploaded and moved onto ``target``."""
    with _naming(target):
        if partial.exists():
            log.warning(LEFT_BEHIND, partial)
        file = partial.open("wb")  # type: ignore[no-untyped-call]
    with _removed_on_error(partial, file):
        yield file
        with _naming(target):
            file.close()
            partial.rename(target)


@contextlib.contextmanager
def _removed_on_error(partial: ObjectStoragePath, file: IO[bytes] | None = None) -> Iterator[None]:
    """If the block fails, close ``file`` and remove ``partial``, then let the block's error go on.

    Object storage uploads ``file`` on closing, hence before the removal. A failed clean-up is
    logged, not raised: the block's error is the one to report.
    """
    try:
        yield
    except BaseException:
        try:
            if file is not None:
                file.close()
            partial.unlink(missing_ok=True)
        except Exception as error:
            log.warning("could not remove the partial file %s: %s", partial, error)
        raise


@contextlib.contextmanager
def _naming(target: ObjectStoragePath) -> Iterator[None]:
    """Errors of the block, as an ``OSError`` naming ``target`` rather than the partial file."""
    try:
        yield
    except OSError as error:
        if error.filename == str(target):
            raise
        raise _error(target, error.errno, error.strerror or str(error)) from error
    except Exception as error:  # object stores raise their own errors too
        raise _error(target, None, str(error) or type(error).__name__) from error


def _error(target: ObjectStoragePath, code: int | None, reason: str) -> OSError:
    """An ``OSError`` of errno ``code`` (``EIO`` if unknown) naming ``target``."""
    return OSError(code or errno.EIO, f"could not write {target}: {reason}", str(target))
