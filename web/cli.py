"""Command-line tools: ``flask --app app stores import FILE`` and friends."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from tqdm import tqdm

from geo.catalogue import load_catalogue
from geo.errors import CatalogueError
from web.catalogue_store import current_version, save_catalogue
from web.services import redis_client

stores_cli = AppGroup("stores", help="Manage the store catalogue.")


@stores_cli.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--if-empty", is_flag=True, help="Only import when no catalogue is loaded yet.")
def import_command(path: Path, if_empty: bool) -> None:
    """Validate a GeoJSON, CSV or GeoParquet catalogue and make it the current one."""
    client = redis_client()
    existing = current_version(client)
    if if_empty and existing is not None:
        click.echo(f"catalogue v{existing.version} ({existing.count} stores) already loaded")
        return
    try:
        with tqdm(desc="validating", unit=" rows", disable=None) as bar:
            stores = load_catalogue(path, progress=bar.update)
    except CatalogueError as exc:
        for problem in exc.problems[:50]:
            click.echo(f"  row {problem.row}: {problem.field}: {problem.reason}", err=True)
        if len(exc.problems) > 50:
            click.echo(f"  ... and {len(exc.problems) - 50} more", err=True)
        raise click.ClickException(str(exc)) from exc
    with tqdm(total=len(stores), desc="saving", unit=" stores", disable=None) as bar:
        saved = save_catalogue(client, stores, source=path.name, progress=bar.update)
    click.echo(f"catalogue v{saved.version}: {saved.count} stores from {path.name}")


@stores_cli.command("status")
def status_command() -> None:
    """Show the current catalogue version."""
    version = current_version(redis_client())
    if version is None:
        click.echo("no catalogue loaded")
    else:
        click.echo(
            f"catalogue v{version.version}: {version.count} stores from {version.source}"
            f" (imported {version.imported_at})"
        )


def register(app: Flask) -> None:
    app.cli.add_command(stores_cli)
