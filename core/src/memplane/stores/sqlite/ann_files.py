"""The files of the approximate index: written whole or not at all, read only when whole.

usearch trusts its file: one whose header is intact but whose graph is damaged
crashes the process (SIGSEGV) or hangs it on the first search (usearch 2.26,
probed with overwritten tails). So every index file has a sidecar,
``<index>.json``, naming the scope, epoch, generation, dimension, dtype, row count,
byte size and SHA-256 of the index bytes (646 MiB/s here with SHA-NI, BLAKE2b 345),
and no file reaches usearch unless its bytes hash to that value. A kill, a power loss (files are fsynced before the
rename), a truncation or a file copied from elsewhere is then a rejected file and
a rebuild, never a crash.

Writes go to a fresh private (0700) directory inside the index directory, are
fsynced, then renamed into place: nothing is ever written through a path another
user could have planted (a symlink at the final name is replaced, not followed), and
an index directory or file another user owns, or anyone may write to, is not used.
Leftovers of killed writers are removed by the next save.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

FORMAT = 1
SUFFIX = ".usearch"
SIDECAR = ".json"
_SIDECAR_MAX_BYTES = 64 * 1024
_READ_CHUNK = 1 << 20
_TEMP_MARK = ".tmp-"


def _open_regular(path: Path) -> int:
    """A read descriptor of ``path`` if it is a regular file: a symlink is refused
    (O_NOFOLLOW) and a FIFO or device neither blocks the open nor gets read."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path.name} is not a regular file")
    return fd


def _digest(fd: int) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while chunk := os.read(fd, _READ_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def parse_name(path: Path) -> tuple[int, int] | None:
    """(epoch, generation) from ``<stem>.e<epoch>.g<gen>.usearch``."""
    parts = path.name.split(".")
    if len(parts) != 4 or not parts[1].startswith("e") or not parts[2].startswith("g"):
        return None
    try:
        return int(parts[1][1:]), int(parts[2][1:])
    except ValueError:
        return None


def usable_directory(directory: Path) -> str | None:
    """Why ``directory`` must not hold index files (None: it may). A symlink there could
    point the store's writes and deletions at any directory; one another user owns
    (planted beside a database in a shared directory) or anyone may write to could
    receive a crafted file that passes the checksum and crashes usearch."""
    try:
        seen = directory.lstat()
    except FileNotFoundError:
        return None  # created on the first save
    except OSError as exc:
        return f"{directory} cannot be examined ({exc.strerror or exc})"
    if stat.S_ISLNK(seen.st_mode):
        return f"{directory} is a symbolic link"
    if not stat.S_ISDIR(seen.st_mode):
        return f"{directory} is not a directory"
    return _foreign_owner(directory, seen)


def _foreign_owner(path: Path, seen: os.stat_result) -> str | None:
    if seen.st_uid != os.geteuid():
        return f"{path} belongs to uid {seen.st_uid}, not this process's {os.geteuid()}"
    if seen.st_mode & stat.S_IWOTH:
        return f"{path} is writable by every user"
    return None


def listing(directory: Path, stem: str) -> list[tuple[int, int, Path]]:
    """Index files of one scope: (epoch, generation, path)."""
    if usable_directory(directory) is not None or not directory.is_dir():
        return []
    found = []
    for path in directory.glob(f"{stem}.e*.g*{SUFFIX}"):
        parsed = parse_name(path)
        if parsed is not None:
            found.append((*parsed, path))
    return found


def check(path: Path, expected: dict[str, Any]) -> str | None:
    """Why the index file at ``path`` must not be loaded (None: it is whole and its
    sidecar matches every ``expected`` field)."""
    try:
        fd = _open_regular(Path(str(path) + SIDECAR))
    except OSError as exc:
        return f"no readable checksum sidecar ({exc.strerror or exc})"
    try:
        raw = os.read(fd, _SIDECAR_MAX_BYTES + 1)
    finally:
        os.close(fd)
    try:
        meta = json.loads(raw) if len(raw) <= _SIDECAR_MAX_BYTES else None
    except ValueError:
        meta = None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        return "its sidecar is not one this version writes"
    for field, value in expected.items():
        if meta.get(field) != value:
            return f"written for {field} {meta.get(field)!r}, not {value!r}"
    try:
        fd = _open_regular(path)
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    try:
        foreign = _foreign_owner(path, os.fstat(fd))
        digest, size = _digest(fd) if foreign is None else ("", 0)
    finally:
        os.close(fd)
    if foreign is not None:
        return foreign
    if size != meta.get("bytes") or digest != meta.get("sha256"):
        return f"its {size} bytes do not match the checksum written with it (damaged or replaced)"
    return None


def write(directory: Path, stem: str, name: str, save: Callable[[str], None],
          meta: dict[str, Any]) -> Path:
    """Save an index as ``directory/name`` with its sidecar; ``save(path)`` writes the
    index bytes. Raises OSError (nothing is left at the final names then)."""
    problem = usable_directory(directory)
    if problem is not None:
        raise OSError(problem)
    directory.mkdir(mode=0o755, parents=True, exist_ok=True)  # never world-writable
    problem = usable_directory(directory)  # planted between the check and mkdir
    if problem is not None:
        raise OSError(problem)
    _sweep_temporaries(directory, stem)
    # mkdtemp: a new 0700 directory only this user can enter, so no one can plant a
    # symlink at the name usearch opens; the pid lets a later save spot it as stale
    work = Path(tempfile.mkdtemp(prefix=f".{stem}.{os.getpid()}{_TEMP_MARK}", dir=directory))
    try:
        index_path, sidecar_path = work / "index", work / "sidecar"
        save(str(index_path))
        fd = _open_regular(index_path)
        try:
            # usearch creates it by the umask alone; check() refuses a world-writable file
            os.fchmod(fd, stat.S_IMODE(os.fstat(fd).st_mode) & ~stat.S_IWOTH)
            os.fsync(fd)
            digest, size = _digest(fd)
        finally:
            os.close(fd)
        body = json.dumps({**meta, "format": FORMAT, "bytes": size, "sha256": digest})
        fd = os.open(sidecar_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        try:
            os.write(fd, body.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        final = directory / name
        # the index first: a kill between the renames leaves an index without a (or
        # with an older) sidecar, which check() rejects
        os.replace(index_path, final)
        os.replace(sidecar_path, Path(str(final) + SIDECAR))
        _fsync_directory(directory)
        return final
    finally:
        shutil.rmtree(work, ignore_errors=True)


def remove_older(directory: Path, stem: str, epoch: int, generation: int) -> None:
    """Remove this scope's files superseded by (epoch, generation), with their sidecars
    (newer ones another process saved meanwhile stay). Unlinking a planted symlink
    removes the link, never its target."""
    for file_epoch, file_generation, path in listing(directory, stem):
        if (file_epoch, file_generation) < (epoch, generation):
            for victim in (path, Path(str(path) + SIDECAR)):
                with contextlib.suppress(OSError):
                    victim.unlink()


def _sweep_temporaries(directory: Path, stem: str) -> None:
    """Remove work directories left by writers that were killed (their pid is gone)."""
    for path in directory.glob(f".{stem}.*{_TEMP_MARK}*"):
        pid_text = path.name[len(stem) + 2:].split(_TEMP_MARK, 1)[0]
        if not pid_text.isdigit() or path.is_symlink() or not path.is_dir():
            continue
        if _alive(int(pid_text)):
            continue
        shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: someone else's live process
        return True
    return True
