"""One writer per run folder: ``.lock`` holds the writing process's id while it works.

A second process is refused with the first one's id; a lock left by a process that no longer exists (killed)
is taken over with a warning. Nested use in one process (``train`` locking its folder, then training it) and in
the processes it spawns (data-parallel workers) is allowed.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from types import TracebackType

from emomtl.errors import RunFolderError

log = logging.getLogger(__name__)

LOCK_NAME = ".lock"
_HELD: dict[Path, int] = {}  # folders this process holds -> nesting depth


def process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _owner(lock: Path) -> int | None:
    try:
        return int(lock.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class RunLock:
    """``with RunLock(folder): ...``: refuse when another live process holds ``folder``."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder).resolve()
        self.path = self.folder / LOCK_NAME

    def __enter__(self) -> "RunLock":
        if self.folder in _HELD:
            _HELD[self.folder] += 1
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            try:
                handle = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = _owner(self.path)
                if owner in (os.getpid(), os.getppid()):  # ours, or the parent's (data-parallel workers it spawned)
                    break
                if owner is not None and process_alive(owner):
                    raise RunFolderError(f"{self.folder}: another process (pid {owner}) is writing this run folder "
                                         f"(lock {self.path}); wait for it to finish or choose another --out")
                log.warning("%s: taking over the lock left by process %s, which no longer runs", self.folder, owner)
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(handle, "w") as file:
                file.write(f"{os.getpid()}\n")
            break
        else:
            raise RunFolderError(f"{self.folder}: cannot take the lock {self.path}")
        _HELD[self.folder] = 1
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        _HELD[self.folder] -= 1
        if _HELD[self.folder] == 0:
            del _HELD[self.folder]
            if _owner(self.path) == os.getpid():
                self.path.unlink(missing_ok=True)
