from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from pydantic import BaseModel


class ListMeta(BaseModel):
    total: int
    limit: int
    offset: int
    has_more: bool


class Page(BaseModel):
    limit: int
    offset: int

    def meta(self, total: int) -> ListMeta:
        return ListMeta(
            total=total,
            limit=self.limit,
            offset=self.offset,
            has_more=self.offset + self.limit < total,
        )


# async, like every dependency here: FastAPI runs a plain ``def`` on a worker thread, a hop
# that costs more than the function itself.
async def _page(
    limit: Annotated[int, Query(ge=1, le=100, description="Max results (1-100)")] = 25,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Pagination offset")] = 0,
) -> Page:
    return Page(limit=limit, offset=offset)


PageDep = Annotated[Page, Depends(_page)]
