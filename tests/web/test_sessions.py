"""Flask's signed-cookie sessions still work though the signer is only built for a cookie."""

from __future__ import annotations

from flask import Flask, session


def test_a_session_cookie_round_trips_and_none_costs_nothing(app: Flask) -> None:
    """A session written by one request is read back by the next; a request without the cookie
    opens an empty session, and a forged cookie opens an empty one too."""

    @app.get("/test-session/<value>")
    def remember(value: str) -> dict[str, str | None]:
        seen = session.get("value")
        session["value"] = value
        return {"seen": seen}

    client = app.test_client()
    assert client.get("/test-session/a").get_json() == {"seen": None}
    assert client.get("/test-session/b").get_json() == {"seen": "a"}
    other = app.test_client()
    other.set_cookie("session", "forged.value.sig")
    assert other.get("/test-session/c").get_json() == {"seen": None}
