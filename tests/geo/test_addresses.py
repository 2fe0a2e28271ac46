"""Address search over the demo cities' OSM address data: spellings, numbers, ranking."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.addresses import AddressBook, AddressEntry, fold, load_addresses
from geo.distance import haversine_m

DATA = Path(__file__).resolve().parents[2] / "data" / "demo_addresses.csv"
BOOK = load_addresses(DATA)


def top(query: str, **options: object) -> tuple[str, str]:
    hits = BOOK.search(query, **options)  # type: ignore[arg-type]
    assert hits, f"nothing for {query!r}"
    return hits[0].match, hits[0].entry.address


@pytest.mark.parametrize(
    ("query", "address"),
    [
        ("福聯街23號", "臺中市西屯區福聯街23號"),
        ("臺中市西屯區福聯街 23 號", "臺中市西屯區福聯街23號"),
        ("40764臺中市西屯區福聯街23號", "臺中市西屯區福聯街23號"),
        ("福聯街２３號", "臺中市西屯區福聯街23號"),  # full-width digits
        ("福 聯 街 23", "臺中市西屯區福聯街23號"),
        ("No. 23, Fulian St., Taichung", "臺中市西屯區福聯街23號"),
        ("23 fulian street", "臺中市西屯區福聯街23號"),
        ("ＦＵＬＩＡＮ　ＳＴ　２３", "臺中市西屯區福聯街23號"),  # full-width letters and space
        ("台灣大道4段1650號", "臺中市西屯區臺灣大道四段1650號"),  # 台/臺, 4/四
        ("No. 1650, Taiwan Blvd. Sec. 4", "臺中市西屯區臺灣大道四段1650號"),
        ("福林路31巷 150, Taichung", "臺中市西屯區福林路31巷150號"),  # the lane, not the road
        ("竹北市光明六路41號", "新竹縣竹北市光明六路41號"),
        ("41 Guangming 6th Rd, Zhubei", "新竹縣竹北市光明六路41號"),
    ],
)
def test_a_house_is_found_in_chinese_and_latin_spellings(query: str, address: str) -> None:
    """Spacing, full-width forms, 台/臺, section numerals and abbreviations all reach the house."""
    assert top(query) == ("house", address)


def test_a_missing_number_gives_the_nearest_on_the_same_side() -> None:
    """福聯街 has 23 in the data, not 25 or 24: 25 is answered with 23 (odd side), flagged."""
    hits = BOOK.search("福聯街25號")
    assert hits[0].match == "nearest_house" and hits[0].entry.housenumber == "23"
    assert hits[0].score < BOOK.search("福聯街23號")[0].score


def test_a_street_alone_is_a_street_and_an_ordinal_tells_streets_apart() -> None:
    """Guangming 6th Road is not Guangming 1st Road; a street without number is a street."""
    match, address = top("Guangming 6th Rd")
    assert (match, address) == ("street", "新竹縣竹北市光明六路")
    assert all("光明一路" not in h.entry.address for h in BOOK.search("Guangming 6th Rd"))
    assert top("福科路") == ("street", "臺中市福科路")  # no district: OSM tags none on streets


def test_places_by_name_and_the_city_named_in_the_query() -> None:
    """A name finds its places; naming a city keeps the hits to it."""
    everywhere = BOOK.search("starbucks", limit=20)
    assert {h.entry.city for h in everywhere} == {"Taichung", "Zhubei"}
    assert all(h.match == "place" for h in everywhere)
    zhubei = BOOK.search("Starbucks Zhubei", limit=20)
    assert zhubei and {h.entry.city for h in zhubei} == {"Zhubei"}


def test_near_orders_equal_matches_by_distance_and_never_lifts_a_weaker_match() -> None:
    """Two Starbucks: the one nearer `near` first, from either city; a house still beats a
    street however far."""
    for city_centre in ((24.1852, 120.6076), (24.8352, 121.0168)):
        hits = BOOK.search("starbucks", near=city_centre, limit=5)
        distances = [h.distance_m for h in hits]
        assert distances == sorted(distances)  # type: ignore[type-var]
        assert hits[0].distance_m == min(
            haversine_m(*city_centre, h.entry.lat, h.entry.lng) for h in hits
        )
    far = (24.8352, 121.0168)  # Zhubei, 80 km away from the house asked for
    hits = BOOK.search("No. 1650, Taiwan Blvd. Sec. 4", near=far)
    assert hits[0].match == "house"


def test_limit_and_nothing_to_search() -> None:
    """At most `limit` hits, best first; punctuation alone finds nothing."""
    hits = BOOK.search("7-Eleven", limit=3)
    assert len(hits) == 3
    scores = [h.score for h in BOOK.search("7-Eleven", limit=20)]
    assert scores == sorted(scores, reverse=True)
    assert BOOK.search("!!! ，。") == []


HOUSES = [e for e in BOOK.entries if e.kind == "house"]


@settings(max_examples=150, deadline=None)
@given(house=st.sampled_from(HOUSES), spaces=st.lists(st.integers(0, 40), max_size=6),
       wide=st.booleans())  # fmt: skip
def test_every_house_of_the_data_is_found_however_it_is_spaced(
    house: AddressEntry, spaces: list[int], wide: bool
) -> None:
    """Each house's own address, with spaces put anywhere and digits made full-width, finds an
    entry at that street and number (the very house, or another mapped at the same address)."""
    text = house.address
    for at in sorted(spaces, reverse=True):
        text = text[:at] + " " + text[at:]
    if wide:
        text = text.translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"})
    hit = BOOK.search(text, limit=1)[0]
    assert hit.match == "house"
    found = (hit.entry.city, hit.entry.street, hit.entry.housenumber)
    assert found == (house.city, house.street, house.housenumber)


@given(st.text(max_size=40))
def test_folding_ignores_width_case_and_spacing(text: str) -> None:
    """NFKC width, case and spaces never change the folded form."""
    wide = unicodedata.normalize("NFKC", text)
    assert fold(text) == fold(wide) == fold(text.upper()) == fold(" ".join(text))


def test_an_empty_book_finds_nothing() -> None:
    """With no address data (ADDRESS_DATA empty) every search is empty, not an error."""
    assert AddressBook(()).search("福聯街23號") == []


def test_every_element_at_one_address_is_a_hit_and_near_orders_them() -> None:
    """Tunghai University's number: its 7-Elevens, dormitories and chapel are each a house hit
    with its own name; with `near`, the nearest of them comes first."""
    hits = BOOK.search("臺灣大道四段1727號", limit=20)
    assert len(hits) > 2 and {h.match for h in hits} == {"house"}
    assert len({h.entry.id for h in hits}) == len(hits)
    chapel = next(h.entry for h in hits if h.entry.name == "路思義教堂")
    first = BOOK.search("臺灣大道四段1727號", near=(chapel.lat, chapel.lng), limit=1)[0]
    assert first.entry.id == chapel.id and first.distance_m == 0.0
