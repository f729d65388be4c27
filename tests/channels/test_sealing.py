"""Destinations at rest: encrypted under the install's secret key, bound to their channel."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from changetrail_api.channels.sealing import (
    KEY_FILE_SUFFIX,
    Sealer,
    SealError,
    key_file_for,
    resolve_secret_key,
)
from changetrail_api.settings import ApiSettings

KEY = "k" * 40
DESTINATION = {"url": "https://hooks.slack.example/services/T/B/secret", "token": "glsa_x"}


def test_a_sealed_destination_opens_with_its_key_and_channel_only() -> None:
    sealed = Sealer(KEY).seal(DESTINATION, channel_id="chn_1")
    assert "hooks.slack" not in sealed
    assert "secret" not in sealed
    assert Sealer(KEY).unseal(sealed, channel_id="chn_1") == DESTINATION
    with pytest.raises(SealError, match="CHANGETRAIL_SECRET_KEY"):
        Sealer("other" * 10).unseal(sealed, channel_id="chn_1")
    with pytest.raises(SealError):
        Sealer(KEY).unseal(sealed, channel_id="chn_2")
    with pytest.raises(SealError):
        Sealer(KEY).unseal(sealed[:-4] + "AAAA", channel_id="chn_1")


def test_sealing_twice_gives_different_texts() -> None:
    sealer = Sealer(KEY)
    assert sealer.seal(DESTINATION, channel_id="c") != sealer.seal(DESTINATION, channel_id="c")


def test_the_setting_wins() -> None:
    settings = ApiSettings(database_url="sqlite:///x.db", secret_key="s" * 32)
    assert resolve_secret_key(settings) == "s" * 32


def test_sqlite_without_a_key_generates_one_beside_the_database(tmp_path: Path) -> None:
    database = tmp_path / "data" / "changetrail.db"
    settings = ApiSettings(database_url=f"sqlite:///{database}")
    key = resolve_secret_key(settings)
    path = key_file_for(settings.database_url)
    assert path == Path(str(database) + KEY_FILE_SUFFIX)
    assert key is not None
    assert len(key) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert resolve_secret_key(settings) == key  # kept, not regenerated
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left behind


def test_postgresql_without_a_key_has_none() -> None:
    assert resolve_secret_key(ApiSettings(database_url="postgresql://u@h/db")) is None


def test_a_short_secret_key_is_refused() -> None:
    with pytest.raises(ValueError, match="32 characters"):
        ApiSettings(secret_key="short")
