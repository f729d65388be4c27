"""Reads what reached the Changes API, polling until the expected records are there."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

PAGE_SIZE = 100
Record = dict[str, Any]


class RecordsNotReachedError(AssertionError):
    pass


class Connection(Protocol):
    """How the API is reached when it is not simply listening locally (a port-forward)."""

    def ensure(self) -> None:
        """Make the base URL reachable, if it can be right now."""

    def reset(self) -> None:
        """The connection failed: make the next ensure() start afresh."""


@dataclass
class ChangesApi:
    base_url: str
    api_key: str
    connection: Connection | None = None

    def _client(self) -> httpx.Client:
        if self.connection is not None:
            self.connection.ensure()
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=10.0,
        )

    def list_changes(self, **filters: str | list[str]) -> list[Record]:
        """Every change matching ``filters``, oldest first (the API lists newest first)."""
        try:
            return self._list_changes(**filters)
        except httpx.TransportError:
            if self.connection is not None:
                self.connection.reset()
            raise

    def _list_changes(self, **filters: str | list[str]) -> list[Record]:
        records: list[Record] = []
        with self._client() as client:
            while True:
                params: dict[str, Any] = {**filters, "limit": PAGE_SIZE, "offset": len(records)}
                response = client.get("/api/v1/changes", params=params)
                response.raise_for_status()
                body = response.json()
                records.extend(body["data"])
                if not body["meta"]["has_more"]:
                    break
        return list(reversed(records))

    def wait_for(
        self,
        done: Callable[[list[Record]], bool],
        timeout: float = 60.0,
        **filters: str | list[str],
    ) -> list[Record]:
        """Poll until ``done(records)`` holds; on timeout, fail showing what did arrive."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                records = self.list_changes(**filters)
            except httpx.HTTPError:
                # The API may be down on purpose (a fault scenario); keep polling.
                records = []
            if done(records):
                return records
            if time.monotonic() > deadline:
                raise RecordsNotReachedError(
                    f"after {timeout:.0f}s, {filters} gave {len(records)} records:\n"
                    + "\n".join(describe(record) for record in records)
                )
            time.sleep(0.25)

    def wait_for_count(
        self, count: int, timeout: float = 60.0, **filters: str | list[str]
    ) -> list[Record]:
        return self.wait_for(lambda records: len(records) >= count, timeout, **filters)

    def healthy(self) -> bool:
        try:
            with self._client() as client:
                return client.get("/readyz").status_code == 200
        except httpx.HTTPError as error:
            if isinstance(error, httpx.TransportError) and self.connection is not None:
                self.connection.reset()
            return False


def describe(record: Mapping[str, Any]) -> str:
    return (
        f"  {record.get('change_type')}: {record.get('summary')!r} "
        f"tags={record.get('tags')} changed_by={record.get('changed_by')!r}"
    )
