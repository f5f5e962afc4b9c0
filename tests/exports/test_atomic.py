"""Atomic delivery of export files: synced, locked, never half-written, with errors naming the target."""

from __future__ import annotations

import errno
import fcntl
import importlib
import importlib.util
import os
import re
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from airflow.providers.common.compat.sdk import ObjectStoragePath
from fsspec.implementations.memory import MemoryFileSystem  # type: ignore[import-untyped]

from airflow_provider_callbell.exceptions import CallbellError
from airflow_provider_callbell.exports.atomic import atomic_write, check_target, partial_path

MakeTarget = Callable[[Path], ObjectStoragePath]
LOGGER = "airflow_provider_callbell.exports.atomic"


def _memory(path: Path) -> ObjectStoragePath:
    """Object storage without a server: fsspec's in-memory file system, attached as Airflow's ``memory``."""
    store = "airflow.sdk.io.store" if importlib.util.find_spec("airflow.sdk") else "airflow.io.store"
    importlib.import_module(store).attach("memory", fs=MemoryFileSystem())
    return ObjectStoragePath(f"memory://{path}")


FORMS: dict[str, MakeTarget] = {
    "file-url": lambda path: ObjectStoragePath(f"file://{path}"),
    "local-path": lambda path: ObjectStoragePath(str(path)),
    "object-storage": _memory,
}


@pytest.fixture(params=["file-url", "local-path"])
def local(request: pytest.FixtureRequest) -> MakeTarget:
    return FORMS[request.param]


@pytest.fixture(params=list(FORMS))
def anywhere(request: pytest.FixtureRequest) -> MakeTarget:
    return FORMS[request.param]


def _siblings(target: ObjectStoragePath) -> list[str]:
    return sorted(path.name for path in target.parent.iterdir())


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == LOGGER]


def _write(target: ObjectStoragePath, data: bytes, error: Exception | None = None) -> None:
    """Write ``data`` to ``target``, then fail with ``error`` if given, as an export would."""
    with atomic_write(target) as out:
        out.write(data)
        if error is not None:
            raise error


