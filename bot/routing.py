"""Administrative units → the team that serves them, read from ``config/directory.yml``.

Operations edit the directory file; this module refuses a file with an unknown unit,
a province without a team or a duplicate entry (naming the file and line), so a
typo never leaves half the country unrouted. Every decision carries the rule that
made it (``restricted-zone:<id>``, ``staff-in-zone:<ward>:<zone>``, ``ward:<code>``,
``province:<code>``), stored on the request so a team can ask "why me?".

Order of rules (plan §3): a customer inside an active restricted (quarantine) zone is
served through that area's local management unit; a ward whose responsible staff
member is inside a restricted zone hands over to the province's rapid-response team;
a ward with its own sales force, store, agent or point of sale gets it; otherwise the
province team.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from bot.text import fold

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIRECTORY = ROOT / "config" / "directory.yml"
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

PROVINCE = "province"
RAPID_RESPONSE = "rapid_response"
LOCAL_MANAGEMENT = "local_management"
WARD_KINDS = frozenset({"ward_sales", "store", "agent", "point_of_sale"})
TEAM_KINDS = frozenset({PROVINCE, RAPID_RESPONSE, LOCAL_MANAGEMENT}) | WARD_KINDS

# Staff-facing notes stored on the request and shown to the team (not customer text).
NOTE_RESTRICTED = "Khu vực hạn chế {zone}: giao SIM qua đơn vị quản lý địa bàn {unit}{contact}"
NOTE_STAFF_IN_ZONE = (
    "Nhân viên phụ trách {ward} ({staff}) đang ở khu vực hạn chế {zone}: chuyển đội phản ứng nhanh"
)

_TEAM_ID = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,63}")
_UNIT_PREFIX = re.compile(
    r"^(thanh pho|tinh|quan|huyen|thi xa|thi tran|phuong|xa|tp\.?|q\.|h\.|tx\.?)\s+"
)


# -- official units ------------------------------------------------------------------
# Read from the vietnamadminunits package data (the official GSO codes). bot.address
# wraps the same data for free-text resolution; routing only needs code lists.


def _admin_query(sql: str) -> list[dict[str, Any]]:
    from vietnamadminunits.database.main import query

    return query(sql)


@lru_cache(maxsize=1)
def official_provinces() -> dict[str, str]:
    """The 34 provinces in force since 1 July 2025: code → short name."""
    rows = _admin_query(
        "SELECT DISTINCT provinceCode, provinceShort FROM admin_units ORDER BY provinceCode"
    )
    return {r["provinceCode"]: r["provinceShort"] for r in rows}


@lru_cache(maxsize=1)
def official_wards() -> dict[str, tuple[str, str]]:
    """Ward/commune code → (province code, full ward name), current structure."""
    rows = _admin_query("SELECT DISTINCT wardCode, ward, provinceCode FROM admin_units")
    return {r["wardCode"]: (r["provinceCode"], r["ward"]) for r in rows}


@lru_cache(maxsize=1)
def legacy_districts() -> dict[str, tuple[str, str]]:
    """Old (pre-2025) district code → (old province short name, district full name)."""
    rows = _admin_query(
        "SELECT DISTINCT districtCode, district, provinceShort FROM admin_units_legacy"
    )
    return {r["districtCode"]: (r["provinceShort"], r["district"]) for r in rows}


def unit_key(name: object) -> str:
    """Fold an administrative name so "Quận Ba Đình", "ba dinh", "Q. Ba Đình" agree."""
    text = " ".join(fold(str(name or "")).replace("-", " ").split())
    previous = None
    while previous != text:
        previous = text
        text = _UNIT_PREFIX.sub("", text)
    return text


# -- model ---------------------------------------------------------------------------


class DirectoryError(ValueError):
    """The directory file is invalid; the message names the file and the line."""


class RoutingError(Exception):
    """A request's units cannot be routed."""


class UnknownUnit(RoutingError):
    """The units name a province the directory does not know."""


@dataclass(frozen=True)
class Staff:
    """The named staff member responsible for a ward entry."""

    name: str
    phone: str | None = None
    # A restricted zone id, or "*" for "flagged until operations clear it".
    inside_zone: str | None = None


@dataclass(frozen=True)
class Team:
    """Anyone a request can be routed to, with where to notify them."""

    id: str
    name: str
    kind: str
    province_code: str
    region_id: str | None = None
    chat_id: int | None = None
    escalation_chat_id: int | None = None
    contact: str | None = None


