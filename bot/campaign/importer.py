"""Target-list import: the operator's CSV of subscribers → ``campaign_targets``, segmented.

The file is streamed in batches (bounded memory whatever its size); every row is either
stored or written to the rejects file with its line number and the reason, never dropped.
Re-importing a file changes nothing: (campaign, phone) is unique and inserts skip rows
already there. Each row is routed on import (plan §1: ward → store / sales force with its
responsible staff, else the province team), so export and the funnel are pure SQL.

Speed (≥ 20,000 rows/s on PostgreSQL): the address resolver and ``phonenumbers`` cost
hundreds of microseconds a call, so both are memoised — resolutions by the unit text
(lists repeat the same ward/district/province millions of times) and phone validity by
number prefix (the numbering plan decides validity and type by the leading digits).
The parsing thread formats PostgreSQL rows straight into ``COPY`` CSV; batches go
through ``COPY`` into a staging table, then one ``INSERT ... SELECT ... ON CONFLICT DO
NOTHING``, on two connections side by side while the next batch is parsed (the
server's per-row work — heap, four indexes, WAL — is the larger cost; see ``_Writer``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import IO, Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection, Engine

from bot import phone as phones
from bot.address import Resolution, resolve, resolve_in_province
from bot.campaign import aggregates
from bot.campaign.schema import campaign_targets
from bot.campaign.store import ensure_campaign, now, upsert_insert
from bot.campaign.units import lookup
from bot.routing import Directory, RoutingError, default_directory
from bot.text import fold

log = logging.getLogger(__name__)

BATCH_ROWS = 5000
WRITERS = 2  # PostgreSQL connections inserting batches side by side
_CACHE_MAX = 200_000  # resolutions kept; cleared when full so memory stays bounded

# Header names operators' exports use, folded (no diacritics, no spaces/punctuation).
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "phone": (
        "phone",
        "phonenumber",
        "msisdn",
        "isdn",
        "mobile",
        "tel",
        "sdt",
        "sodienthoai",
        "dienthoai",
        "sothuebao",
        "thuebao",
        "somay",
        "sotb",
    ),
    "address": ("address", "diachi", "diachikhachhang", "diachilienhe", "fulladdress"),
    "ward": ("ward", "commune", "phuong", "xa", "phuongxa", "xaphuong", "tenphuongxa"),
    "district": ("district", "quan", "huyen", "quanhuyen", "huyenquan", "tenquanhuyen"),
    "province": (
        "province",
        "city",
        "tinh",
        "thanhpho",
        "tinhthanh",
        "tinhthanhpho",
        "tinhtp",
        "tentinh",
        "tentinhthanhpho",
    ),
}
_ALIAS_TO_FIELD = {alias: name for name, aliases in HEADER_ALIASES.items() for alias in aliases}

# Columns written per target, in COPY order.
COLUMNS: tuple[str, ...] = (
    "campaign_id",
    "phone_e164",
    "carrier",
    "address_text",
    "province_code",
    "province_name",
    "ward_code",
    "ward_name",
    "old_district_name",
    "team_id",
    "team_name",
    "route_rule",
    "staff_name",
    "staff_phone",
    "source_line",
    "imported_at",
)
# What each row carries (the campaign id and import time are the same for all).
STAGE_COLUMNS: tuple[str, ...] = tuple(
    c for c in COLUMNS if c not in {"campaign_id", "imported_at"}
)


class ImportFileError(ValueError):
    """The file cannot be imported at all (no header, no phone column, not UTF-8)."""


@dataclass
class ImportResult:
    """What one import did; ``duplicates`` = rows already in the campaign (or repeated)."""

    campaign: str
    rows: int = 0
    inserted: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejects_path: Path | None = None
    seconds: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def header_field(name: str) -> str | None:
    """Which field a header names (``"Số điện thoại"`` → ``phone``), or None."""
    key = re.sub(r"[^a-z0-9]", "", fold(name.replace("đ", "d").replace("Đ", "D")))
    return _ALIAS_TO_FIELD.get(key)


def sniff_delimiter(header_line: str) -> str:
    """Comma, semicolon or tab: whichever the header line uses most (Excel VN uses ';')."""
    counts = {sep: header_line.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


# -- phone validation, memoised --------------------------------------------------------

_QUICK = re.compile(r"(?:\+?84|0084|0)?([1-9]\d{8})")
_NOISE = re.compile(r"[\s.\-()]")


class PhoneMemo:
    """:func:`bot.phone.parse` memoised by the first four digits and the length.

    Vietnamese mobile numbers are 9 significant digits whose validity, type and network
    follow from the leading digits; one real parse per prefix decides for all numbers
    sharing it (``tests/campaign`` checks this against ``bot.phone.parse``). Anything not
    in the plain forms goes to ``bot.phone.parse`` itself.
    """

    def __init__(self) -> None:
        self._prefix: dict[str, tuple[bool, str]] = {}

    def parse(self, raw: str) -> tuple[str, str]:
        """(E.164, carrier) or :class:`bot.phone.InvalidPhoneError`."""
        if len(raw) == 10 and raw[0] == "0" and raw.isdigit() and raw[1] != "0":
            nsn = raw[1:]  # the common "0901234567": no regex
        else:
            match = _QUICK.fullmatch(_NOISE.sub("", raw))
            if match is None:
                parsed = phones.parse(raw)
                return parsed.e164, parsed.carrier
            nsn = match.group(1)
        verdict = self._prefix.get(nsn[:4])
        if verdict is None:
            try:
                verdict = (True, phones.parse("0" + nsn).carrier)
            except phones.InvalidPhoneError as exc:
                verdict = (False, str(exc) or "invalid phone number")
            self._prefix[nsn[:4]] = verdict
        valid, detail = verdict
        if not valid:
            raise phones.InvalidPhoneError(detail)
        return "+84" + nsn, detail


# -- places: resolution + routing, memoised ---------------------------------------------


@dataclass(frozen=True)
class Place:
    """Units and the team of one distinct address text."""

    province_code: str | None = None
    province_name: str | None = None
    ward_code: str | None = None
    ward_name: str | None = None
    old_district_name: str | None = None
    team_id: str | None = None
    team_name: str | None = None
    route_rule: str | None = None
    staff_name: str | None = None
    staff_phone: str | None = None

    @cached_property
    def values(self) -> tuple[str | None, ...]:
        """The fields in COLUMNS order (``province_code`` … ``staff_phone``)."""
        return tuple(getattr(self, name) for name in _PLACE_FIELDS)

    @cached_property
    def copy_fields(self) -> str:
        """:attr:`values` as CSV fields for ``COPY``, formatted once per place."""
        return ",".join(copy_field(value) for value in self.values)


def copy_field(value: str | None) -> str:
    """One field of ``COPY ... (FORMAT csv)``: empty → NULL (as ``csv.writer`` wrote
    ``None`` and ``""``), anything else quoted."""
    if not value:
        return ""
    return '"' + value.replace('"', '""') + '"'


_PLACE_FIELDS = tuple(f.name for f in fields(Place))  # astuple() deep-copies: slow
UNROUTED = Place(route_rule="unrouted:no-address")


class Placer:
    """Address text → :class:`Place` (or a reject reason), cached by the text."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self._cache: dict[str, Place | str] = {}
        # (units, address or "") exactly as read → outcome; skips all string work on a hit.
        self._raw: dict[tuple[tuple[str, str, str], str], Place | str] = {}
        self._by_units: dict[tuple[str, str, str], Place] = {}
        self._units_decided = False
        self.resolutions = 0

    def place(self, units: tuple[str, str, str], address: str) -> Place | str:
        """:meth:`decide`, remembered by the raw cells (lists repeat them a lot)."""
        by_units = self._by_units.get(units)  # the columns alone named the ward last time
        if by_units is not None:
            return by_units
        cached = self._raw.get((units, address))
        if cached is not None:
            return cached
        found = self.decide(units, address)
        if len(self._raw) >= _CACHE_MAX:
            self._raw.clear()
        if self._units_decided and not isinstance(found, str):  # whatever the address says
            if len(self._by_units) >= _CACHE_MAX:
                self._by_units.clear()
            self._by_units[units] = found
            return found
        self._raw[(units, address)] = found
        return found

    def decide(self, units: tuple[str, str, str], address: str) -> Place | str:
        """Route (ward, district, province) columns and/or the address; a str is a reason.

        The columns are looked up directly (cached); the free text is resolved only
        when the columns are missing or stop short of the ward.
        """
        self._units_decided = False
        units_text = ", ".join(part for part in units if part)
        if not units_text and not address:
            return UNROUTED
        if not units_text:
            return self._cached(address, lambda: resolve(address))
        first = self._cached(
            " | ".join(units),
            lambda: lookup(*units) or resolve(units_text),
        )
        if isinstance(first, Place) and first.ward_code:
            self._units_decided = True
            return first
        if not address:
            return first
        combined = f"{address}, {units_text}"
        if isinstance(first, Place) and first.province_code:
            code = first.province_code
            better = self._cached(combined, lambda: resolve_in_province(combined, code))
            return better if isinstance(better, Place) and better.ward_code else first
        return self._cached(combined, lambda: resolve(combined))

    def _cached(self, key: str, compute: Callable[[], Resolution]) -> Place | str:
        key = " ".join(key.split())
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            found = self._cache[key] = self._place(compute())
            self.resolutions += 1
        return found

    def _place(self, res: Resolution) -> Place | str:
        if res.status == "not_found":
            return "address not found"
        if res.status == "ambiguous":
            labels = " | ".join(c.label for c in res.candidates[:3])
            return f"ambiguous address: {labels}"
        units: Mapping[str, object] = {
            "province_code": res.province_code,
            "ward_code": res.ward_code,
            "old_province_name": res.old_province_name,
            "old_district_code": res.old_district_code,
            "old_district_name": res.old_district_name,
        }
        try:
            decision = self.directory.route(units)
        except RoutingError as exc:
            return f"no team: {exc}"
        staff = None
        if decision.rule.startswith("ward:") and res.ward_code:
            ward = self.directory.wards.get(res.ward_code)
            staff = ward.staff if ward else None
        return Place(
            province_code=res.province_code,
            province_name=res.province_name,
            ward_code=res.ward_code,
            ward_name=res.ward_name,
            old_district_name=res.old_district_name,
            team_id=decision.team.id,
            team_name=decision.team.name,
            route_rule=decision.rule,
            staff_name=staff.name if staff else None,
            staff_phone=staff.phone if staff else None,
        )


