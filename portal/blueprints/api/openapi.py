"""The OpenAPI 3.1 description of the JSON API, built from the item-type registry."""
from __future__ import annotations

from typing import Any

from portal.blueprints.api.invoice_schema import SCHEMAS as INVOICE_SCHEMAS, invoice_paths
from portal.domain.types import REGISTRY


def _item_schema() -> dict:
    erp = {"type": "object", "required": ["state", "state_label", "erp_ref", "sage_message", "reject_reason"],
           "properties": {
               "state": {"type": "string", "enum": ["draft", "ready", "exporting", "synced", "failed", "rejected"]},
               "state_label": {"type": "string"}, "erp_ref": {"type": ["string", "null"]},
               "sage_message": {"type": ["string", "null"]},
               "reject_reason": {"type": ["string", "null"]}}}
    return {"type": "object", "required": ["type", "id", "values", "erp", "can_send", "prerequisites"],
            "properties": {
                "type": {"type": "string"}, "id": {"type": "integer"},
                "values": {"type": "object", "additionalProperties": True},
                "erp": erp,
                "can_send": {"type": "boolean"},
                "prerequisites": {"type": "array", "items": {"type": "string"}}}}


TOKEN_DESCRIPTION = (
    "A user's API token, acting with that user's permissions. A site administrator creates it "
    "(the Users page, or `flask users token USERNAME --name NAME --days N`) with a name and an "
    "expiry (90 days unless chosen); the secret is shown once. The user (My account) or a site "
    "administrator revokes it. An expired or revoked token is answered 401 saying so.")


def document(server: str) -> dict:
    error = {"description": "An error naming the failing field",
             "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    unauthorized = {
        "description": "No token, or a token that is not valid, has expired or was revoked; "
                       "`error` says which (for instance \"That API token expired on 2027-03-31 "
                       "12:00 UTC; ask for a new one.\" or \"That API token was revoked on ...\").",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    unavailable = {"description": "Sage 300 CRE cannot be reached right now; nothing was changed",
                   "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    errors = {"401": unauthorized, "403": error, "404": error, "409": error, "422": error, "503": unavailable}
    too_large = {"description": "The body is larger than the portal takes (MAX_CONTENT_LENGTH_MB)",
                 "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    item = {"description": "The item with its ERP state",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}}
    type_keys = [k.key for k in REGISTRY.values()]
    params = {"project_id": {"name": "project_id", "in": "path", "required": True,
                             "schema": {"type": "integer"}},
              "type_key": {"name": "type_key", "in": "path", "required": True,
                           "schema": {"type": "string", "enum": type_keys}},
              "item_id": {"name": "item_id", "in": "path", "required": True,
                          "schema": {"type": "integer"}}}
    body = {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
        "description": "The fields of the type's project-side form, by name: true ticks a box, false "
                       "and null leave a field empty; a field the type does not have is ignored."}}}}
    paths: dict[str, dict[str, Any]] = {}
    for prefix, scope_params in (("/projects/{project_id}/items/{type_key}", ["project_id", "type_key"]),
                                 ("/company/items/{type_key}", ["type_key"])):
        p = [params[n] for n in scope_params]
        paths[prefix] = {
            "get": {"summary": "List items with their ERP state", "parameters": p,
                    "responses": {"200": {"description": "Items", "content": {"application/json": {
                        "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}}}},
                        **errors}},
            "post": {"summary": "Create an item", "parameters": p, "requestBody": body,
                     "responses": {"201": item, **errors, "413": too_large}}}
        one = p + [params["item_id"]]
        paths[prefix + "/{item_id}"] = {
            "get": {"summary": "One item", "parameters": one, "responses": {"200": item, **errors}},
            "put": {"summary": "Edit a draft or rejected item", "parameters": one,
                    "requestBody": body, "responses": {"200": item, **errors, "413": too_large}}}
        paths[prefix + "/{item_id}/send"] = {"post": {
            "summary": "Send (or resend) to ERP Integrations; 422 lists the failing prerequisites",
            "parameters": one, "responses": {"200": item, **errors}}}
        paths[prefix + "/{item_id}/retrieve"] = {"post": {
            "summary": "Retrieve before accounting decides", "parameters": one,
            "responses": {"200": item, **errors}}}
    kind = {"type": "object", "required": ["type", "label", "scope", "create"], "properties": {
        "type": {"type": "string", "enum": type_keys}, "label": {"type": "string"},
        "scope": {"type": "string", "enum": ["project", "company"]},
        "create": {"type": "boolean", "description": "Whether items of the type are created through the API"}}}
    paths.update(invoice_paths(params, errors, too_large))
    paths["/types"] = {"get": {"summary": "The item types", "responses": {"200": {
        "description": "Types", "content": {"application/json": {"schema": {"type": "array", "items": kind}}}},
        "401": unauthorized}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "ERP Integrations portal API", "version": "1",
                 "description": "Send items to ERP Integrations for accounting acceptance, with "
                                "the same prerequisites, permissions and lifecycle as the portal."},
        "servers": [{"url": server}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": TOKEN_DESCRIPTION}},
            "schemas": {"Item": _item_schema(), **INVOICE_SCHEMAS, "Error": {"type": "object", "properties": {
                "error": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"},
                           "description": "The failing field and what is wrong with it"}},
                "required": ["error"]}}},
    }
