"""A change's outcome: posted with the change or completed later, final once it has ended.

``PATCH /api/v1/changes/{id}`` sets only ``outcome``, ``ended_at`` and ``outcome_reason``, for
the source that recorded the change; completing it again the same way changes nothing, and
lists filter on the outcome.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import Api, KeyFactory, bearer

STARTED = "2026-03-30T15:30:00Z"
ENDED = "2026-03-30T15:34:10Z"


async def _rollout(api: Api, **fields: Any) -> dict[str, Any]:
    return await api.change(
        "Deploy payments/api: api:1.4.2 → 1.5.0",
        source="kubernetes",
        external_id=f"k8s:prod:Deployment:u1:rollout:g{len(fields)}",
        occurred_at=STARTED,
        outcome="in_progress",
        **fields,
    )


async def _complete(client: httpx.AsyncClient, change_id: str, **body: Any) -> httpx.Response:
    return await client.patch(f"/api/v1/changes/{change_id}", json={"source": "kubernetes", **body})


async def test_a_rollout_is_posted_in_progress_and_completed_with_its_end(
    client: httpx.AsyncClient, api: Api
) -> None:
    change = await _rollout(api)
    assert (change["outcome"], change["ended_at"], change["outcome_reason"]) == (
        "in_progress",
        None,
        None,
    )

    response = await _complete(
        client,
        change["id"],
        outcome="failed",
        ended_at=ENDED,
        outcome_reason="ProgressDeadlineExceeded",
    )

    assert response.status_code == 200, response.text
    completed = response.json()["data"]
    assert completed["outcome"] == "failed"
    assert completed["ended_at"] == "2026-03-30T15:34:10.000Z"
    assert completed["outcome_reason"] == "ProgressDeadlineExceeded"
    # Nothing else of the change moved.
    unchanged = {k: v for k, v in completed.items() if not k.startswith(("outcome", "ended_at"))}
    assert unchanged == {k: v for k, v in change.items() if k in unchanged}
    read = (await client.get(f"/api/v1/changes/{change['id']}")).json()["data"]
    assert read == completed


async def test_completing_again_the_same_way_is_idempotent_and_another_way_a_conflict(
    client: httpx.AsyncClient, api: Api
) -> None:
    change = await _rollout(api)
    first = await _complete(client, change["id"], outcome="succeeded", ended_at=ENDED)
    again = await _complete(
        client, change["id"], outcome="succeeded", ended_at="2026-03-30T16:00:00Z"
    )
    other = await _complete(client, change["id"], outcome="failed")
    back = await _complete(client, change["id"], outcome="in_progress")

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["data"] == first.json()["data"], "the first end stands"
    assert other.status_code == 409
    assert other.headers["content-type"].startswith("application/problem+json")
    assert back.status_code == 409


async def test_an_end_without_a_time_ends_now_and_in_progress_has_no_end(
    client: httpx.AsyncClient, api: Api
) -> None:
    plain = await api.change("Deploy billing", source="kubernetes")
    assert plain["outcome"] is None

    progressing = await _complete(client, plain["id"], outcome="in_progress")
    superseded = await _complete(client, plain["id"], outcome="superseded")
    early = await _complete(
        client, (await _rollout(api))["id"], outcome="succeeded", ended_at="2026-03-30T15:00:00Z"
    )
    with_end = await _complete(
        client, (await _rollout(api, tags=["x"]))["id"], outcome="in_progress", ended_at=ENDED
    )

    assert progressing.json()["data"]["outcome"] == "in_progress"
    assert superseded.json()["data"]["outcome"] == "superseded"
    assert superseded.json()["data"]["ended_at"] >= plain["created_at"]
    assert early.status_code == 422, "an end before the change occurred"
    assert with_end.status_code == 422


async def test_only_the_recording_source_completes_and_only_outcome_fields_are_taken(
    client: httpx.AsyncClient, api: Api
) -> None:
    change = await _rollout(api)

    wrong_source = await client.patch(
        f"/api/v1/changes/{change['id']}", json={"source": "github", "outcome": "failed"}
    )
    no_source = await client.patch(f"/api/v1/changes/{change['id']}", json={"outcome": "failed"})
    rewrite = await _complete(client, change["id"], outcome="failed", summary="Nothing happened")
    unknown_outcome = await _complete(client, change["id"], outcome="FAILED")

    assert wrong_source.status_code == 422
    assert wrong_source.json()["errors"][0]["field"] == "source"
    assert no_source.status_code == 422
    assert rewrite.status_code == 422, "a completion never rewrites other fields"
    assert unknown_outcome.status_code == 422
    still = (await client.get(f"/api/v1/changes/{change['id']}")).json()["data"]
    assert (still["summary"], still["outcome"]) == (change["summary"], "in_progress")


async def test_completion_needs_changes_write_and_stays_in_the_organisation(
    client: httpx.AsyncClient, api: Api, make_key: KeyFactory
) -> None:
    change = await _rollout(api)
    reader = await make_key("changes:read")
    writer = await make_key("changes:write")
    foreign = await make_key("changes:write", org="elsewhere")
    body = {"source": "kubernetes", "outcome": "succeeded"}
    url = f"/api/v1/changes/{change['id']}"

    assert (await client.patch(url, json=body, headers=bearer(reader))).status_code == 403
    assert (await client.patch(url, json=body, headers=bearer(foreign))).status_code == 404
    missing = await client.patch("/api/v1/changes/chg_missing", json=body)
    assert missing.status_code == 404
    assert (await client.patch(url, json=body, headers=bearer(writer))).status_code == 200


async def test_lists_filter_on_the_outcome(client: httpx.AsyncClient, api: Api) -> None:
    running = await _rollout(api)
    failed = await _rollout(api, tags=["a"])
    await _complete(client, failed["id"], outcome="failed", ended_at=ENDED)
    plain = await api.change("Config edit")

    def ids(body: dict[str, Any]) -> list[str]:
        return [change["id"] for change in body["data"]]

    assert ids(await api.changes(outcome="failed")) == [failed["id"]]
    assert ids(await api.changes(outcome="in_progress")) == [running["id"]]
    assert (await api.changes(outcome="failed"))["meta"]["total"] == 1
    assert plain["id"] in ids(await api.changes())
    bad = await client.get("/api/v1/changes", params={"outcome": "done"})
    assert bad.status_code == 422


async def test_a_change_may_be_posted_with_its_outcome_when_it_is_over(api: Api) -> None:
    change = await api.change(
        "Migrate the orders database",
        change_type="database_migration",
        occurred_at=STARTED,
        ended_at=ENDED,
        outcome="succeeded",
    )
    assert (change["outcome"], change["ended_at"]) == ("succeeded", "2026-03-30T15:34:10.000Z")