# -- reading ----------------------------------------------------------------------------


@dataclass
class _Columns:
    phone: int
    address: int | None
    units: tuple[int | None, int | None, int | None]  # ward, district, province
    width: int


def _columns(header: list[str]) -> _Columns:
    found: dict[str, int] = {}
    for index, name in enumerate(header):
        field_name = header_field(name)
        if field_name and field_name not in found:
            found[field_name] = index
    if "phone" not in found:
        raise ImportFileError(
            "no phone column in the header (expected e.g. phone, msisdn, so_dien_thoai, SĐT)"
        )
    units = (found.get("ward"), found.get("district"), found.get("province"))
    return _Columns(found["phone"], found.get("address"), units, len(header))


def _cell(row: list[str], index: int | None, width: int) -> str:
    if index is None or index >= width:
        return ""
    return row[index].strip()


# -- writing ----------------------------------------------------------------------------


class _Writer:
    """One batch at a time into ``campaign_targets``.

    PostgreSQL: the batch arrives as ``COPY`` CSV lines (formatted by the parsing
    thread) of :data:`STAGE_COLUMNS`, goes into a temporary staging table, then one
    ``INSERT ... SELECT`` adds the campaign id and import time and skips phones already
    there. Rows are inserted in phone order (the two phone indexes then touch
    neighbouring pages: about a tenth less server time than file order); the batch holds
    each phone once, its first line, so "first occurrence wins" does not depend on it.
    Commits do not wait for the WAL flush (``synchronous_commit = off``): a crash loses
    at most the last batches, which re-running the (idempotent) import puts back.
    """

    def __init__(self, conn: Connection, cid: int, stamp: dt.datetime) -> None:
        self.conn = conn
        self.cid = cid
        self.stamp = stamp
        self.pg = conn.dialect.name == "postgresql"
        if self.pg:
            cols = ", ".join(STAGE_COLUMNS)
            conn.execute(
                text(
                    "CREATE TEMP TABLE IF NOT EXISTS campaign_import_stage AS "  # noqa: S608
                    f"SELECT {cols} FROM campaign_targets WITH NO DATA"
                )
            )
            conn.commit()

    def write(self, rows: list[Any]) -> None:
        """Insert ``rows``: COPY lines (PostgreSQL) or STAGE_COLUMNS tuples (SQLite)."""
        if not rows:
            return
        if not self.pg:
            stmt = upsert_insert(self.conn, campaign_targets).on_conflict_do_nothing(
                index_elements=["campaign_id", "phone_e164"]
            )
            fixed = {"campaign_id": self.cid, "imported_at": self.stamp}
            with self.conn.begin():
                self.conn.execute(
                    stmt, [{**fixed, **dict(zip(STAGE_COLUMNS, row, strict=True))} for row in rows]
                )
            return
        cols = ", ".join(STAGE_COLUMNS)
        with self.conn.begin():
            self.conn.execute(text("SET LOCAL synchronous_commit TO off"))
            raw = self.conn.connection.cursor()
            try:
                raw.copy_expert(
                    f"COPY campaign_import_stage ({cols}) FROM STDIN WITH (FORMAT csv)",
                    io.StringIO("".join(rows)),
                )
            finally:
                raw.close()
            self.conn.execute(
                text(
                    "INSERT INTO campaign_targets "  # noqa: S608 - constant names
                    f"(campaign_id, imported_at, {cols}) SELECT :cid, :stamp, {cols} "
                    "FROM campaign_import_stage ORDER BY phone_e164 "
                    "ON CONFLICT (campaign_id, phone_e164) DO NOTHING"
                ),
                {"cid": self.cid, "stamp": self.stamp},
            )
            self.conn.execute(text("TRUNCATE campaign_import_stage"))


