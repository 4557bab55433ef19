"""Crash-safe checkpoint files: atomic writes, integrity checks, fallback to the previous one.

A checkpoint is one `torch.save` file named `ckpt-<sequence>-<sha256 prefix>.pt` in the run's
`checkpoint/` directory. It is written to a temporary name, flushed and fsynced, then renamed into
place (`os.replace` is atomic), and the directory is fsynced; only then is the checkpoint before
the previous one deleted. So at any moment, even after SIGKILL or power loss, the directory holds
the newest complete checkpoint and the one before it. The digest in the name is computed from the
bytes as they are written (an ARC checkpoint is ~4 GB: reading it back for a hash after every write
doubled the disk traffic) and checked on load: a damaged newest file is reported in the log and
the previous one is used (or none: scratch). A write that fails for want of space raises
OSError(ENOSPC) naming the checkpoint, not torch's `inline_container.cc` message.

What goes in the state dict is `trm.state`'s business; this module only moves bytes safely.
"""
from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Optional

import torch

from trm.host import current_umask

log = logging.getLogger(__name__)

KEEP = 2
_NAME = re.compile(r"^ckpt-(\d{8})-([0-9a-f]{16})\.pt$")


def save_checkpoint(directory: Path, state: dict) -> Path:
    """Write `state` as the newest checkpoint in `directory`; keep the previous one; return the path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    existing = list_checkpoints(directory)
    sequence = existing[0][0] + 1 if existing else 1
    fd, tmp_name = tempfile.mkstemp(prefix=".ckpt-", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp's 0600 would hide checkpoints from the group
        with os.fdopen(fd, "wb") as f:
            writer = _HashingWriter(f)
            try:
                torch.save(state, writer)
                f.flush()
                os.fsync(f.fileno())
            except (OSError, RuntimeError) as err:
                raise _write_error(err, writer, directory / f"ckpt-{sequence:08d}.pt") from err
        final = directory / f"ckpt-{sequence:08d}-{writer.digest()}.pt"
        os.replace(tmp_name, final)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_directory(directory)
    for _, old in list_checkpoints(directory)[KEEP:]:
        old.unlink(missing_ok=True)
    return final


def load_checkpoint(directory: Path) -> Optional[dict]:
    """The newest intact checkpoint's state, or None when there is none (start from scratch).

    A file whose content does not match the digest in its name, or that torch cannot read, is
    skipped with a warning naming it; the next older one is tried.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return None
    for stale in directory.glob(".ckpt-*.tmp"):
        stale.unlink(missing_ok=True)  # a write interrupted before its rename
    damaged = False
    for _, path in list_checkpoints(directory):
        expected = _NAME.match(path.name).group(2)
        damaged = True  # until this one loads
        if _file_digest(path) != expected:
            _set_aside(path, "digest mismatch")
            continue
        try:
            state = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as err:  # a torch/pickle failure of any kind means this file is unusable
            _set_aside(path, f"unreadable: {err}")
            continue
        log.info("resuming from checkpoint %s", path)
        return state
    if damaged:  # (the damaged files were renamed away, so list_checkpoints no longer shows them)
        log.warning("no intact checkpoint in %s; starting from scratch", directory)
    return None


def list_checkpoints(directory: Path) -> list[tuple[int, Path]]:
    """(sequence, path) of the checkpoint files in `directory`, newest first."""
    found = []
    for path in Path(directory).iterdir() if Path(directory).is_dir() else ():
        match = _NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found, reverse=True)


def _set_aside(path: Path, reason: str) -> None:
    """Rename a damaged checkpoint to `*.corrupt` (kept for inspection, never counted as a good one)."""
    log.warning("checkpoint %s is corrupt (%s); falling back to the previous one", path, reason)
    os.replace(path, path.with_name(path.name + ".corrupt"))


class _HashingWriter:
    """A write-only file for torch.save that hashes the bytes on their way to `file`."""

    def __init__(self, file):
        self.file = file
        self.sha = hashlib.sha256()
        self.error: Optional[OSError] = None
        """the OSError a write raised (torch turns it into a RuntimeError that has lost the errno)"""

    def write(self, data) -> int:
        try:
            written = self.file.write(data)
        except OSError as err:
            self.error = err
            raise
        self.sha.update(memoryview(data)[:written])
        return written

    def flush(self) -> None:
        self.file.flush()

    def fileno(self) -> int:
        """The file's descriptor, for whoever fsyncs what torch.save was given (torch itself only writes)."""
        return self.file.fileno()

    def digest(self) -> str:
        """The first 16 hex digits of the SHA-256 of everything written (as `_file_digest`)."""
        return self.sha.hexdigest()[:16]


def _write_error(err: Exception, writer: _HashingWriter, path: Path) -> Exception:
    """The error to raise for a failed checkpoint write: an OSError naming `path` when the disk said why.

    torch.save reports a failed write as RuntimeError("[enforce fail at inline_container.cc:...]
    ... file write failed"); the OSError underneath (kept by the writer) or, failing that, a disk
    with no free space says what happened.
    """
    cause = writer.error if writer.error is not None else err if isinstance(err, OSError) else None
    if cause is None and "write failed" in str(err) and shutil.disk_usage(path.parent).free == 0:
        cause = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    if cause is None or cause.errno is None:
        return err
    return OSError(cause.errno, f"{os.strerror(cause.errno)}: writing checkpoint {path}", str(path))


def _file_digest(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()[:16]


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
