"""Entry point: ``gunicorn app:app`` in production, ``python app.py`` for a local dev server."""

from web import create_app

app = create_app()

if __name__ == "__main__":
    settings = app.config["SETTINGS"]
    print(f"serving on http://{settings.host}:{settings.port}/ (API docs at /api/docs)")
    app.run(host=settings.host, port=settings.port)
