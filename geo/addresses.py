"""Address search: free text to positions, over the address data of the demo cities' OSM extracts.

The data (``data/demo_addresses.csv``, from ``scripts/make_demo_addresses.py``) holds houses
(street and number), streets and named places. A query is folded first (:func:`fold`: NFKC, so
full-width digits and letters become ASCII; case; 台 as 臺; the Chinese numerals of 一段, 二路 as
digits; spaces and punctuation dropped), then read two ways:

- Chinese: the longest street name found in the text, and the number right after it
  (福林路31巷150號, 臺中市西屯區福聯街 23, 40764臺中市西屯區臺灣大道四段1650號);
- Latin: the words of a street's English name, abbreviations expanded (Rd, St, Blvd, Sec, No.),
  and a number not part of the street's own name (No. 1650, Taiwan Blvd. Sec. 4);

and against place names (全家便利商店, Starbucks). A city named in the text (Taichung, 竹北,
...) keeps the hits to that city. Scores: the house itself 1.0; a street asked without a number
0.9; a place by its whole name 0.95, by part of it less; a number the data lacks gives the
nearest number on that street (same side first: Taiwan numbers odd and even sides apart) at 0.7,
or the street at 0.5. ``near`` subtracts up to 0.1 with distance (at most 10 km), less than the
gap between two kinds of match, so it orders hits of one kind and never lifts a street over a
house.
"""

from __future__ import annotations

import csv
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from geo.distance import check_latlng, haversine_m
from geo.errors import GeoError

MAX_QUERY_LENGTH = 200
NEAR_WEIGHT = 0.1  # the most a hit's distance from ``near`` takes off its score
NEAR_SCALE_M = 10_000.0  # ... reached at this distance
ADDRESS_KINDS = ("house", "street", "place")
_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[a-z]")
_CHINESE_DIGITS = {"一": "1", "二": "2", "三": "3", "四": "4", "五": "5", "六": "6", "七": "7",
                   "八": "8", "九": "9", "十": "10"}  # fmt: skip
_NUMERAL_BEFORE_UNIT = re.compile(r"([一二三四五六七八九十])(?=[段路街])")
# 898;900 are two numbers (a space between digits is only spacing); 79之3 is 79-3
_BETWEEN_DIGITS = re.compile(
    r"(?<=\d)[^0-9a-z\u3400-\u9fff-]*[^\s0-9a-z\u3400-\u9fff-][^0-9a-z\u3400-\u9fff-]*(?=\d)"
)
_SUB_NUMBER = re.compile(r"(?<=\d)\s*之\s*(?=\d)")
_DROP = re.compile(r"[^0-9a-z\u3400-\u9fff/-]+")
_HOUSE_NUMBER = re.compile(r"^(?:no)?(\d+(?:-\d+)?)")
_WORD = re.compile(r"[0-9a-z]+")
_ABBREVIATIONS = {
    "rd": "road", "st": "street", "str": "street", "blvd": "boulevard", "bd": "boulevard",
    "ave": "avenue", "av": "avenue", "sec": "section", "ln": "lane", "aly": "alley",
    "n": "north", "s": "south", "e": "east", "w": "west",
}  # fmt: skip
_GENERIC_WORDS = frozenset({
    "road", "street", "boulevard", "avenue", "section", "lane", "alley",
    "north", "south", "east", "west", "dong", "xi", "bei", "nan",
})  # fmt: skip
_CITY_WORDS = {  # folded spellings of each demo city (and its district names) -> the city
    "Taichung": ("taichung", "臺中", "西屯", "龍井", "xitun", "longjing"),
    "Zhubei": ("zhubei", "chupei", "jhubei", "竹北", "新竹", "hsinchu"),
}


class AddressDataError(GeoError, ValueError):
    """An address data file that cannot be read."""


@dataclass(frozen=True, slots=True)
class AddressEntry:
    """One row of the address data: a house, a street or a named place, with its position."""

    id: str
    kind: str
    city: str
    city_zh: str
    district: str
    street: str
    street_en: str
    housenumber: str
    name: str
    name_en: str
    lat: float
    lng: float

    def __post_init__(self) -> None:
        if self.kind not in ADDRESS_KINDS:
            msg = f"kind must be one of {', '.join(ADDRESS_KINDS)}"
            raise ValueError(msg)
        check_latlng(self.lat, self.lng)

    @property
    def address(self) -> str:
        """The normalised address as written in Taiwan: city, district, street, number 號."""
        number = f"{self.housenumber}號" if self.housenumber else ""
        street = f"{self.street}{number}"
        if self.kind == "place" and not self.street:
            street = self.name
        district = "" if self.district in self.city_zh else self.district
        return f"{self.city_zh}{district}{street}"

    @property
    def address_en(self) -> str:
        """The address in Latin letters where the data has the street's English name."""
        if not self.street_en:
            return ""
        number = f"No. {self.housenumber}, " if self.housenumber else ""
        return f"{number}{self.street_en}, {self.city}"


