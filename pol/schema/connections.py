"""Relay cursor connections: pages of a list with their edges, cursors and page info."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import strawberry
from strawberry.types import Info

from ..resolvers import queries
from ..resolvers.connections import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from ..resolvers.context import Context
from ..resolvers.loaders import CountKey

Item = TypeVar("Item")

PAGE_DESCRIPTION = (
    f"first/after read forward, last/before backward; at most {MAX_PAGE_SIZE} per page, "
    f"{DEFAULT_PAGE_SIZE} when neither first nor last is given. Cursors hold the sort "
    "values of their row (not an offset), so inserts elsewhere do not move a page."
)


@strawberry.type(description="Where a page lies in its list, and the cursors of its ends.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool = strawberry.field(
        description="Reading forward: true after a cursor. Reading backward: true when rows "
        "lie before the page."
    )
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type(description="One row of a page and its cursor.")
class Edge(Generic[Item]):
    cursor: str
    node: Item


@strawberry.type(description="A page of a list; totalCount counts the whole list.")
class Connection(Generic[Item]):
    count: strawberry.Private[CountKey]
    edges: list[Edge[Item]]
    page_info: PageInfo

    @classmethod
    def of(cls, connection: queries.Connection, node: Callable[[dict], Item]) -> Connection:
        """Return the GraphQL form of a page, each row made a node by `node`."""
        page = connection.page
        return cls(
            count=connection.count,
            edges=[
                Edge(cursor=cursor, node=node(row))
                for cursor, row in zip(page.cursors, page.rows, strict=True)
            ],
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=page.cursors[0] if page.cursors else None,
                end_cursor=page.cursors[-1] if page.cursors else None,
            ),
        )

    @strawberry.field(description="The page's nodes, without their cursors.")
    def nodes(self) -> list[Item]:
        return [edge.node for edge in self.edges]

    @strawberry.field(description="The number of rows of the whole list, over every page.")
    async def total_count(self, info: Info[Context, None]) -> int | None:
        return await queries.total_count(info.context, self.count)
