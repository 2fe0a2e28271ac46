"""The secret that signs tracking links and sessions, kept under ``var_dir`` beside the local
redis-server's data when SECRET_KEY does not give one."""

from __future__ import annotations

import os
import secrets

from dispatch.settings import Settings


def secret_key(settings: Settings) -> str:
    """The signing secret: SECRET_KEY, else one made once and kept (0600) under ``var_dir``."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.var_dir / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.part")
        partial.write_text(secrets.token_urlsafe(32))
        partial.chmod(0o600)
        if not path.exists():  # another process may have won; theirs stays
            partial.replace(path)
        else:
            partial.unlink()
    return path.read_text().strip()
