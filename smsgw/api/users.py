"""``/api/v1/users``: an admin lists, creates and changes the people who log in to the
console (a generated password is shown once); disabling one, or resetting their password or
TOTP, ends their sessions at once."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from smsgw.access.accounts import Update
from smsgw.access.people import PASSWORD_MAX, Person, Totp
from smsgw.access.tokens import Role
from smsgw.api.context import PRINCIPAL, SERVICES
from smsgw.api.errors import ErrorBody
from smsgw.api.routes import Route, json_response, read_body


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(max_length=200, description="unique, ignoring case", examples=["Ana Pérez"])
    role: Role = Field(description="admin, supervisor, officer or operator (alerting: a token)")
    ministry: str | None = Field(
        None, max_length=64, description="officers and supervisors: required; others: none"
    )
    password: str | None = Field(
        None, max_length=PASSWORD_MAX, description="none: one is generated and answered once"
    )


class UserChange(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role | None = None
    ministry: str | None = Field(
        None, max_length=64, description="absent: kept (dropped when the role is national)"
    )
    disabled: bool | None = Field(None, description="true: they cannot log in; sessions end")
    password: str | None = Field(None, max_length=PASSWORD_MAX, description="a new one")
    reset_totp: bool = Field(False, description="they enrol TOTP again at their next log-in")


class UserView(BaseModel):
    id: str
    name: str
    role: str
    ministry: str | None
    totp: Totp
    disabled: bool
    created_at: datetime
    disabled_at: datetime | None


class UserCreated(UserView):
    password: str | None = Field(description="the generated password, shown this once")


class UserList(BaseModel):
    users: list[UserView]


def _view(person: Person) -> UserView:
    return UserView(
        id=person.id, name=person.name, role=person.role.value, ministry=person.ministry,
        totp=person.totp, disabled=person.disabled_at is not None, created_at=person.created_at,
        disabled_at=person.disabled_at,
    )  # fmt: skip


async def list_users(request: web.Request) -> web.Response:
    people = await request.app[SERVICES].accounts.people()
    return json_response(UserList(users=[_view(person) for person in people]))


async def create_user(request: web.Request) -> web.Response:
    body = await read_body(request, NewUser)
    person, generated = await request.app[SERVICES].accounts.create(
        request[PRINCIPAL], name=body.name, role=body.role, ministry=body.ministry,
        password=body.password,
    )  # fmt: skip
    created = UserCreated(**_view(person).model_dump(), password=generated)
    return json_response(created, status=201)


async def change_user(request: web.Request) -> web.Response:
    body = await read_body(request, UserChange)
    update = Update(
        role=body.role, ministry=body.ministry, ministry_given="ministry" in body.model_fields_set,
        disabled=body.disabled, password=body.password, reset_totp=body.reset_totp,
    )  # fmt: skip
    person = await request.app[SERVICES].accounts.update(
        request[PRINCIPAL], request.match_info["id"], update
    )
    return json_response(_view(person))


_ADMIN = (Role.ADMIN,)
ROUTES = [
    Route("GET", "/api/v1/users", list_users, "People who log in to the console",
          roles=_ADMIN, responses={200: UserList}),
    Route("POST", "/api/v1/users", create_user,
          "Add a person (a generated password is answered once)",
          roles=_ADMIN, body=NewUser, responses={201: UserCreated, 409: ErrorBody}),
    Route("PATCH", "/api/v1/users/{id}", change_user,
          "Change a person's role or ministry, disable them, reset their password or TOTP",
          roles=_ADMIN, body=UserChange, responses={200: UserView, 404: ErrorBody}),
]  # fmt: skip
