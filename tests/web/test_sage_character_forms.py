"""Characters Sage cannot store (outside Windows-1252, and invisible text-direction controls) are
refused wherever a text that goes to Sage is typed: the Accept forms of the types, the project-side
edit form, the JSON API. A 422 naming the field and the character; nothing changed. One table of
characters, one of places: every pair is a case. (The Sage-side forms: test_sage_page.py's BAD.)"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from portal.domain.api_tokens import create_token
from portal.domain.lifecycle import State
from tests import items as it
from tests.factories import app_session as dbs, suffix
from tests.web.pages import HX, World, text

CHARS = {"emoji": "😀", "Arabic": "م", "CJK": "中", "right-to-left override": "\u202e"}


@pytest.fixture
def world(app, sim, people):
    return World(app, sim, people)


@dataclass(frozen=True)
class Place:
    """Where a text is typed: `post(ctx, value)` makes the request and returns (response, a check
    that nothing changed); `label` is how the message names the field."""
    post: Callable
    label: str


class Ctx:
    def __init__(self, app, sim, clients, world, people):
        self.app, self.sim, self.clients, self.world, self.people = app, sim, clients, world, people

    def token(self, role: str) -> dict:
        with dbs(self.app) as s:
            return {"Authorization": f"Bearer {create_token(s, self.people[role].id, 'chars-' + suffix())}"}


def accept(key: str, field: str):
    def post(ctx: Ctx, value: str):
        item = ctx.world.item(key, State.READY)
        with dbs(ctx.app) as s:
            form = {**it.accept_data(s, ctx.sim, item), field: value}
        before = ctx.world.erp(item.erp)
        response = ctx.clients["approver"].post(it.tab_url(key, item.erp, "accept"), data=form, headers=HX)
        return response, lambda: ctx.world.erp(item.erp) == before
    return post


def edit(key: str, field: str):
    def post(ctx: Ctx, value: str):
        item = ctx.world.item(key)
        with dbs(ctx.app) as s:
            form, _ = it.edit_data(s, item)
        before = ctx.world.snapshot(key, item.id)
        response = ctx.clients[it.builder(key).admin].post(it.item_url(item, "edit"), data={**form, field: value})
        return response, lambda: ctx.world.snapshot(key, item.id) == before
    return post


def api_create(key: str, field: str):
    def post(ctx: Ctx, value: str):
        with dbs(ctx.app) as s:
            form = {**it.form_data(s, ctx.sim, key, ctx.world.home), field: value}
        before = ctx.world.count(key)
        response = ctx.app.test_client().post(f"/api/v1/projects/{ctx.world.home.pid}/items/{key}", json=form,
                                              headers=ctx.token(it.builder(key).admin))
        return response, lambda: ctx.world.count(key) == before
    return post


def api_edit(key: str, field: str):
    def post(ctx: Ctx, value: str):
        item = ctx.world.item(key)
        before = ctx.world.snapshot(key, item.id)
        response = ctx.app.test_client().put(f"/api/v1/projects/{item.pid}/items/{key}/{item.id}",
                                             json={field: value}, headers=ctx.token(it.builder(key).admin))
        return response, lambda: ctx.world.snapshot(key, item.id) == before
    return post


PLACES = {
    "accept an invoice: ERP ID": Place(accept("subcontractor_invoice", "erp_id"), "ERP ID"),
    "accept an invoice: Description": Place(accept("subcontractor_invoice", "description"), "Description"),
    "accept a vendor: ERP Vendor ID": Place(accept("vendor", "erp_vendor_id"), "ERP Vendor ID"),
    "accept a job: Sage Job ID": Place(accept("job", "sage_job_id"), "Sage Job ID"),
    "edit a job: Project Name": Place(edit("job", "name"), "Project Name"),
    "API create a sub job: Description": Place(api_create("sub_job", "name"), "Description"),
    "API edit a sub job: Sub Job Code": Place(api_edit("sub_job", "code"), "Sub Job Code"),
}


@pytest.mark.parametrize("char", CHARS.values(), ids=CHARS.keys())
@pytest.mark.parametrize("place", PLACES, ids=PLACES.keys())
def test_a_character_sage_cannot_store_is_refused_naming_field_and_character(app, sim, clients, world, people,
                                                                             place, char):
    spec = PLACES[place]
    response, unchanged = spec.post(Ctx(app, sim, clients, world, people), f"A{char}1")
    assert response.status_code == 422, (response.status_code, text(response)[:500])
    said = (f"{spec.label}: the invisible text-direction control U+{ord(char):04X} cannot be stored in Sage"
            if char == "\u202e" else
            f"{spec.label}: '{char}' (U+{ord(char):04X}) cannot be stored in Sage (Windows-1252 characters only).")
    if response.is_json:
        assert any(said in told for told in response.get_json()["fields"].values()), response.get_json()
    else:
        assert said in text(response), text(response)[:1500]
    assert unchanged()
