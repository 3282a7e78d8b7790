"""The per-install secret key used outside production mode (no Django imports: settings
use it before Django is configured)."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path


def _read(path: Path) -> str:
    key = path.read_text(encoding="utf-8").strip()
    if not key:
        raise RuntimeError(f"{path} is empty: delete it to have a new secret key generated")
    return key


def install_secret_key(path: Path) -> str:
    """The secret key stored in ``path``, generated there first when it is missing.

    The file is created once, atomically (written in full to a private temporary file,
    then hard-linked into place, so concurrent processes agree on one key and nobody
    reads a partial file), with mode 0600.
    """
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(50) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process was first: use its key
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return _read(path)