@dataclass(frozen=True, slots=True)
class AddressHit:
    """A search result: the entry, how it matched, its score in [0, 1] and, with ``near``, the
    distance from that point in metres."""

    entry: AddressEntry
    match: str  # house | nearest_house | street | place
    score: float
    distance_m: float | None = None


def fold(text: str) -> str:
    """The form queries and data are compared in (see the module)."""
    text = unicodedata.normalize("NFKC", text).casefold().replace("台", "臺").replace("号", "號")
    text = _DROP.sub("", _BETWEEN_DIGITS.sub("/", _SUB_NUMBER.sub("-", text)))
    return _NUMERAL_BEFORE_UNIT.sub(lambda m: _CHINESE_DIGITS[m.group(1)], text)


def _words(text: str) -> list[str]:
    """A Latin text's words, abbreviations expanded (an ordinal such as 6th stays a word: it
    tells Guangming 6th Road from Guangming 1st Road)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return [_ABBREVIATIONS.get(word, word) for word in _WORD.findall(folded)]


def _number_key(housenumber: str) -> tuple[int, str]:
    """(the leading whole number, the folded number) of a house number such as ``6-1``."""
    folded = fold(housenumber).removesuffix("號")
    digits = re.match(r"\d+", folded)
    return (int(digits.group()) if digits else -1), folded


class AddressBook:
    """The address data, searchable; immutable."""

    def __init__(self, entries: Iterable[AddressEntry]) -> None:
        self.entries: tuple[AddressEntry, ...] = tuple(entries)
        self._streets: dict[tuple[str, str], AddressEntry] = {}  # (city, folded street) ->
        self._houses: dict[tuple[str, str], list[AddressEntry]] = {}  # same key -> houses
        self._street_words: list[tuple[AddressEntry, list[str]]] = []
        self._places: list[tuple[AddressEntry, str, str]] = []  # entry, folded name, name_en
        for entry in self.entries:
            key = (entry.city, fold(entry.street))
            if entry.kind == "street":
                self._streets[key] = entry
                if entry.street_en:
                    self._street_words.append((entry, _words(entry.street_en)))
            elif entry.kind == "house":
                self._houses.setdefault(key, []).append(entry)
            if entry.name:
                self._places.append((entry, fold(entry.name), fold(entry.name_en)))
        for (city, street), houses in self._houses.items():
            if (city, street) not in self._streets:  # a house's street no way is named after
                first = houses[0]
                self._streets[city, street] = AddressEntry(
                    f"street-{city.lower()}-{first.street}", "street", city, first.city_zh, "",
                    first.street, first.street_en, "", "", "", first.lat, first.lng,
                )  # fmt: skip

    def __len__(self) -> int:
        return len(self.entries)

    def search(
        self, query: str, *, limit: int = 5, near: tuple[float, float] | None = None
    ) -> list[AddressHit]:
        """The best ``limit`` hits for ``query``, best first (ties: nearer ``near``, then the
        address, then the data's order); nothing when the query has no letter or digit."""
        folded = fold(query)
        if not folded:
            return []
        cities = {city for city, words in _CITY_WORDS.items() if any(w in folded for w in words)}
        found: dict[str, AddressHit] = {}

        def add(hit: AddressHit) -> None:
            if cities and hit.entry.city not in cities:
                return
            key = f"{hit.entry.id}|{hit.entry.housenumber}"
            if key not in found or found[key].score < hit.score:
                found[key] = hit

        if _CJK.search(folded):
            for hit in self._chinese_street_hits(folded):
                add(hit)
        if _LATIN.search(folded):
            for hit in self._latin_street_hits(_words(query)):
                add(hit)
        for hit in self._place_hits(folded):
            add(hit)
        hits = list(found.values())
        if near is not None:
            hits = [_with_distance(hit, near) for hit in hits]
        # stable: equal hits at one address keep the data's order
        hits.sort(key=lambda h: (-_rank_score(h), h.distance_m or 0.0, h.entry.address))
        return hits[:limit]

    def _chinese_street_hits(self, folded: str) -> list[AddressHit]:
        matches = [(key, entry) for key, entry in self._streets.items() if key[1] in folded]
        # 福林路31巷 found: 福林路 inside it is not a second answer
        longest = [
            (key, entry)
            for key, entry in matches
            if not any(key[1] != other[1] and key[1] in other[1] for other, _ in matches)
        ]
        hits = []
        for key, street in longest:
            after = folded[folded.index(key[1]) + len(key[1]) :]
            number = _HOUSE_NUMBER.match(after)
            hits += self._house_or_street(key, street, number.group(1) if number else None)
        return hits

    def _latin_street_hits(self, words: list[str]) -> list[AddressHit]:
        hits = []
        for street, name_words in self._street_words:
            distinctive = [w for w in name_words if w not in _GENERIC_WORDS and not w.isdigit()]
            if not distinctive or not all(w in words for w in distinctive):
                continue
            rest = list(words)
            for word in name_words:  # the street's own words, its section number too
                if word in rest:
                    rest.remove(word)
            numbers = [w for w in rest if _HOUSE_NUMBER.fullmatch(w)]
            share = sum(w in words for w in name_words) / len(name_words)
            found = self._house_or_street(
                (street.city, fold(street.street)), street, numbers[0] if numbers else None
            )
            hits += [AddressHit(h.entry, h.match, round(h.score * share, 4)) for h in found]
        return hits

    def _house_or_street(
        self, key: tuple[str, str], street: AddressEntry, number: str | None
    ) -> list[AddressHit]:
        """Every element mapped at that number (a hospital's shops: each with its name, in the
        data's order), else the nearest number, else the street."""
        if number is None:
            return [AddressHit(street, "street", 0.9)]
        houses = self._houses.get(key, [])
        wanted_value, wanted = _number_key(number)
        exact = [h for h in houses if _number_key(h.housenumber)[1] == wanted]
        if exact:
            return [AddressHit(house, "house", 1.0) for house in exact]
        numbered = [(h, _number_key(h.housenumber)[0]) for h in houses]
        numbered = [(h, value) for h, value in numbered if value >= 0]
        if numbered:
            nearest, _ = min(
                numbered,
                key=lambda pair: ((pair[1] - wanted_value) % 2 != 0,
                                  abs(pair[1] - wanted_value), pair[0].housenumber),
            )  # fmt: skip
            return [AddressHit(nearest, "nearest_house", 0.7)]
        return [AddressHit(street, "street", 0.5)]

    def _place_hits(self, folded: str) -> list[AddressHit]:
        hits = []
        for entry, name, name_en in self._places:
            best = 0.0
            for candidate in (name, name_en):
                if not candidate or len(candidate) < 2:
                    continue
                if candidate == folded:
                    best = max(best, 0.95)
                elif candidate in folded or folded in candidate:
                    shorter, longer = sorted((len(candidate), len(folded)))
                    best = max(best, round(0.8 * shorter / longer, 4))
            if best > 0:
                hits.append(AddressHit(entry, "place", best))
        return hits


def _with_distance(hit: AddressHit, near: tuple[float, float]) -> AddressHit:
    metres = haversine_m(near[0], near[1], hit.entry.lat, hit.entry.lng)
    return AddressHit(hit.entry, hit.match, hit.score, metres)


def _rank_score(hit: AddressHit) -> float:
    if hit.distance_m is None:
        return hit.score
    return hit.score - NEAR_WEIGHT * min(1.0, hit.distance_m / NEAR_SCALE_M)


def load_addresses(path: Path) -> AddressBook:
    """Read an address data file (CSV, ``#`` lines are comments) into a book."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            lines = (line for line in handle if not line.startswith("#"))
            rows = list(csv.DictReader(lines))
    except OSError as exc:
        msg = f"cannot read address data {path}: {exc}"
        raise AddressDataError(msg) from exc
    return AddressBook(_entries(rows, path))


def _entries(rows: Sequence[dict[str, str]], path: Path) -> Iterable[AddressEntry]:
    for line, row in enumerate(rows, start=2):
        try:
            lat, lng = float(row["lat"]), float(row["lng"])
            if not (math.isfinite(lat) and math.isfinite(lng)):
                msg = "lat and lng must be finite"
                raise ValueError(msg)
            yield AddressEntry(
                row["id"], row["kind"], row["city"], row["city_zh"], row["district"],
                row["street"], row["street_en"], row["housenumber"], row["name"],
                row["name_en"], lat, lng,
            )  # fmt: skip
        except (KeyError, ValueError, TypeError) as exc:
            msg = f"{path.name} row {line}: {exc}"
            raise AddressDataError(msg) from exc
