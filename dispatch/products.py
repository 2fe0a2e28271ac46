"""Products: what a store can sell, with its price in the smallest currency unit."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_SKU_LENGTH = 64


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    name: str
    price_cents: int
    category: str

    def __post_init__(self) -> None:
        if not self.sku or len(self.sku) > MAX_SKU_LENGTH:
            msg = f"sku must be 1 to {MAX_SKU_LENGTH} characters"
            raise ValueError(msg)
        if not self.name:
            msg = "name must not be empty"
            raise ValueError(msg)
        if self.price_cents < 0:
            msg = "price_cents must not be negative"
            raise ValueError(msg)

    def to_record(self) -> dict[str, Any]:
        return {"sku": self.sku, "name": self.name, "price_cents": self.price_cents,
                "category": self.category}  # fmt: skip


def read_products_csv(path: Path) -> list[Product]:
    """Read ``sku,name,price_cents,category`` rows; raise ValueError naming the bad row."""
    products: list[Product] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row_number, row in enumerate(csv.DictReader(handle), start=1):
            try:
                products.append(
                    Product(
                        sku=row["sku"].strip(),
                        name=row["name"].strip(),
                        price_cents=int(row["price_cents"]),
                        category=row.get("category", "").strip(),
                    )
                )
            except (KeyError, ValueError, AttributeError) as exc:
                msg = f"row {row_number}: {exc}"
                raise ValueError(msg) from exc
    return products


def products_by_sku(products: Iterable[Product]) -> dict[str, Product]:
    return {product.sku: product for product in products}
