"""The operator's state store: upserts, keyset pages, deletion, and its own scope."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import KeyFactory, bearer


def item(uid: str, kind: str = "Deployment", **fields: Any) -> dict[str, Any]:
    return {
        "cluster": "prod",
        "kind": kind,
        "uid": uid,
        "namespace": "shop",
        "name": f"obj-{uid}",
        "fingerprint": f"fp-{uid}",
        "state": {"images": ["api:1"]},
        **fields,
    }


class TestOperatorState:
    async def test_upsert_then_read_back_in_pages(self, client: httpx.AsyncClient) -> None:
        items = [item(f"u{i:03d}") for i in range(7)] + [item("c1", kind="ConfigMap")]
        stored = await client.put("/api/v1/operator/objects", json={"items": items})
        assert stored.json() == {"data": {"stored": 8}}
        changed = item("u001", fingerprint="fp-new", state={"images": ["api:2"]})
        await client.put("/api/v1/operator/objects", json={"items": [changed]})
        seen: list[dict[str, Any]] = []
        after = None
        while True:
            params: dict[str, Any] = {"cluster": "prod", "limit": 3}
            if after:
                params["after"] = after
            page = (await client.get("/api/v1/operator/objects", params=params)).json()
            seen += page["data"]
            after = page["meta"]["next_after"]
            if after is None:
                break
        assert len(seen) == 8
        assert len({(s["kind"], s["uid"]) for s in seen}) == 8
        u001 = next(s for s in seen if s["uid"] == "u001")
        assert u001["fingerprint"] == "fp-new"
        assert u001["state"] == {"images": ["api:2"]}

    async def test_filter_by_kind_and_cluster(self, client: httpx.AsyncClient) -> None:
        await client.put(
            "/api/v1/operator/objects",
            json={"items": [item("a"), item("b", kind="ConfigMap"), item("c", cluster="dev")]},
        )
        page = (
            await client.get(
                "/api/v1/operator/objects", params={"cluster": "prod", "kind": "ConfigMap"}
            )
        ).json()
        assert [s["uid"] for s in page["data"]] == ["b"]

    async def test_delete_forgets(self, client: httpx.AsyncClient) -> None:
        await client.put("/api/v1/operator/objects", json={"items": [item("a")]})
        assert (
            await client.delete("/api/v1/operator/objects/prod/Deployment/a")
        ).status_code == 204
        assert (
            await client.delete("/api/v1/operator/objects/prod/Deployment/a")
        ).status_code == 404

    async def test_needs_the_operator_scope_and_stays_in_its_org(
        self, client: httpx.AsyncClient, make_key: KeyFactory
    ) -> None:
        writer = bearer(await make_key("changes:write", "changes:read"))
        response = await client.put(
            "/api/v1/operator/objects", json={"items": [item("a")]}, headers=writer
        )
        assert response.status_code == 403
        await client.put("/api/v1/operator/objects", json={"items": [item("a")]})
        other = bearer(await make_key("operator", org="other"))
        page = (await client.get("/api/v1/operator/objects?cluster=prod", headers=other)).json()
        assert page["data"] == []

    async def test_invalid_batches_are_422(self, client: httpx.AsyncClient) -> None:
        bodies: list[dict[str, Any]] = [
            {"items": []},
            {"items": [item("x", state="no")]},
            {"items": [item("x", state={"v": "x" * 70_000})]},
        ]
        for body in bodies:
            response = await client.put("/api/v1/operator/objects", json=body)
            assert response.status_code == 422
        bad_cursor = await client.get("/api/v1/operator/objects?cluster=p&after=nocursor")
        assert bad_cursor.status_code == 422
