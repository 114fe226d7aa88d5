"""Crash-safe saves into a folder: private staging, one atomic commit, roll forward after a crash.

A save writes every new file into its own staging folder inside the model folder
(`.rosetta-staging-<id>/`, flock-ed by the writer for as long as it lives), fsyncs them, and then,
holding an exclusive lock on the model folder, commits:

    1. the journal `.rosetta-commit.json` (what moves in, what stale files go) is written under a
       temporary name, fsync-ed and renamed into place: this rename is the commit point;
    2. each staged file is renamed over its final name, stale files are removed;
    3. the journal and the staging folder are removed.

A crash before the commit point leaves the old checkpoint untouched (the dead staging folder is
removed by the next save or load: its flock is gone with its writer); a crash after it is rolled
forward by the next load or save, which finishes step 2 from the journal. Readers hold a shared
lock on the folder while they open the files (a commit never runs while a reader opens the
checkpoint, and an opened file keeps its contents when it is replaced), so they see the old
checkpoint or the new one, never a mix. Concurrent writers each stage privately and commit one at
a time: the last commit wins, complete. Files are created with the user's umask.
Locking uses flock(2); where it is unavailable (Windows, some network file systems) the commit is
still atomic per crash, but concurrent writers are not serialised.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence

from ...core.errors import CheckpointError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

JOURNAL_NAME = ".rosetta-commit.json"
STAGING_PREFIX = ".rosetta-staging-"


def fsync_path(path: str) -> None:
    """Flush a file's (or a folder's) contents to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as err:  # some file systems refuse fsync on folders
        if err.errno not in (errno.EINVAL, errno.EBADF):
            raise
    finally:
        os.close(fd)


def _flock(fd: int, operation: int) -> bool:
    """flock(2) where it works; False when the lock is held elsewhere (non-blocking) ."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, operation)
    except BlockingIOError:
        return False
    except OSError as err:
        if err.errno in (errno.ENOLCK, errno.EBADF, errno.EINVAL, errno.EOPNOTSUPP):
            return True  # no locking here: the commit stays atomic, writers are not serialised
        raise
    return True


@contextlib.contextmanager
def folder_lock(folder: str, exclusive: bool) -> Iterator[None]:
    """Hold flock on the folder itself (shared for readers, exclusive for a commit or a recovery)."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        if fcntl is not None:
            _flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # releases the lock


def _write_new(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the user's umask applies
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _roll_forward(folder: str) -> None:
    """Finish the committed save the journal describes (idempotent: each step checks first)."""
    journal_path = os.path.join(folder, JOURNAL_NAME)
    try:
        with open(journal_path, encoding="utf-8") as f:
            journal = json.load(f)
        staging, files, remove = journal["staging"], list(journal["files"]), list(journal["remove"])
    except (ValueError, KeyError, TypeError) as err:
        raise CheckpointError(
            f"{journal_path} is damaged ({err}); the last save into {folder} may be incomplete. Save the model again."
        ) from err
    staging_path = os.path.join(folder, os.path.basename(staging))
    for name in files:
        name = os.path.basename(name)
        if os.path.lexists(os.path.join(staging_path, name)):
            os.replace(os.path.join(staging_path, name), os.path.join(folder, name))
    for name in remove:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(folder, os.path.basename(name)))
    fsync_path(folder)
    os.unlink(journal_path)
    fsync_path(folder)
    shutil.rmtree(staging_path, ignore_errors=True)


def _remove_dead_stagings(folder: str) -> None:
    """Remove the staging folders whose writer is gone (their flock was released with the process)."""
    for entry in os.listdir(folder):
        path = os.path.join(folder, entry)
        if not entry.startswith(STAGING_PREFIX) or not os.path.isdir(path) or os.path.islink(path):
            continue
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            if fcntl is None or _flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB):
                shutil.rmtree(path, ignore_errors=True)
        finally:
            os.close(fd)


def needs_recovery(folder: str) -> bool:
    return os.path.exists(os.path.join(folder, JOURNAL_NAME))


def recover(folder: str) -> None:
    """Roll forward a save that crashed after its commit point; drop dead saves' staging folders."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        return
    if not os.access(folder, os.W_OK):
        if needs_recovery(folder):
            raise CheckpointError(
                f"A save into {folder} was interrupted after it committed, and the folder is read-only here, "
                "so it cannot be finished. Open it once with write access (any load or save finishes it)."
            )
        return
    with folder_lock(folder, exclusive=True):
        if needs_recovery(folder):
            _roll_forward(folder)
        _remove_dead_stagings(folder)


@contextlib.contextmanager
def reading(folder: str | os.PathLike) -> Iterator[None]:
    """Hold a consistent view of a local checkpoint folder while its files are opened.

    Finishes an interrupted save first; then no commit runs until the block ends. Files opened in
    the block keep their contents after it, whatever a later save does.
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        yield
        return
    if needs_recovery(folder):
        recover(folder)
    with folder_lock(folder, exclusive=False):
        yield


class Staging:
    """One save's private folder inside the model folder, committed all at once."""

    def __init__(self, folder: str):
        self.folder = os.path.abspath(folder)
        recover(self.folder)
        self.name = f"{STAGING_PREFIX}{uuid.uuid4().hex}"
        self.path = os.path.join(self.folder, self.name)
        os.mkdir(self.path, 0o777)  # the user's umask applies
        self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        if fcntl is not None:
            _flock(self._fd, fcntl.LOCK_EX)  # alive while this process holds it

    def file(self, name: str) -> str:
        """Where to write the new file `name` before the commit."""
        return os.path.join(self.path, name)

    def write_text(self, name: str, text: str) -> None:
        _write_new(self.file(name), text.encode("utf-8"))

    def commit(self, names: Sequence[str], is_stale: Callable[[str], bool] = lambda name: False) -> None:
        """Move the staged `names` into the folder atomically; remove the stale files `is_stale` picks."""
        for name in names:
            fsync_path(self.file(name))
        fsync_path(self.path)
        with folder_lock(self.folder, exclusive=True):
            if needs_recovery(self.folder):  # a save that crashed after our start, before us
                _roll_forward(self.folder)
            keep = set(names)
            stale = [e for e in os.listdir(self.folder) if e not in keep and is_stale(e)]
            journal = {"staging": self.name, "files": list(names), "remove": stale}
            tmp = os.path.join(self.path, JOURNAL_NAME)
            _write_new(tmp, json.dumps(journal, indent=1).encode("utf-8"))
            os.replace(tmp, os.path.join(self.folder, JOURNAL_NAME))  # the commit point
            fsync_path(self.folder)
            _roll_forward(self.folder)
        self.close()

    def close(self) -> None:
        """Drop whatever was staged and not committed."""
        if self._fd is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