def test_the_file_appears_whole_in_place_of_the_old_one(
    anywhere: MakeTarget, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = anywhere(tmp_path / "out.jsonl")
    target.write_bytes(b"yesterday\n")

    with atomic_write(target) as out:
        out.write(b"today\n" * 10_000)

    assert target.read_bytes() == b"today\n" * 10_000
    assert _siblings(target) == ["out.jsonl"]
    assert _warnings(caplog) == []


def test_the_file_is_synced_before_the_rename_and_its_directory_after(
    local: MakeTarget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(b"yesterday\n")
    synced: list[tuple[bool, int, int, bytes]] = []
    real_fsync = os.fsync

    # A spy: only a power loss would observe a missing fsync.
    def recording_fsync(descriptor: int) -> None:
        real_fsync(descriptor)
        info = os.fstat(descriptor)
        synced.append((stat.S_ISDIR(info.st_mode), info.st_ino, info.st_size, path.read_bytes()))

    monkeypatch.setattr(os, "fsync", recording_fsync)

    with atomic_write(local(path)) as out:
        out.write(b"today\n")

    file_synced, directory_synced = synced
    assert file_synced == (False, path.stat().st_ino, len(b"today\n"), b"yesterday\n")
    assert directory_synced[:2] == (True, tmp_path.stat().st_ino)
    assert directory_synced[3] == b"today\n"


def test_the_partial_file_a_killed_run_left_is_reused_and_reported(
    anywhere: MakeTarget, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = anywhere(tmp_path / "out.jsonl")
    target.write_bytes(b"yesterday\n")
    left = partial_path(target)
    left.write_bytes(b"half of a killed run's file, longer than the new one")

    with atomic_write(target) as out:
        out.write(b"today\n")

    assert target.read_bytes() == b"today\n"
    assert _siblings(target) == ["out.jsonl"]
    assert _warnings(caplog) == [f"removing the partial file a killed run left: {left}"]


def test_a_second_writer_of_the_same_target_fails_at_once_and_the_first_finishes(
    local: MakeTarget, tmp_path: Path
) -> None:
    target = local(tmp_path / "out.jsonl")

    with atomic_write(target) as first:
        first.write(b"first\n")
        first.flush()
        with (
            pytest.raises(BlockingIOError, match=f"another process is writing {re.escape(str(target))}"),
            atomic_write(target) as second,
        ):
            second.write(b"second\n")

    assert target.read_bytes() == b"first\n"
    assert _siblings(target) == ["out.jsonl"]


HOLDER = """
import sys
from airflow.providers.common.compat.sdk import ObjectStoragePath
from airflow_provider_callbell.exports.atomic import atomic_write
with atomic_write(ObjectStoragePath(sys.argv[1])) as out:
    out.write(b"the other process's half file")
    out.flush()
    print("writing", flush=True)
    sys.stdin.readline()
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Another process in the middle of writing ``out.jsonl``, until killed."""
    target = tmp_path / "out.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(target)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == b"writing\n"
        yield process
    finally:
        process.kill()
        process.wait()


def test_a_writer_in_another_process_excludes_others_until_it_is_killed(
    holder: subprocess.Popen[bytes], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = ObjectStoragePath(str(tmp_path / "out.jsonl"))

    with pytest.raises(BlockingIOError, match=f"another process is writing {target}"), atomic_write(target):
        pass
    holder.kill()
    holder.wait()
    with atomic_write(target) as out:
        out.write(b"after the kill\n")

    assert target.read_bytes() == b"after the kill\n"
    assert _siblings(target) == ["out.jsonl"]
    left = tmp_path / ".out.jsonl.callbell-partial"
    assert _warnings(caplog) == [f"removing the partial file a killed run left: {left}"]


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


def test_the_partial_files_killed_runs_left_for_other_targets_go_with_the_next_write(
    holder: subprocess.Popen[bytes], local: MakeTarget, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A templated path gives each run its own target: a killed run's partial file would never be
    reused. Those untouched for an hour that no writer holds go; the rest stay."""
    holder.kill()
    holder.wait()
    killed = tmp_path / ".out.jsonl.callbell-partial"  # the real one a killed writer left
    others = [tmp_path / ".run_1.csv.callbell-partial", tmp_path / f".{'f' * 64}.callbell-partial"]
    fresh, held, folder = (tmp_path / f".{name}.jsonl.callbell-partial" for name in ("fresh", "held", "dir"))
    for path in [*others, fresh, held]:
        path.write_bytes(b"half a file")
    folder.mkdir()
    kept = [tmp_path / ".hidden", tmp_path / "data.callbell-partial", tmp_path / ".thesis.tex.partial"]
    for path in kept:
        path.write_bytes(b"not ours")
    for path in [killed, *others, held, folder, *kept]:
        _age(path, 2 * 3600)
    with held.open("rb") as holding:
        fcntl.flock(holding.fileno(), fcntl.LOCK_EX)  # a writer still at work
        _write(local(tmp_path / "run_2.jsonl"), b"today\n")

    assert (tmp_path / "run_2.jsonl").read_bytes() == b"today\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        ["run_2.jsonl", fresh.name, held.name, folder.name, *(path.name for path in kept)]
    )
    removed = [f"removing the partial file a killed run left: {path}" for path in [killed, *others]]
    assert sorted(_warnings(caplog)) == sorted(removed)


def test_a_writer_waits_out_a_sweep_that_holds_its_partial_file_for_an_instant(
    local: MakeTarget, tmp_path: Path
) -> None:
    """Another task's sweep locks a killed run's partial file, then removes it: no writer holds
    it, so the next writer of its target starts a new one rather than fail."""
    target = local(tmp_path / "out.jsonl")
    left = tmp_path / ".out.jsonl.callbell-partial"
    left.write_bytes(b"half of a killed run's file")
    with left.open("rb") as sweeping:
        fcntl.flock(sweeping.fileno(), fcntl.LOCK_EX)

        def sweep() -> None:
            time.sleep(0.03)
            left.unlink()
            fcntl.flock(sweeping.fileno(), fcntl.LOCK_UN)

        sweeper = threading.Thread(target=sweep)
        sweeper.start()
        _write(target, b"today\n")
        sweeper.join()

    assert target.read_bytes() == b"today\n"
    assert _siblings(target) == ["out.jsonl"]


def test_a_writer_whose_partial_file_was_just_moved_onto_the_target_starts_a_new_one(
    local: MakeTarget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = local(tmp_path / "out.jsonl")
    partial = tmp_path / ".out.jsonl.callbell-partial"
    partial.write_bytes(b"the other writer's file\n")
    real_flock = fcntl.flock

    # The gap between opening the partial file and locking it is too short to hit for real.
    def other_writer_finishes_then_flock(descriptor: int, operation: int) -> None:
        os.replace(partial, target.path)
        monkeypatch.setattr(fcntl, "flock", real_flock)
        real_flock(descriptor, operation)

    monkeypatch.setattr(fcntl, "flock", other_writer_finishes_then_flock)

    with atomic_write(target) as out:
        assert target.read_bytes() == b"the other writer's file\n"  # never emptied
        out.write(b"today\n")

    assert target.read_bytes() == b"today\n"
    assert _siblings(target) == ["out.jsonl"]


def test_a_failed_writer_holds_its_lock_until_its_partial_file_is_gone(
    local: MakeTarget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = local(tmp_path / "out.jsonl")
    path_type = type(partial_path(target))
    real_unlink = path_type.unlink
    next_writer: list[str] = []

    # A spy: whether the lock outlives the partial file shows only to a writer racing for it.
    def unlink_after_a_next_writer(path: ObjectStoragePath, missing_ok: bool = False) -> None:
        try:
            _write(target, b"the next writer's file\n")
            next_writer.append("wrote")
        except BlockingIOError:
            next_writer.append("refused")
        real_unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(path_type, "unlink", unlink_after_a_next_writer)

    with pytest.raises(RuntimeError, match="the export broke"):
        _write(target, b"half of today\n", RuntimeError("the export broke"))

    assert next_writer == ["refused"]
    assert _siblings(target) == []


def _parent_is_a_file(tmp_path: Path) -> Path:
    (tmp_path / "exports").write_text("a file, not a directory")
    return tmp_path / "exports" / "daily" / "out.jsonl"


def _direct_parent_is_a_file(tmp_path: Path) -> Path:
    (tmp_path / "exports").write_text("a file, not a directory")
    return tmp_path / "exports" / "out.jsonl"


def _name_too_long(tmp_path: Path) -> Path:
    return tmp_path / ("x" * 250 + ".jsonl")


def _target_is_a_directory(tmp_path: Path) -> Path:
    (tmp_path / "out.jsonl").mkdir()
    return tmp_path / "out.jsonl"


def _read_only_directory(tmp_path: Path) -> Path:
    (tmp_path / "locked").mkdir(mode=0o555)
    return tmp_path / "locked" / "out.jsonl"


AS_ROOT = pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permissions")


@pytest.mark.parametrize(
    ("make", "code"),
    [
        pytest.param(_parent_is_a_file, errno.ENOTDIR, id="parent-is-a-file"),
        pytest.param(_direct_parent_is_a_file, errno.ENOTDIR, id="direct-parent-is-a-file"),
        pytest.param(_name_too_long, errno.ENAMETOOLONG, id="name-too-long"),
        pytest.param(_target_is_a_directory, errno.EISDIR, id="rename-onto-a-directory"),
        pytest.param(_read_only_directory, errno.EACCES, id="read-only-directory", marks=AS_ROOT),
    ],
)
def test_file_errors_name_the_target_not_the_partial_file(
    make: Callable[[Path], Path], code: int, local: MakeTarget, tmp_path: Path
) -> None:
    path = make(tmp_path)
    target = local(path)
    before = sorted(tmp_path.rglob("*"))

    with pytest.raises(OSError, match=f"could not write {re.escape(str(target))}: ") as caught:
        _write(target, b"today\n")

    assert (caught.value.errno, caught.value.filename) == (code, str(target))
    assert "callbell-partial" not in str(caught.value)
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_a_partial_file_that_is_no_file_is_named_and_left(
    kind: str, local: MakeTarget, tmp_path: Path
) -> None:
    target = local(tmp_path / "leads.jsonl")
    in_the_way = Path(partial_path(target).path)
    os.mkfifo(in_the_way) if kind == "fifo" else in_the_way.mkdir()

    with pytest.raises(
        OSError, match=f"{re.escape(str(in_the_way))}, where its partial file is written, is a"
    ):
        _write(target, b"today\n")  # a FIFO used to block here for ever, waiting for a reader

    assert sorted(path.name for path in tmp_path.iterdir()) == [in_the_way.name]


FULL_DISK = """
import resource, signal, sys
from airflow.providers.common.compat.sdk import ObjectStoragePath
from airflow_provider_callbell.exports.atomic import atomic_write
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 16, 1 << 16))
try:
    with atomic_write(ObjectStoragePath(sys.argv[1])) as out:
        out.write(bytes(1 << 20))
except OSError as error:
    print(error.errno, error.filename, error, sep="\\n")
"""


def test_an_error_writing_in_the_block_names_the_target(local: MakeTarget, tmp_path: Path) -> None:
    # A file-size limit fails writes for root too, where a read-only or full disk cannot be had.
    target = local(tmp_path / "out.jsonl")
    target.write_bytes(b"yesterday\n")

    child = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(target)], capture_output=True, check=True, text=True
    )

    code, filename, message = child.stdout.splitlines()
    assert (int(code), filename) == (errno.EFBIG, str(target))
    assert message.startswith(f"[Errno {errno.EFBIG}] could not write {target}: File too large")
    assert "callbell-partial" not in message
    assert target.read_bytes() == b"yesterday\n"
    assert _siblings(target) == ["out.jsonl"]


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(RuntimeError("the export broke"), id="runtime-error"),
        pytest.param(CallbellError("Callbell answered 500"), id="callbell-error"),
        pytest.param(ConnectionError("an OSError that is not the file's"), id="connection-error"),
    ],
)
def test_an_error_of_the_block_passes_unchanged_and_leaves_the_old_target(
    error: Exception, anywhere: MakeTarget, tmp_path: Path
) -> None:
    target = anywhere(tmp_path / "out.jsonl")
    target.write_bytes(b"yesterday\n")

    with pytest.raises(type(error)) as caught:
        _write(target, b"half of today\n", error)

    assert caught.value is error
    assert target.read_bytes() == b"yesterday\n"
    assert _siblings(target) == ["out.jsonl"]


def test_a_failed_clean_up_is_logged_and_the_error_of_the_block_goes_on(
    local: MakeTarget, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = local(tmp_path / "out.jsonl")
    partial = tmp_path / ".out.jsonl.callbell-partial"
    error = RuntimeError("the export broke")

    def export_that_breaks() -> None:
        with atomic_write(target):
            # Root may remove any file; a directory in the partial file's place is what unlink refuses.
            partial.unlink()
            (partial / "in-the-way").mkdir(parents=True)
            raise error

    with pytest.raises(RuntimeError) as caught:
        export_that_breaks()

    assert caught.value is error
    (warning,) = _warnings(caplog)
    assert warning.startswith(f"could not remove the partial file {partial_path(target)}: ")
    assert "directory" in warning.lower()
    assert not os.path.lexists(target.path)


@pytest.mark.parametrize(
    "output_path",
    [
        pytest.param("{tmp}/exports", id="existing-directory"),
        pytest.param("file://{tmp}/exports", id="existing-directory-url"),
        pytest.param("{tmp}/not-yet/", id="trailing-slash"),
        pytest.param("file://{tmp}/not-yet/", id="trailing-slash-url"),
    ],
)
def test_check_target_refuses_a_directory(output_path: str, tmp_path: Path) -> None:
    (tmp_path / "exports").mkdir()
    given = output_path.format(tmp=tmp_path)

    with pytest.raises(ValueError, match=f"^output_path {re.escape(repr(given))} names a directory"):
        check_target(ObjectStoragePath(given), given, "output_path")


@pytest.mark.parametrize("kind", ["symlink", "dangling-symlink", "fifo", "device"])
def test_check_target_refuses_what_the_rename_would_replace(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path = Path("/dev/null")
    else:
        (tmp_path / "real.jsonl").write_text("kept\n")
        path.symlink_to(tmp_path / ("real.jsonl" if kind == "symlink" else "gone.jsonl"))

    with pytest.raises(ValueError, match=r"names a (symbolic link|device, a FIFO or a socket)"):
        check_target(ObjectStoragePath(str(path)), str(path), "output_path")
    assert os.path.lexists(path)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda tmp: tmp / ("a" * 300 + ".jsonl"), "File name too long"),
        (lambda tmp: (tmp / "f").touch() or tmp / "f" / "sub" / "x.jsonl", "Not a directory"),
        (lambda tmp: (tmp / "loop").symlink_to(tmp / "loop") or tmp / "loop" / "x.jsonl", "symbolic links"),
        (
            lambda tmp: (
                (tmp / "dangling").symlink_to(tmp / "nowhere") or tmp / "dangling" / "deeper" / "x.jsonl"
            ),
            "dangling above it is a symbolic link to nothing",
        ),
    ],
    ids=["name-too-long", "a-file-above", "a-loop-of-links", "a-dangling-link-above"],
)
def test_check_target_says_what_keeps_the_path_from_being_written(
    make: Callable[[Path], Path], reason: str, tmp_path: Path
) -> None:
    given = str(make(tmp_path))

    with pytest.raises(
        ValueError, match=f"^output_path {re.escape(repr(given))} cannot be written: .*{reason}"
    ):
        check_target(ObjectStoragePath(given), given, "output_path")


@pytest.mark.parametrize("existing", [True, False], ids=["existing-file", "new-file"])
def test_check_target_accepts_a_file(existing: bool, local: MakeTarget, tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    if existing:
        path.write_text("yesterday\n")
    target = local(path)

    check_target(target, str(target), "output_path")


def test_a_target_whose_name_is_as_long_as_names_go_is_written(local: MakeTarget, tmp_path: Path) -> None:
    """Its partial file cannot add a prefix and a suffix: it is named by a digest."""
    target = local(tmp_path / ("a" * 249 + ".jsonl"))

    _write(target, b"whole\n")

    assert target.read_bytes() == b"whole\n"
    assert _siblings(target) == [target.name]