@dataclass(frozen=True)
class Region:
    """A regional service company (CTKV)."""

    id: str
    name: str
    chat_id: int | None = None


@dataclass(frozen=True)
class ProvinceEntry:
    code: str
    name: str
    region_id: str
    team_id: str
    rapid_response_id: str


@dataclass(frozen=True)
class WardEntry:
    code: str
    name: str
    province_code: str
    team_id: str
    staff: Staff | None = None


@dataclass(frozen=True)
class RestrictedZone:
    """A ward, or a whole old district, under restriction between two local dates."""

    id: str
    province_code: str
    local_unit_id: str
    start: date
    end: date | None = None
    ward_code: str | None = None
    old_district_code: str | None = None
    old_province_key: str | None = None
    old_district_key: str | None = None
    note: str | None = None

    def active(self, on: date) -> bool:
        return self.start <= on and (self.end is None or on <= self.end)

    def contains(self, province_code: str, units: Mapping[str, object]) -> bool:
        if province_code != self.province_code:
            return False
        if self.ward_code is not None:
            return str(units.get("ward_code") or "") == self.ward_code
        code = str(units.get("old_district_code") or "")
        if code:
            return code == self.old_district_code
        if unit_key(units.get("old_district_name")) != self.old_district_key:
            return False
        old_province = unit_key(units.get("old_province_name"))
        return not old_province or old_province == self.old_province_key


@dataclass(frozen=True)
class RouteDecision:
    """Who serves the request and why."""

    team: Team
    rule: str
    province_code: str
    province_name: str
    delivery_note: str | None = None
    zone_id: str | None = None


@dataclass(frozen=True)
class Directory:
    """A fully validated directory; built only by :func:`parse_directory`."""

    source: str
    regions: Mapping[str, Region]
    teams: Mapping[str, Team]
    provinces: Mapping[str, ProvinceEntry]
    wards: Mapping[str, WardEntry]
    zones: Mapping[str, RestrictedZone]
    _zones_by_province: Mapping[str, tuple[RestrictedZone, ...]] = field(
        default_factory=dict, repr=False
    )

    def team(self, team_id: str) -> Team:
        return self.teams[team_id]

    def province_team(self, code: str) -> Team:
        return self.teams[self.provinces[code].team_id]

    def rapid_response_team(self, code: str) -> Team:
        return self.teams[self.provinces[code].rapid_response_id]

    def chat_for(self, team_id: str) -> int | None:
        """The team's own chat, else its province team's (ward forces and local
        management units often have none)."""
        team = self.teams.get(team_id)
        if team is None:
            return None
        if team.chat_id is not None:
            return team.chat_id
        province = self.provinces.get(team.province_code)
        return self.teams[province.team_id].chat_id if province else None

    def escalation_chat_for(self, team_id: str) -> int | None:
        """Where unanswered requests of this team go: its own escalation chat, else the
        province team's, else the regional company's chat."""
        team = self.teams.get(team_id)
        if team is None:
            return None
        if team.escalation_chat_id is not None:
            return team.escalation_chat_id
        province = self.provinces.get(team.province_code)
        if province is None:
            return None
        province_team = self.teams[province.team_id]
        if province_team.escalation_chat_id is not None:
            return province_team.escalation_chat_id
        region = self.regions.get(province.region_id)
        return region.chat_id if region else None

    def route(self, units: Mapping[str, object], on: date | None = None) -> RouteDecision:
        """The team for a customer at ``units`` (a Resolution dict) on local date ``on``."""
        on = on or datetime.now(LOCAL_TZ).date()
        code = str(units.get("province_code") or "").strip()
        province = self.provinces.get(code)
        if province is None:
            raise UnknownUnit(f"no team for province code {code!r}")
        for zone in self._zones_by_province.get(code, ()):
            if zone.active(on) and zone.contains(code, units):
                unit = self.teams[zone.local_unit_id]
                contact = f" ({unit.contact})" if unit.contact else ""
                return RouteDecision(
                    team=unit,
                    rule=f"restricted-zone:{zone.id}",
                    province_code=code,
                    province_name=province.name,
                    delivery_note=NOTE_RESTRICTED.format(
                        zone=zone.id, unit=unit.name, contact=contact
                    ),
                    zone_id=zone.id,
                )
        ward_code = str(units.get("ward_code") or "").strip()
        ward = self.wards.get(ward_code) if ward_code else None
        if ward is not None and ward.province_code == code:
            zone_id = self._staff_zone(ward.staff, on)
            if zone_id is not None:
                assert ward.staff is not None
                return RouteDecision(
                    team=self.teams[province.rapid_response_id],
                    rule=f"staff-in-zone:{ward.code}:{zone_id}",
                    province_code=code,
                    province_name=province.name,
                    delivery_note=NOTE_STAFF_IN_ZONE.format(
                        ward=ward.name, staff=ward.staff.name, zone=zone_id
                    ),
                    zone_id=None if zone_id == "*" else zone_id,
                )
            return RouteDecision(
                team=self.teams[ward.team_id],
                rule=f"ward:{ward.code}",
                province_code=code,
                province_name=province.name,
            )
        return RouteDecision(
            team=self.teams[province.team_id],
            rule=f"province:{code}",
            province_code=code,
            province_name=province.name,
        )

    def _staff_zone(self, staff: Staff | None, on: date) -> str | None:
        if staff is None or staff.inside_zone is None:
            return None
        if staff.inside_zone == "*":
            return "*"
        zone = self.zones[staff.inside_zone]
        return zone.id if zone.active(on) else None


