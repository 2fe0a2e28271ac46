"""Products: what a store can sell, with its price in the smallest currency unit, and whether
the law restricts it by age (alcohol, tobacco: the courier checks the buyer's ID at the door)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_SKU_LENGTH = 64
_YES = {"true", "yes", "1", "y"}
_NO = {"false", "no", "0", "n", ""}


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    name: str
    price_cents: int
    category: str
    age_restricted: bool = False  # sold to adults only: an ID check at delivery

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
                "category": self.category, "age_restricted": self.age_restricted}  # fmt: skip


def read_flag(text: str | None) -> bool:
    """A CSV yes/no column (true/false, yes/no, 1/0; blank or absent is no)."""
    value = (text or "").strip().lower()
    if value in _YES:
        return True
    if value in _NO:
        return False
    msg = f"age_restricted must be true or false, not {value[:20]!r}"
    raise ValueError(msg)


def read_products_csv(path: Path) -> list[Product]:
    """Read ``sku,name,price_cents,category[,age_restricted]`` rows; raise ValueError naming
    the bad row."""
    products: list[Product] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row_number, row in enumerate(csv.DictReader(handle), start=1):
            try:
                products.append(
                    Product(
                        sku=row["sku"].strip(),
                        name=row["name"].strip(),
                        price_cents=int(row["price_cents"]),
                        category=(row.get("category") or "").strip(),
                        age_restricted=read_flag(row.get("age_restricted")),
                    )
                )
            except (KeyError, ValueError, AttributeError) as exc:
                msg = f"row {row_number}: {exc}"
                raise ValueError(msg) from exc
    return products


def products_by_sku(products: Iterable[Product]) -> dict[str, Product]:
    return {product.sku: product for product in products}


def restricted_skus(products: Mapping[str, Product]) -> frozenset[str]:
    return frozenset(sku for sku, product in products.items() if product.age_restricted)
