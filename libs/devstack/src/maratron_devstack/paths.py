"""Where the project keeps its data: ONE git-ignored folder, `.data/` at the repository root,
overridable with MARATRON_DATA_DIR. A restart of the stack reuses it, so no event is lost."""

from __future__ import annotations

import hashlib
import os
import pwd
import stat
from pathlib import Path

DATA_DIR_ENV = "MARATRON_DATA_DIR"


def project_root(start: Path | None = None) -> Path:
    """The nearest folder above `start` (default: the working directory) holding uv.lock and
    pyproject.toml, i.e. the workspace root; the working directory when there is none."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "uv.lock").is_file() and (folder / "pyproject.toml").is_file():
            return folder
    return here


def data_dir() -> Path:
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    return project_root() / ".data"


def traversable_by(path: Path, username: str) -> bool:
    """Can `username` reach `path` (search permission on it and on every parent folder)?"""
    account = pwd.getpwnam(username)
    groups = {account.pw_gid}
    for folder in (path, *path.parents):
        try:
            info = folder.stat()
        except FileNotFoundError:
            continue  # created later with permissive modes
        if info.st_uid == account.pw_uid:
            ok = bool(info.st_mode & stat.S_IXUSR)
        elif info.st_gid in groups:
            ok = bool(info.st_mode & stat.S_IXGRP)
        else:
            ok = bool(info.st_mode & stat.S_IXOTH)
        if not ok:
            return False
    return True


def fallback_dir(path: Path) -> Path:
    """A place every account can reach, unique to `path`: /var/tmp/maratron-<hash>."""
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    return Path("/var/tmp") / f"maratron-{digest}"