# -- the import -------------------------------------------------------------------------


def default_rejects_path(path: Path) -> Path:
    return path.with_name(path.stem + ".rejects.csv")


def import_targets(
    engine: Engine,
    path: str | Path,
    campaign: str,
    *,
    directory: Directory | None = None,
    rejects_path: str | Path | None = None,
    batch_rows: int = BATCH_ROWS,
    progress: bool = True,
    script_ref: str | None = None,
    writers: int = WRITERS,
) -> ImportResult:
    """Import ``path`` into ``campaign``; write the rejects file; return the counts.

    PostgreSQL batches go through ``writers`` connections at once (the server inserts
    on as many cores while this thread parses); SQLite uses one.
    """
    from tqdm import tqdm

    source = Path(path)
    rejects = Path(rejects_path) if rejects_path else default_rejects_path(source)
    started = time.perf_counter()
    cid = ensure_campaign(engine, campaign, script_ref)
    result = ImportResult(campaign=campaign, rejects_path=rejects)
    placer = Placer(directory or default_directory())
    memo = PhoneMemo()
    before = _count(engine, cid)
    size = source.stat().st_size
    pg = engine.dialect.name == "postgresql"
    with (
        source.open("r", encoding="utf-8-sig", newline="") as handle,
        rejects.open("w", encoding="utf-8-sig", newline="") as reject_file,
        tqdm(
            total=size,
            unit="B",
            unit_scale=True,
            desc=f"import {campaign}",
            disable=not progress,
            mininterval=0.5,
        ) as bar,
        ExitStack() as stack,  # last in, first out: each writer thread ends before its conn
    ):
        raw, opened = _open_reader(handle)
        reject_out = csv.writer(reject_file)
        reject_out.writerow(["line", "reason", *opened.header])
        stamp = now()
        lanes: list[tuple[ThreadPoolExecutor, _Writer]] = []
        for _ in range(max(writers, 1) if pg else 1):  # SQLite has one writer at a time
            conn = stack.enter_context(engine.connect())
            pool = stack.enter_context(ThreadPoolExecutor(max_workers=1))
            lanes.append((pool, _Writer(conn, cid, stamp)))
        target = _Targets(opened.cols, placer, memo)
        # Batches being written, with their phones. A phone is written by one batch at a
        # time: a later line of a phone still in flight is a duplicate here, so whichever
        # batch commits first, the first line wins.
        in_flight: deque[tuple[Future[None], set[str]]] = deque()
        unsettled: set[str] = set()  # phones of the batches in flight and of this one
        phones_here: set[str] = set()
        batch: list[Any] = []
        sent = 0
        position = 0
        try:
            for row in raw:
                outcome = target(row)
                if outcome is None:
                    continue  # a blank line is not a subscriber
                result.rows += 1
                line = raw.line_num + 1  # csv counts from after the header (line 1)
                if isinstance(outcome, str):
                    result.rejected += 1
                    reason = outcome.split(":")[0]
                    result.reasons[reason] = result.reasons.get(reason, 0) + 1
                    reject_out.writerow([line, outcome, *row])
                    continue
                e164, carrier, full, place = outcome
                if e164 in unsettled:
                    continue  # counted as a duplicate, as the database would skip it
                unsettled.add(e164)
                phones_here.add(e164)
                if pg:
                    batch.append(
                        f"{e164},{copy_field(carrier)},{copy_field(full)},"
                        f"{place.copy_fields},{line}\n"
                    )
                else:
                    batch.append((e164, carrier, full, *place.values, line))
                if len(batch) >= batch_rows:
                    # The database ingests batches while the next is parsed; at most one
                    # batch in flight per writer keeps memory bounded.
                    if len(in_flight) == len(lanes):
                        done, settled = in_flight.popleft()
                        done.result()
                        unsettled -= settled
                    pool, writer = lanes[sent % len(lanes)]
                    in_flight.append((pool.submit(writer.write, batch), phones_here))
                    sent += 1
                    batch, phones_here = [], set()
                    position = _advance(bar, handle, position)
            while in_flight:
                in_flight.popleft()[0].result()
            lanes[sent % len(lanes)][1].write(batch)
            _advance(bar, handle, position)
        except UnicodeDecodeError as exc:
            raise ImportFileError(
                f"line {raw.line_num + 2}: not UTF-8 text ({exc.reason}); save as CSV UTF-8"
            ) from exc
    after = _count(engine, cid)
    result.inserted = after - before  # exact on both dialects, whatever rowcount says
    result.duplicates = result.rows - result.rejected - result.inserted
    aggregates.compact(engine, cid)  # one folded funnel row per group (PostgreSQL)
    result.seconds = time.perf_counter() - started
    log.info(
        "campaign.import %s: %d rows, %d new, %d duplicates, %d rejected, %d resolutions",
        campaign,
        result.rows,
        result.inserted,
        result.duplicates,
        result.rejected,
        placer.resolutions,
    )
    return result


