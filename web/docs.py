"""The OpenAPI document and a human-readable page made from it (no CDN, no JavaScript)."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from flask.typing import ResponseReturnValue

from web.openapi import openapi_document

bp = Blueprint("docs", __name__)


@bp.get("/api/openapi.json")
def openapi_json() -> ResponseReturnValue:
    return jsonify(openapi_document())


@bp.get("/api/docs")
def docs_page() -> ResponseReturnValue:
    return render_template("api_docs.html", doc=openapi_document())


@bp.get("/")
def home() -> ResponseReturnValue:
    return render_template("home.html", doc=openapi_document())
