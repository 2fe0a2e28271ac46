"""The product catalogue's CSV: the optional age_restricted column."""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatch.products import read_products_csv, restricted_skus
from tests.conftest import DEMO_PRODUCTS


def test_age_restricted_is_read_and_optional(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(
        "sku,name,price_cents,category,age_restricted\n"
        "beer,Beer,100,alcohol,TRUE\nwater,Water,50,drinks,\nsmokes,Cigarettes,900,tobacco,yes\n",
        encoding="utf-8",
    )
    products = {p.sku: p for p in read_products_csv(path)}
    assert restricted_skus(products) == {"beer", "smokes"}
    old = tmp_path / "old.csv"
    old.write_text("sku,name,price_cents,category\nbeer,Beer,100,alcohol\n", encoding="utf-8")
    assert not read_products_csv(old)[0].age_restricted  # a file without the column still reads


def test_a_bad_flag_names_its_row(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(
        "sku,name,price_cents,category,age_restricted\na,A,1,x,no\nb,B,1,x,perhaps\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"row 2: age_restricted must be true or false"):
        read_products_csv(path)


def test_the_demo_flags_its_beer_and_cigarettes() -> None:
    products = {p.sku: p for p in read_products_csv(DEMO_PRODUCTS)}
    assert restricted_skus(products) == {"beer-330ml", "cigarettes-20"}
