"""Command-line tools: ``flask --app app stores import FILE`` and friends."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from tqdm import tqdm

from dispatch import order_store
from dispatch.couriers import CourierProfile, registered
from dispatch.products import read_products_csv
from dispatch.storage import orders as stored_orders
from dispatch.storage.catalogue import current_version, save_catalogue
from dispatch.storage.couriers import load_courier, save_courier
from dispatch.storage.tokens import ROLES, issue_token, revoke_token
from geo.catalogue import load_catalogue
from geo.distance import check_latlng
from geo.errors import CatalogueError
from web.admin import unknown_subject
from web.bodies import MAX_COURIER_ID_LEN, MAX_TTL_S, MIN_TTL_S, subject_problem
from web.params import SAFE_ID, is_safe_id
from web.services import catalogue_index, redis_client, store_keyspace

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


products_cli = AppGroup("products", help="Manage the product catalogue.")
stock_cli = AppGroup("stock", help="Manage stores' stock levels.")
couriers_cli = AppGroup("couriers", help="Manage couriers.")
tokens_cli = AppGroup("tokens", help="Issue and revoke access tokens.")


@tokens_cli.command("issue")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--subject", help="The shopper, store or courier id the token acts for.")
@click.option("--label", default="", help="A note on who holds it.")
@click.option(
    "--ttl-s",
    type=click.IntRange(MIN_TTL_S, MAX_TTL_S),
    default=None,
    help="Expire this many seconds from now (default: until revoked).",
)
def issue_command(role: str, subject: str | None, label: str, ttl_s: int | None) -> None:
    """Issue a token and print it (this is the only time it is shown)."""
    problem = subject_problem(role, subject) or unknown_subject(role, subject)
    if problem is not None:
        raise click.ClickException(f"--subject: {problem}")
    at = current_app.extensions["clock"]()
    expires_at = None if ttl_s is None else at + timedelta(seconds=ttl_s)
    try:
        principal, token = issue_token(
            redis_client(), role, subject, label=label, at=at, expires_at=expires_at
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{principal.token_id} {token}")


@tokens_cli.command("revoke")
@click.argument("token_id")
def revoke_command(token_id: str) -> None:
    """Revoke a token by its id (tok_...)."""
    if not revoke_token(redis_client(), token_id):
        raise click.ClickException(f"no token with id {token_id}")
    click.echo(f"revoked {token_id}")


@couriers_cli.command("import")
@click.argument("path", type=click.Path(path_type=Path, exists=True, dir_okay=False))
def import_couriers(path: Path) -> None:
    """Register or update couriers from a CSV with today's shifts.

    Columns: id,name,vehicle,capacity,lat,lng,shift_start,shift_end,timezone; shifts are local
    clock times today (HH:MM, 24:00 for midnight), so importing at every start keeps a demo
    fleet on shift.
    """
    client = redis_client()
    couriers: list[CourierProfile] = []
    problems: list[str] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row_number, row in enumerate(csv.DictReader(handle), start=1):
            try:
                couriers.append(courier_from_row(row, today=current_app.extensions["clock"]()))
            except (KeyError, ValueError) as exc:
                problems.append(f"row {row_number}: {exc}")
    if problems:
        for problem in problems[:50]:
            click.echo(f"  {problem}", err=True)
        raise click.ClickException(f"{len(problems)} problem(s) in {path.name}; nothing changed")
    for courier in couriers:  # a deactivated courier stays so, other days' shifts stay
        previous = load_courier(client, courier.id)
        save_courier(client, registered(courier, previous))
    click.echo(f"{len(couriers)} couriers from {path.name}")


def courier_from_row(row: dict[str, str], *, today: datetime) -> CourierProfile:
    """One CSV row as a courier whose shift is the row's clock times on ``today`` (local)."""
    zone = ZoneInfo(row["timezone"])
    day = today.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)

    def at(clock: str) -> datetime:
        hours, _, minutes = clock.partition(":")
        if not (hours.isdigit() and minutes.isdigit()) or int(minutes) > 59 or int(hours) > 24:
            msg = f"shift time {clock!r} is not HH:MM"
            raise ValueError(msg)
        return day + timedelta(hours=int(hours), minutes=int(minutes))

    if not is_safe_id(row["id"], max_length=MAX_COURIER_ID_LEN):  # the API's rule: ids are keys
        msg = f"id {row['id']!r} must be 1 to {MAX_COURIER_ID_LEN} characters matching {SAFE_ID}"
        raise ValueError(msg)
    check_latlng(float(row["lat"]), float(row["lng"]))
    return CourierProfile(
        row["id"], row["name"], row["vehicle"], int(row["capacity"]),
        at(row["shift_start"]), at(row["shift_end"]), float(row["lat"]), float(row["lng"]),
    )  # fmt: skip


@products_cli.command("import")
@click.argument("path", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--if-empty", is_flag=True, help="Only import when no products are loaded yet.")
def import_products(path: Path, if_empty: bool) -> None:
    """Replace the product catalogue with a CSV of sku,name,price_cents,category."""
    client = redis_client()
    if if_empty and stored_orders.load_products(client):
        click.echo("products already loaded")
        return
    try:
        products = read_products_csv(path)
    except ValueError as exc:
        raise click.ClickException(f"{path.name}: {exc}; nothing was imported") from exc
    click.echo(f"{stored_orders.save_products(client, products)} products from {path.name}")


@stock_cli.command("import")
@click.argument("path", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--if-empty", is_flag=True, help="Only import when no stock is recorded yet.")
def import_stock(path: Path, if_empty: bool) -> None:
    """Set stock levels from a CSV of store_id,sku,qty (all rows valid, or nothing changes)."""
    client = redis_client()
    if if_empty and stored_orders.stocked_stores(client):
        click.echo("stock already loaded")
        return
    index = catalogue_index()
    products = stored_orders.load_products(client)
    levels: dict[str, dict[str, int]] = {}
    keyspaces: dict[str, order_store.StoreKeyspace] = {}
    problems: list[str] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row_number, row in enumerate(csv.DictReader(handle), start=1):
            store_id, sku, qty = row.get("store_id") or "", row.get("sku"), row.get("qty", "")
            store = index.get(store_id)
            if store is None:
                problems.append(f"row {row_number}: store_id: unknown store {store_id!r}")
            elif sku not in products:
                problems.append(f"row {row_number}: sku: unknown sku {sku!r}")
            elif not qty.isdigit():
                problems.append(f"row {row_number}: qty: {qty!r} is not a whole number >= 0")
            else:
                levels.setdefault(store_id, {})[sku] = int(qty)
                keyspaces[store_id] = store_keyspace(store)
    if problems:
        for problem in problems[:50]:
            click.echo(f"  {problem}", err=True)
        raise click.ClickException(f"{len(problems)} problem(s) in {path.name}; nothing changed")
    for store_id, store_levels in tqdm(levels.items(), desc="stock", disable=None):
        stored_orders.set_stock(client, keyspaces[store_id], store_levels)
    click.echo(f"stock of {len(levels)} stores from {path.name}")


def register(app: Flask) -> None:
    app.cli.add_command(stores_cli)
    app.cli.add_command(products_cli)
    app.cli.add_command(stock_cli)
    app.cli.add_command(couriers_cli)
    app.cli.add_command(tokens_cli)
