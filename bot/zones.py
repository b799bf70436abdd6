"""Naming time zones the way a desk reads and types them (SPEC §3 "Reading a typed time").

One table decides both directions, so what Parley prints it also reads back:

* `PLACES`: abbreviations with one meaning. Typed, each stands for a *place* (``EDT`` is
  New York wall time, DST from zoneinfo); shown, they are printed as they are.
* `AMBIGUOUS`: abbreviations that name several zones (``CST`` is Chicago, Shanghai, Taipei
  and Havana). Typed, they are refused with the candidates; they are never printed:
  a time in such a zone is shown as ``UTC+8 Shanghai``.
* City names are the last part of IANA names (``Stockholm``, ``New York``), so a desk can
  type ``07:30 Stockholm``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import available_timezones

__all__ = [
    "AMBIGUOUS",
    "CITY_ALIASES",
    "PLACES",
    "abbreviation_zone",
    "ambiguity_message",
    "city_zone",
    "zone_label",
]

#: Abbreviations with one meaning, and the place each stands for.
PLACES: dict[str, str] = {
    "UTC": "UTC", "GMT": "UTC", "Z": "UTC",
    "ET": "America/New_York", "EST": "America/New_York", "EDT": "America/New_York",
    "CT": "America/Chicago",
    "MT": "America/Denver", "MST": "America/Denver", "MDT": "America/Denver",
    "PT": "America/Los_Angeles", "PDT": "America/Los_Angeles",
    "AKST": "America/Anchorage", "AKDT": "America/Anchorage",
    "HST": "Pacific/Honolulu", "HDT": "America/Adak",
    "ADT": "America/Halifax", "NST": "America/St_Johns", "NDT": "America/St_Johns",
    "WET": "Europe/Lisbon", "WEST": "Europe/Lisbon",
    "CET": "Europe/Paris", "CEST": "Europe/Paris",
    "EET": "Europe/Athens", "EEST": "Europe/Athens",
    "MSK": "Europe/Moscow", "IDT": "Asia/Jerusalem",
    "WAT": "Africa/Lagos", "CAT": "Africa/Maputo", "EAT": "Africa/Nairobi",
    "SAST": "Africa/Johannesburg",
    "PKT": "Asia/Karachi", "WIB": "Asia/Jakarta", "BJT": "Asia/Shanghai",
    "HKT": "Asia/Hong_Kong", "SGT": "Asia/Singapore", "JST": "Asia/Tokyo", "KST": "Asia/Seoul",
    "AWST": "Australia/Perth", "ACST": "Australia/Adelaide", "ACDT": "Australia/Adelaide",
    "AEST": "Australia/Sydney", "AEDT": "Australia/Sydney",
    "NZST": "Pacific/Auckland", "NZDT": "Pacific/Auckland", "ChST": "Pacific/Guam",
}  # fmt: skip

#: Abbreviations that name several zones: refused when typed, never printed.
AMBIGUOUS: dict[str, tuple[str, ...]] = {
    "CST": ("America/Chicago", "Asia/Shanghai", "Asia/Taipei", "America/Havana"),
    "CDT": ("America/Chicago", "America/Havana"),
    "IST": ("Asia/Kolkata", "Asia/Jerusalem", "Europe/Dublin"),
    "BST": ("Europe/London", "Asia/Dhaka"),
    "AST": ("America/Halifax", "Asia/Riyadh"),
    "PST": ("America/Los_Angeles", "Asia/Manila"),
    "SST": ("Pacific/Pago_Pago", "Asia/Singapore"),
    "GST": ("Asia/Dubai", "Atlantic/South_Georgia"),
    "ECT": ("America/Guayaquil", "Europe/Paris"),
}

#: Cities people type that are not in IANA names, and the zone each keeps.
CITY_ALIASES: dict[str, str] = {
    "beijing": "Asia/Shanghai",
    "washington": "America/New_York",
    "geneva": "Europe/Zurich",
    "delhi": "Asia/Kolkata",
    "new delhi": "Asia/Kolkata",
    "mumbai": "Asia/Kolkata",
    "san francisco": "America/Los_Angeles",
    "ottawa": "America/Toronto",
}

_PLACES_UPPER = {name.upper(): zone for name, zone in PLACES.items()}
_SHOWN = frozenset(PLACES) - {"Z", "ET", "CT", "MT", "PT", "BJT"}
# Region prefixes whose last part is not a city a person would type.
_NOT_CITIES = ("Etc/", "SystemV/", "US/", "Canada/", "Mexico/", "Brazil/", "Chile/")


def ambiguity_message(abbreviation: str, typed: str = "") -> str | None:
    """``CST could be America/Chicago, …: write the zone`` for an ambiguous one, else None.

    The example is `typed` with the abbreviation replaced by the first candidate."""
    candidates = AMBIGUOUS.get(abbreviation.upper())
    if candidates is None:
        return None
    listed = ", ".join(candidates[:-1]) + " or " + candidates[-1]
    words = [candidates[0] if w == abbreviation else w for w in typed.split()]
    example = " ".join(words) if candidates[0] in words else f"Aug 12 12:00 {candidates[0]}"
    return f"{abbreviation.upper()} could be {listed}: write the zone, e.g. {example}."


def abbreviation_zone(word: str) -> str | None:
    """The place an unambiguous abbreviation stands for (any case), else None."""
    return _PLACES_UPPER.get(word.upper())


@lru_cache(maxsize=1)
def _cities() -> dict[str, str]:
    """``new york`` / ``new_york`` -> America/New_York; links share a city, first name wins."""
    found: dict[str, str] = dict(CITY_ALIASES)
    for name in sorted(available_timezones()):
        if "/" not in name or name.startswith(_NOT_CITIES):
            continue
        city = name.rsplit("/", 1)[1].lower()
        found.setdefault(city, name)
        found.setdefault(city.replace("_", " "), name)
    return found


def city_zone(words: str) -> str | None:
    """The IANA zone of a typed city (``Stockholm``, ``new york``), else None."""
    return _cities().get(" ".join(words.split()).lower())


def _offset_text(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def _city(zone: str) -> str:
    if "/" not in zone or zone.startswith(_NOT_CITIES):
        return ""
    return zone.rsplit("/", 1)[1].replace("_", " ")


def zone_label(local: datetime, zone: str) -> str:
    """How a time in `zone` names its zone: ``EDT``, ``CEST``, ``UTC``; else ``UTC+8 Shanghai``.

    `local` is the instant already in `zone` (its ``tzname`` and offset are read).
    """
    name = local.tzname() or ""
    if name in _SHOWN:
        return name
    offset = local.utcoffset() or timedelta(0)
    if not offset and zone in ("UTC", "Etc/UTC"):
        return "UTC"
    city = _city(zone)
    return f"{_offset_text(offset)} {city}" if city else _offset_text(offset)
