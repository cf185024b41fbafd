"""Output folders that never lose or mix data.

* A single run claims a new or empty folder before Hydra writes into it (:func:`claim_run_folder`);
  a folder holding anything else is refused. Default names carry a random token, so runs started
  in the same second get different folders.
* Every run stages its tables in a staging folder of its own (``.staging-<token>``) and moves them
  into place only when all are written; ``status.json`` is written last, atomically, and says
  ``running``, ``finished``, ``failed`` or ``interrupted``. Readers trust only ``finished``.
* On failure a program removes only what it created in the same invocation (:class:`Created`).
* A finished run's ``status.json`` records the sha256 of each of its output files
  (:func:`output_digests`), so that a file changed after the run finished is found
  (:func:`changed_outputs`) and such a run is never pooled.
* A sweep folder records its settings in ``sweep.json`` and is locked while a sweep runs into it
  (:func:`lock_sweep`), so two sweeps never write into one folder and a rerun with other settings
  or other code is refused instead of mixed.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from sim.errors import FolderError

STATUS_FILE = "status.json"
SWEEP_FILE = "sweep.json"
LOCK_FILE = ".sweep.lock"
#: files Hydra and this program write into a run folder (what a failed invocation may remove)
OWN_NAMES = (".hydra", "run.log", STATUS_FILE, "error.txt")
#: folders of a run folder whose files are not digested: pictures drawn from the tables, never read back
UNDIGESTED = ("figures",)


def new_token() -> str:
    """A short random token naming one invocation (staging folders, locks, status records)."""
    return secrets.token_hex(4)


def read_record(path: Path) -> str:
    """The text of a small record file (status, sweep record, lock, manifest) of a run or sweep folder.

    Raises:
        OSError: the path is not a regular file (a FIFO would block the read forever) or holds
            more than 16 MiB (no record of this program is that large).
    """
    import stat

    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode) or info.st_size > 16 * 2**20:
        raise OSError(f"{path}: not a record file (not a regular file, or too large)")
    return Path(path).read_text()


def is_token(text: object) -> bool:
    """Whether ``text`` has the form :func:`new_token` gives (a record read from disk may not)."""
    return isinstance(text, str) and len(text) == 8 and all(c in "0123456789abcdef" for c in text)


@dataclass
class Created:
    """What this invocation created, so that a failure removes exactly that and nothing else."""

    #: the topmost folder this invocation created (None: the folder existed before)
    top: Path | None = None
    folder: Path | None = None
    files: list[Path] = field(default_factory=list)

    def remove(self) -> None:
        """Remove what this invocation created: its new folder, or its own files in an old one.

        Parent folders it created are removed only while empty: another invocation may have put a
        folder of its own there in the meantime (``outputs/`` made by two runs started together).
        """
        if self.top is not None and self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            parent = self.folder.parent
            while self.top in (parent, *parent.parents):
                try:
                    parent.rmdir()  # only an empty folder
                except OSError:
                    break
                if parent == self.top:
                    break
                parent = parent.parent
            return
        if self.folder is None:
            return
        for name in OWN_NAMES:
            p = self.folder / name
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            elif p.exists():
                p.unlink(missing_ok=True)
        for p in self.folder.glob(".staging-*"):
            shutil.rmtree(p, ignore_errors=True)


def make_folder(path: Path) -> Created:
    """Create ``path`` (and missing parents); return what was created.

    Raises:
        FolderError: the folder cannot be created (permissions, a file in the way).
    """
    path = Path(path).absolute()
    missing = [p for p in (path, *path.parents) if not p.exists()]
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FolderError(f"{path}: cannot create the output folder: {err.strerror or err}") from None
    return Created(top=missing[-1] if missing else None, folder=path)


def claim_run_folder(path: Path) -> Created:
    """Claim ``path`` for one run: it must not exist, or be an empty folder; it must be writable.

    Raises:
        FolderError: the folder holds files (they are another run's or the user's: never touched),
            is a file, or is not writable.
    """
    path = Path(path).absolute()
    if path.exists():
        if not path.is_dir():
            raise FolderError(f"hydra.run.dir={path}: is a file, not a folder")
        held = sorted(p.name for p in path.iterdir())
        if held:
            shown = ", ".join(held[:5]) + (" ..." if len(held) > 5 else "")
            raise FolderError(
                f"hydra.run.dir={path}: the folder exists and holds files ({shown}); "
                "a run writes only into a new or empty folder (leave hydra.run.dir unset for a new one)"
            )
        created = Created(top=None, folder=path)
    else:
        created = make_folder(path)
    check_writable(path, created)
    return created


def check_writable(path: Path, created: Created | None = None) -> None:
    """Refuse a folder this process cannot write into (removing what was just created)."""
    if not os.access(path, os.W_OK | os.X_OK):
        if created is not None:
            created.remove()
        raise FolderError(f"{path}: the output folder is not writable")


# ----------------------------------------------------------------------------- status
def write_json_atomic(path: Path, data: dict) -> None:
    """Write ``data`` as JSON so that readers see the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{new_token()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)


def mark(folder: Path, status: str, **info) -> None:
    """Record a run's status (``running``, ``finished``, ``failed``, ``interrupted``) in ``status.json``.

    A ``finished`` run also records ``digests``, the sha256 of each of its output files
    (:func:`output_digests`; unless ``info`` gives them), so that a later change is found.
    """
    if status == "finished" and "digests" not in info:
        info["digests"] = output_digests(folder)
    write_json_atomic(folder / STATUS_FILE, {"status": status, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), **info})


