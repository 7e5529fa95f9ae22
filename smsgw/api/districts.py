"""``/api/v1/districts``: the country's districts, for the console's pickers and for systems
that give a subscriber's district."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from smsgw.api.context import SERVICES
from smsgw.api.routes import Route, json_response


class DistrictView(BaseModel):
    name: str
    aliases: list[str] = Field(description="other names citizens and imports may use")


class DistrictList(BaseModel):
    districts: list[DistrictView]


async def list_districts(request: web.Request) -> web.Response:
    known = request.app[SERVICES].districts
    views = [DistrictView(name=d.name, aliases=list(d.aliases)) for d in known.districts]
    return json_response(DistrictList(districts=views))


ROUTES = [
    Route("GET", "/api/v1/districts", list_districts, "The country's districts ([districts])",
          roles=(), responses={200: DistrictList}),
]  # fmt: skip
