"""The OpenAPI document and a human-readable page made from it (no CDN, no JavaScript)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, render_template
from flask.typing import ResponseReturnValue

from web.openapi import openapi_document

bp = Blueprint("docs", __name__)


def _document() -> dict[str, Any]:
    """The app's document, made once: it depends only on the routes, fixed once the app is made
    (making it walks the routes and every body model's schema, about 5 ms)."""
    document = current_app.extensions.get("openapi")
    if document is None:
        document = current_app.extensions["openapi"] = openapi_document()
    return document  # type: ignore[no-any-return]


@bp.get("/api/openapi.json")
def openapi_json() -> ResponseReturnValue:
    return jsonify(_document())


@bp.get("/api/docs")
def docs_page() -> ResponseReturnValue:
    return render_template("api_docs.html", doc=_document())


@bp.get("/")
def home() -> ResponseReturnValue:
    return render_template("home.html", doc=_document())
