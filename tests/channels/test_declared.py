"""Channels declared in configuration (the Helm values), applied when the API starts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from changetrail_api.channels.declared import DeclaredChannelsError, load
from tests.api.conftest import bearer
from tests.channels.conftest import Serve
from tests.channels.support import create_channel, make_key

SIGNING = "whsec_" + "Q" * 32


def declare(path: Path, *channels: dict[str, Any]) -> str:
    path.write_text(json.dumps({"channels": list(channels)}))
    return str(path)


def slack(name: str = "deploys", **fields: Any) -> dict[str, Any]:
    return {"name": name, "kind": "slack", "url": "https://hooks.slack.example/T/B/X", **fields}


async def by_name(client: Any) -> dict[str, dict[str, Any]]:
    listed = (await client.get("/api/v1/channels", params={"limit": 100})).json()["data"]
    return {channel["name"]: channel for channel in listed}


async def test_declared_channels_exist_read_only(serve: Serve, tmp_path: Path) -> None:
    path = declare(tmp_path / "channels.json", slack(rules=[{"environments": ["production"]}]))
    async with serve(channels_file=path) as client:
        channel = (await by_name(client))["deploys"]
        assert channel["managed"] is True
        assert channel["rules"][0]["environments"] == ["production"]
        patched = await client.patch(f"/api/v1/channels/{channel['id']}", json={"enabled": False})
        deleted = await client.delete(f"/api/v1/channels/{channel['id']}")
    assert patched.status_code == deleted.status_code == 409
    assert "Helm values" in patched.json()["detail"]


async def test_a_restart_applies_the_new_declaration(serve: Serve, tmp_path: Path) -> None:
    path = tmp_path / "channels.json"
    declare(path, slack(), slack("to be removed"))
    async with serve(channels_file=str(path)) as client:
        first = await by_name(client)
        await create_channel(client, name="made through the API", kind="slack", url=slack()["url"])
    declare(
        path,
        slack(max_per_minute=10, url="https://hooks.other.example/x"),
        {
            "name": "events",
            "kind": "webhook",
            "url": "https://r.example/h",
            "signing_secret": SIGNING,
        },
    )
    async with serve(channels_file=str(path)) as client:
        second = await by_name(client)
    assert set(second) == {"deploys", "events", "made through the API"}
    assert second["deploys"]["id"] == first["deploys"]["id"]  # changed in place, log kept
    assert second["deploys"]["max_per_minute"] == 10
    assert second["deploys"]["destination_host"] == "hooks.other.example"
    assert second["made through the API"]["managed"] is False


async def test_declarations_go_to_their_organisation(serve: Serve, tmp_path: Path) -> None:
    path = declare(tmp_path / "channels.json", slack(org="team-b"))
    async with serve(channels_file=path) as client:
        assert await by_name(client) == {}  # the admin key is the default organisation's
        theirs = bearer(await make_key(client, "channels:read", org="team-b"))
        listed = await client.get("/api/v1/channels", headers=theirs)
    assert [c["name"] for c in listed.json()["data"]] == ["deploys"]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("not json", "invalid"),
        (json.dumps({"channels": [{"name": "x", "kind": "sms"}]}), "invalid"),
        (json.dumps({"channels": [slack(), slack()]}), "more than once"),
        (
            json.dumps({"channels": [{"name": "e", "kind": "webhook", "url": "https://r/"}]}),
            "signing_secret",
        ),
    ],
)
def test_a_file_that_cannot_be_applied_says_why(
    tmp_path: Path, document: str, message: str
) -> None:
    path = tmp_path / "channels.json"
    path.write_text(document)
    with pytest.raises(DeclaredChannelsError, match=message):
        load(str(path))


async def test_a_refused_destination_stops_the_start(database_url: str, tmp_path: Path) -> None:
    from tests.api.conftest import settings_for
    from tests.channels.support import SECRET_KEY, serving

    path = declare(tmp_path / "channels.json", slack(url="http://169.254.169.254/x"))
    settings = settings_for(database_url, secret_key=SECRET_KEY, channels_file=path)
    with pytest.raises(DeclaredChannelsError, match="link-local"):
        async with serving(settings):
            pass