@dataclass
class _Opened:
    header: list[str]
    cols: _Columns


def _open_reader(handle: IO[str]) -> tuple[Any, _Opened]:
    """A csv reader positioned after the header, and the header's columns."""
    first = handle.readline()
    if not first.strip():
        raise ImportFileError("empty file: a header line is required")
    delimiter = sniff_delimiter(first)
    header = next(csv.reader([first], delimiter=delimiter))
    return csv.reader(handle, delimiter=delimiter), _Opened(header=header, cols=_columns(header))


class _Targets:
    """One CSV row → (E.164, carrier, address text, :class:`Place`), a reject reason,
    or None for a blank line. The hot loop of the import: no per-row generator or
    attribute look-ups beyond what the row needs."""

    def __init__(self, columns: _Columns, placer: Placer, memo: PhoneMemo) -> None:
        self.phone = columns.phone
        self.address = columns.address
        self.ward, self.district, self.province = columns.units
        self.placer = placer
        self.memo = memo

    def __call__(self, row: list[str]) -> tuple[str, str, str | None, Place] | str | None:
        width = len(row)
        raw_phone = row[self.phone].strip() if self.phone < width else ""
        if not raw_phone:
            if not any(cell.strip() for cell in row):
                return None
            return "missing phone"
        try:
            e164, carrier = self.memo.parse(raw_phone)
        except phones.InvalidPhoneError as exc:
            return f"invalid phone: {exc}"
        address = _cell(row, self.address, width)
        ward = _cell(row, self.ward, width)
        district = _cell(row, self.district, width)
        province = _cell(row, self.province, width)
        place = self.placer.place((ward, district, province), address)
        if isinstance(place, str):
            return place
        full = ", ".join([p for p in (address, ward, district, province) if p])[:1000]
        return e164, carrier, full or None, place


def _advance(bar: Any, handle: IO[str], position: int) -> int:
    try:
        current = handle.buffer.tell()  # type: ignore[attr-defined]
    except (OSError, AttributeError, ValueError):
        return position
    if current > position:
        bar.update(current - position)
        return current
    return position


def _count(engine: Engine, cid: int) -> int:
    with engine.connect() as conn:
        return int(
            conn.scalar(
                select(func.count())
                .select_from(campaign_targets)
                .where(campaign_targets.c.campaign_id == cid)
            )
            or 0
        )