def route(
    units: Mapping[str, object], directory: Directory | None = None, on: date | None = None
) -> RouteDecision:
    """Route with ``directory`` (default: the shipped ``config/directory.yml``)."""
    return (directory or default_directory()).route(units, on=on)


@lru_cache(maxsize=1)
def default_directory() -> Directory:
    return load_directory()


# -- loading and validation ----------------------------------------------------------


def load_directory(path: str | Path | None = None) -> Directory:
    """Load and validate a directory file; raise DirectoryError naming file and line."""
    # DIRECTORY_PATH lets every process (actions, console, dispatcher) share one edited copy.
    file = (
        Path(path)
        if path is not None
        else Path(os.environ.get("DIRECTORY_PATH") or DEFAULT_DIRECTORY)
    )
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise DirectoryError(f"{file}: cannot read: {exc}") from exc
    return parse_directory(text, source=str(file))


def parse_directory(text: str, source: str = "<directory>") -> Directory:
    """Validate the whole text first; a Directory exists only if everything is valid."""
    yaml = YAML(typ="rt")
    try:
        document = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise DirectoryError(f"{source}:{line}: {exc.problem or exc.context}") from exc
    except YAMLError as exc:
        raise DirectoryError(f"{source}: {exc}") from exc
    return _Parser(source).parse(document)


