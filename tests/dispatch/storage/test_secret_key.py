"""The signing secret: SECRET_KEY when set, else one made once and kept private under var/."""

from __future__ import annotations

import stat
from pathlib import Path

from dispatch.settings import Settings
from dispatch.storage.secret_key import secret_key


def test_the_secret_is_made_once_and_kept_private(tmp_path: Path) -> None:
    """Without SECRET_KEY: a random secret, the same at every later start, readable by the owner
    only; with it, SECRET_KEY itself."""
    settings = Settings(var_dir=tmp_path / "var")
    first = secret_key(settings)
    assert len(first) >= 32
    assert secret_key(settings) == first
    kept = tmp_path / "var" / "secret_key"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert secret_key(Settings(var_dir=tmp_path / "other")) != first
    assert secret_key(Settings(var_dir=tmp_path / "var", secret_key="given")) == "given"