def read_status(folder: Path) -> dict:
    """The run's status record; ``{"status": "missing"}`` where there is none or it is unreadable."""
    try:
        status = json.loads(read_record(folder / STATUS_FILE))
    except (OSError, ValueError):
        return {"status": "missing"}
    return status if isinstance(status, dict) and "status" in status else {"status": "missing"}


# ----------------------------------------------------------------------------- integrity
def file_digest(path: Path) -> str:
    """The sha256 of a file's bytes, as hex."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def output_digests(folder: Path) -> dict[str, str]:
    """The sha256 of every output file of a run folder, by its path relative to the folder (``/``-separated).

    Covers the tables, ``summary.json``, ``manifest.json``, ``interventions.csv`` and ``counterfactual/``;
    leaves out what Hydra and the status records write (:data:`OWN_NAMES`), hidden files (staging
    folders, temporary files) and figures (drawn from the tables and never read back).
    """
    folder = Path(folder)
    digests = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if rel.parts[0] in (*OWN_NAMES, *UNDIGESTED) or any(part.startswith(".") for part in rel.parts):
            continue
        if p.is_file() and not p.is_symlink():
            digests[rel.as_posix()] = file_digest(p)
    return digests


def changed_outputs(folder: Path, status: dict | None = None) -> list[str]:
    """What changed in a finished run's output files since it finished: one phrase per file, none if nothing.

    Compares the files with the digests that ``status.json`` recorded when the run finished. A run
    without recorded digests (made before they were recorded) has nothing to compare with: no
    phrase. This finds accidental edits and damage, not deliberate forgery (whoever edits a result
    can edit ``status.json`` too).

    Args:
        folder: the run folder.
        status: its status record, if already read (:func:`read_status`).
    """
    folder = Path(folder)
    status = read_status(folder) if status is None else status
    recorded = status.get("digests")
    if recorded is None:
        return []
    if not isinstance(recorded, dict) or not all(isinstance(v, str) for v in recorded.values()):
        return [f"{STATUS_FILE}: its record of the output files (digests) is unreadable"]
    problems = []
    for rel, digest in sorted(recorded.items()):
        parts = PurePosixPath(rel).parts
        if not parts or PurePosixPath(rel).is_absolute() or ".." in parts:
            problems.append(f"{STATUS_FILE}: records a file outside the run folder ({rel!r})")
            continue
        path = folder.joinpath(*parts)
        if not path.is_file():
            problems.append(f"{rel} is missing (the run wrote it)")
        elif file_digest(path) != digest:
            problems.append(f"{rel} changed after the run finished")
    return problems


def publish(staging: Path, folder: Path) -> None:
    """Move every file of ``staging`` into ``folder``; refuse to replace anything already there.

    Raises:
        FolderError: a file of the same name exists (it belongs to another run).
    """
    clash = [p.name for p in staging.iterdir() if (folder / p.name).exists()]
    if clash:
        raise FolderError(f"{folder}: already holds {clash}; results of another run are never overwritten")
    for p in sorted(staging.iterdir()):
        p.rename(folder / p.name)


# ----------------------------------------------------------------------------- sweep lock
def lock_sweep(sweep: Path, token: str, purpose: str = "sweep") -> None:
    """Take the sweep folder's lock (atomic create); a stale lock of a dead process is taken over.

    Args:
        sweep: the sweep folder.
        token: names this invocation (:func:`unlock_sweep` releases only its own lock).
        purpose: ``sweep`` (runs are written into the folder) or ``collection`` (``collected/`` is).

    Raises:
        FolderError: another sweep or collection on this or another machine holds the lock.
    """
    lock = sweep / LOCK_FILE
    me = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "token": token,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "purpose": purpose,
    }
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            other = _read_lock(lock)
            if other.get("host") == me["host"] and not _alive(other.get("pid", 0)):
                lock.unlink(missing_ok=True)  # the sweep that held it died: its lock, not its data
                continue
            what = "a collection of its runs" if other.get("purpose") == "collection" else "another sweep"
            raise FolderError(
                f"{sweep}: {what} is writing into this folder (process {other.get('pid')} on "
                f"{other.get('host')}, since {other.get('time')}); wait for it or choose another hydra.sweep.dir"
            ) from None
        with os.fdopen(fd, "w") as f:
            json.dump(me, f)
        return
    raise FolderError(f"{sweep}: cannot take the sweep lock {lock}")


def unlock_sweep(sweep: Path, token: str) -> None:
    """Release the lock if this invocation holds it."""
    lock = sweep / LOCK_FILE
    try:
        if json.loads(read_record(lock)).get("token") == token:
            lock.unlink()
    except (OSError, ValueError):
        pass


def lock_holder(sweep: Path) -> dict | None:
    """Who holds the sweep folder's lock (a live process), or None."""
    lock = Path(sweep) / LOCK_FILE
    if not lock.exists():
        return None
    other = _read_lock(lock)
    if other.get("host") == socket.gethostname() and not _alive(other.get("pid", 0)):
        return None
    return other


def _read_lock(lock: Path) -> dict:
    """The lock's record; a damaged one (not JSON, not a mapping) reads as a holder on no known host.

    Such a lock is never taken over: whether its sweep still runs cannot be told.
    """
    try:
        record = json.loads(read_record(lock))
    except (OSError, ValueError):
        return {"pid": "?", "host": "? (the lock file is damaged: remove it if no sweep runs)"}
    if not isinstance(record, dict):
        return {"pid": "?", "host": "? (the lock file is damaged: remove it if no sweep runs)"}
    return record


def _alive(pid: object) -> bool:
    """Whether process ``pid`` runs on this machine; a pid that is not a process number counts as alive."""
    if not isinstance(pid, int) or isinstance(pid, bool) or not 0 < pid < 2**31:
        return pid not in (0, None)
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