def _line(node: Any, key: object | None = None, index: int | None = None) -> int:
    """1-based line of a mapping key / sequence item / node, 0 when unknown."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return 0
    try:
        if key is not None:
            return int(lc.key(key)[0]) + 1
        if index is not None:
            return int(lc.item(index)[0]) + 1
        return int(lc.line) + 1
    except (KeyError, IndexError, TypeError, AttributeError):
        return int(getattr(lc, "line", -1)) + 1


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.regions: dict[str, Region] = {}
        self.teams: dict[str, Team] = {}
        self.team_lines: dict[str, int] = {}
        self.provinces: dict[str, ProvinceEntry] = {}
        self.wards: dict[str, WardEntry] = {}
        self.zones: dict[str, RestrictedZone] = {}
        # Deferred checks: (line, team id, expected kinds or None) references to teams.
        self.team_refs: list[tuple[int, str, frozenset[str] | None]] = []
        self.zone_refs: list[tuple[int, str]] = []

    def fail(self, line: int, message: str) -> DirectoryError:
        return DirectoryError(f"{self.source}:{line}: {message}")

    # generic field readers

    def mapping(self, node: Any, line: int, what: str) -> Mapping[str, Any]:
        if not isinstance(node, Mapping):
            raise self.fail(line, f"{what} must be a mapping")
        return node

    def sequence(self, doc: Mapping[str, Any], key: str, required: bool = False) -> list[Any]:
        node = doc.get(key)
        if node is None:
            if required:
                raise self.fail(_line(doc), f"missing '{key}'")
            return []
        if not isinstance(node, list):
            raise self.fail(_line(doc, key), f"'{key}' must be a list")
        return node

    def string(self, node: Mapping[str, Any], key: str, required: bool = True) -> str | None:
        value = node.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise self.fail(_line(node), f"missing '{key}'")
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise self.fail(_line(node, key), f"'{key}' must be text")
        return str(value).strip()

    def code(self, node: Mapping[str, Any], key: str, width: int) -> str | None:
        value = node.get(key)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            # YAML reads an unquoted 01 as the integer 1; put the zeros back.
            return str(value).zfill(width)
        if not isinstance(value, str):
            raise self.fail(_line(node, key), f"'{key}' must be a code")
        return value.strip()

    def chat(self, node: Mapping[str, Any], key: str) -> int | None:
        value = node.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(_line(node, key), f"'{key}' must be a Telegram chat id (integer)")
        return int(value)

    def day(self, node: Mapping[str, Any], key: str, required: bool) -> date | None:
        value = node.get(key)
        if value is None:
            if required:
                raise self.fail(_line(node), f"missing '{key}'")
            return None
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise self.fail(_line(node, key), f"'{key}' must be a date YYYY-MM-DD") from None

    def check_keys(self, node: Mapping[str, Any], allowed: set[str], what: str) -> None:
        for key in node:
            if key not in allowed:
                raise self.fail(
                    _line(node, key),
                    f"unknown field '{key}' in {what} (allowed: {', '.join(sorted(allowed))})",
                )

    # teams

    def team(
        self,
        node: Any,
        line: int,
        *,
        province_code: str,
        region_id: str | None,
        default_kind: str | None,
        kinds: frozenset[str] | None,
    ) -> str:
        """An inline team mapping (registered) or the id of a team defined elsewhere."""
        if isinstance(node, str):
            self.team_refs.append((line, node.strip(), kinds))
            return node.strip()
        team_node = self.mapping(node, line, "team")
        self.check_keys(
            team_node,
            {"id", "name", "kind", "province", "chat_id", "escalation_chat_id", "contact"},
            "team",
        )
        team_id = self.string(team_node, "id") or ""
        if not _TEAM_ID.fullmatch(team_id):
            raise self.fail(
                _line(team_node, "id"),
                f"team id {team_id!r} must be lower-case letters, digits, '-', '_' or '.'",
            )
        if team_id in self.teams:
            raise self.fail(
                _line(team_node, "id"),
                f"duplicate team id {team_id!r} (first defined on line {self.team_lines[team_id]})",
            )
        kind = self.string(team_node, "kind", required=default_kind is None) or default_kind
        assert kind is not None
        if kind not in TEAM_KINDS or (kinds is not None and kind not in kinds):
            allowed = sorted(kinds or TEAM_KINDS)
            raise self.fail(
                _line(team_node, "kind") or _line(team_node),
                f"team {team_id!r}: kind {kind!r} not allowed here ({', '.join(allowed)})",
            )
        self.teams[team_id] = Team(
            id=team_id,
            name=self.string(team_node, "name") or "",
            kind=kind,
            province_code=province_code,
            region_id=region_id,
            chat_id=self.chat(team_node, "chat_id"),
            escalation_chat_id=self.chat(team_node, "escalation_chat_id"),
            contact=self.string(team_node, "contact", required=False),
        )
        self.team_lines[team_id] = _line(team_node)
        return team_id

    # sections

    def parse(self, document: Any) -> Directory:
        doc = self.mapping(document, 1, "the directory")
        self.check_keys(
            doc,
            {"version", "regions", "teams", "provinces", "wards", "restricted_zones"},
            "the directory",
        )
        if doc.get("version", 1) != 1:
            raise self.fail(_line(doc, "version"), "unsupported directory version")
        self.parse_regions(doc)
        self.parse_provinces(doc)
        self.parse_shared_teams(doc)
        self.parse_zones(doc)
        self.parse_wards(doc)
        self.resolve_references()
        by_province: dict[str, list[RestrictedZone]] = {}
        for zone in self.zones.values():
            by_province.setdefault(zone.province_code, []).append(zone)
        return Directory(
            source=self.source,
            regions=self.regions,
            teams=self.teams,
            provinces=self.provinces,
            wards=self.wards,
            zones=self.zones,
            _zones_by_province={k: tuple(v) for k, v in by_province.items()},
        )

    def parse_regions(self, doc: Mapping[str, Any]) -> None:
        items = self.sequence(doc, "regions", required=True)
        for index, raw in enumerate(items):
            node = self.mapping(raw, _line(items, index=index), "a region")
            self.check_keys(node, {"id", "name", "chat_id"}, "region")
            region_id = self.string(node, "id") or ""
            if region_id in self.regions:
                raise self.fail(_line(node, "id"), f"duplicate region {region_id!r}")
            self.regions[region_id] = Region(
                id=region_id,
                name=self.string(node, "name") or "",
                chat_id=self.chat(node, "chat_id"),
            )

    def parse_provinces(self, doc: Mapping[str, Any]) -> None:
        official = official_provinces()
        items = self.sequence(doc, "provinces", required=True)
        lines: dict[str, int] = {}
        for index, raw in enumerate(items):
            node = self.mapping(raw, _line(items, index=index), "a province")
            self.check_keys(node, {"code", "name", "region", "team", "rapid_response"}, "province")
            code = self.code(node, "code", 2)
            if not code:
                raise self.fail(_line(node), "province without 'code'")
            if code not in official:
                raise self.fail(
                    _line(node, "code"),
                    f"unknown province code {code!r} (not one of the 34 current provinces)",
                )
            if code in lines:
                raise self.fail(
                    _line(node, "code"),
                    f"duplicate province {code} (first listed on line {lines[code]})",
                )
            lines[code] = _line(node, "code")
            region_id = self.string(node, "region") or ""
            if region_id not in self.regions:
                raise self.fail(_line(node, "region"), f"unknown region {region_id!r}")
            if node.get("team") is None:
                raise self.fail(_line(node), f"province {code} ({official[code]}) has no team")
            if node.get("rapid_response") is None:
                raise self.fail(
                    _line(node), f"province {code} ({official[code]}) has no rapid_response team"
                )
            team_id = self.team(
                node["team"],
                _line(node, "team"),
                province_code=code,
                region_id=region_id,
                default_kind=PROVINCE,
                kinds=frozenset({PROVINCE}),
            )
            rr_id = self.team(
                node["rapid_response"],
                _line(node, "rapid_response"),
                province_code=code,
                region_id=region_id,
                default_kind=RAPID_RESPONSE,
                kinds=frozenset({RAPID_RESPONSE}),
            )
            self.provinces[code] = ProvinceEntry(
                code=code,
                name=official[code],
                region_id=region_id,
                team_id=team_id,
                rapid_response_id=rr_id,
            )
        missing = [f"{code} {name}" for code, name in official.items() if code not in lines]
        if missing:
            raise self.fail(
                _line(doc, "provinces"), "provinces without a team: " + ", ".join(missing)
            )

    def parse_shared_teams(self, doc: Mapping[str, Any]) -> None:
        """Teams serving several wards (a store, an agent) defined once and referenced."""
        items = self.sequence(doc, "teams")
        for index, raw in enumerate(items):
            node = self.mapping(raw, _line(items, index=index), "a team")
            province = self.code(node, "province", 2)
            if province not in self.provinces:
                raise self.fail(
                    _line(node, "province") or _line(node),
                    f"team needs a known 'province' code, got {province!r}",
                )
            self.team(
                node,
                _line(node),
                province_code=province,
                region_id=self.provinces[province].region_id,
                default_kind=None,
                kinds=WARD_KINDS | {LOCAL_MANAGEMENT},
            )

    def parse_zones(self, doc: Mapping[str, Any]) -> None:
        wards = official_wards()
        districts = legacy_districts()
        items = self.sequence(doc, "restricted_zones")
        for index, raw in enumerate(items):
            node = self.mapping(raw, _line(items, index=index), "a restricted zone")
            self.check_keys(
                node,
                {"id", "ward", "old_district", "province", "from", "to", "local_unit", "note"},
                "restricted zone",
            )
            zone_id = self.string(node, "id") or ""
            if zone_id in self.zones:
                raise self.fail(_line(node, "id"), f"duplicate restricted zone {zone_id!r}")
            ward_code = self.code(node, "ward", 5)
            district_code = self.code(node, "old_district", 3)
            if (ward_code is None) == (district_code is None):
                raise self.fail(
                    _line(node), f"zone {zone_id!r}: give exactly one of 'ward' or 'old_district'"
                )
            province = self.code(node, "province", 2)
            old_province_key = old_district_key = None
            if ward_code is not None:
                if ward_code not in wards:
                    raise self.fail(_line(node, "ward"), f"unknown ward code {ward_code!r}")
                ward_province = wards[ward_code][0]
                if province is not None and province != ward_province:
                    raise self.fail(
                        _line(node, "province"),
                        f"ward {ward_code} is in province {ward_province}, not {province}",
                    )
                province = ward_province
            else:
                assert district_code is not None
                if district_code not in districts:
                    raise self.fail(
                        _line(node, "old_district"),
                        f"unknown old district code {district_code!r}",
                    )
                if province not in self.provinces:
                    raise self.fail(
                        _line(node, "province") or _line(node),
                        f"zone {zone_id!r}: an old district needs the current 'province' code",
                    )
                old_province, old_district = districts[district_code]
                old_province_key, old_district_key = unit_key(old_province), unit_key(old_district)
            assert province is not None
            start = self.day(node, "from", required=True)
            end = self.day(node, "to", required=False)
            assert start is not None
            if end is not None and end < start:
                raise self.fail(_line(node, "to"), f"zone {zone_id!r} ends before it starts")
            if node.get("local_unit") is None:
                raise self.fail(_line(node), f"zone {zone_id!r} has no 'local_unit'")
            unit_id = self.team(
                node["local_unit"],
                _line(node, "local_unit"),
                province_code=province,
                region_id=self.provinces[province].region_id,
                default_kind=LOCAL_MANAGEMENT,
                kinds=frozenset({LOCAL_MANAGEMENT}),
            )
            self.zones[zone_id] = RestrictedZone(
                id=zone_id,
                province_code=province,
                local_unit_id=unit_id,
                start=start,
                end=end,
                ward_code=ward_code,
                old_district_code=district_code,
                old_province_key=old_province_key,
                old_district_key=old_district_key,
                note=self.string(node, "note", required=False),
            )

    def parse_wards(self, doc: Mapping[str, Any]) -> None:
        wards = official_wards()
        items = self.sequence(doc, "wards")
        lines: dict[str, int] = {}
        for index, raw in enumerate(items):
            node = self.mapping(raw, _line(items, index=index), "a ward entry")
            self.check_keys(node, {"code", "name", "province", "team", "staff"}, "ward entry")
            code = self.code(node, "code", 5)
            if not code or code not in wards:
                raise self.fail(_line(node, "code") or _line(node), f"unknown ward code {code!r}")
            if code in lines:
                raise self.fail(
                    _line(node, "code"),
                    f"duplicate ward {code} (first listed on line {lines[code]})",
                )
            lines[code] = _line(node, "code")
            province, ward_name = wards[code]
            stated = self.code(node, "province", 2)
            if stated is not None and stated != province:
                raise self.fail(
                    _line(node, "province"),
                    f"ward {code} ({ward_name}) is in province {province}, not {stated}",
                )
            if node.get("team") is None:
                raise self.fail(_line(node), f"ward {code} ({ward_name}) has no team")
            team_id = self.team(
                node["team"],
                _line(node, "team"),
                province_code=province,
                region_id=self.provinces[province].region_id,
                default_kind=None,
                kinds=WARD_KINDS,
            )
            self.wards[code] = WardEntry(
                code=code,
                name=ward_name,
                province_code=province,
                team_id=team_id,
                staff=self.staff(node.get("staff"), _line(node, "staff") if "staff" in node else 0),
            )

    def staff(self, raw: Any, line: int) -> Staff | None:
        if raw is None:
            return None
        node = self.mapping(raw, line, "staff")
        self.check_keys(node, {"name", "phone", "inside_zone"}, "staff")
        inside = node.get("inside_zone")
        zone: str | None
        if inside is None or inside is False:
            zone = None
        elif inside is True:
            zone = "*"
        else:
            zone = str(inside).strip()
            if zone not in self.zones:
                raise self.fail(_line(node, "inside_zone"), f"unknown restricted zone {zone!r}")
        phone = node.get("phone")
        return Staff(
            name=self.string(node, "name") or "",
            phone=str(phone).strip() if phone is not None else None,
            inside_zone=zone,
        )

    def resolve_references(self) -> None:
        for line, team_id, kinds in self.team_refs:
            team = self.teams.get(team_id)
            if team is None:
                raise self.fail(line, f"unknown team {team_id!r}")
            if kinds is not None and team.kind not in kinds:
                raise self.fail(line, f"team {team_id!r} is a {team.kind}, not allowed here")
