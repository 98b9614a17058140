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
PostgreSQL batches go through ``COPY`` into a staging table, then one
``INSERT ... SELECT ... ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import astuple, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import IO, Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection, Engine

from bot import phone as phones
from bot.address import Resolution, resolve, resolve_in_province
from bot.campaign.schema import campaign_targets
from bot.campaign.store import ensure_campaign, now, upsert_insert
from bot.campaign.units import lookup
from bot.routing import Directory, RoutingError, default_directory
from bot.text import fold

log = logging.getLogger(__name__)

BATCH_ROWS = 5000
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
        return astuple(self)


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


def _cell(row: list[str], index: int | None) -> str:
    if index is None or index >= len(row):
        return ""
    return row[index].strip()


# -- writing ----------------------------------------------------------------------------


class _Writer:
    """One batch at a time into ``campaign_targets``; returns rows actually inserted."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"
        if self.pg:
            cols = ", ".join(COLUMNS)
            conn.execute(
                text(
                    "CREATE TEMP TABLE IF NOT EXISTS campaign_import_stage AS "  # noqa: S608
                    f"SELECT {cols} FROM campaign_targets WITH NO DATA"
                )
            )
            conn.commit()

    def write(self, rows: list[tuple[Any, ...]]) -> int:
        """Insert ``rows`` (tuples in COLUMNS order) skipping phones already there."""
        if not rows:
            return 0
        if not self.pg:
            stmt = upsert_insert(self.conn, campaign_targets).on_conflict_do_nothing(
                index_elements=["campaign_id", "phone_e164"]
            )
            with self.conn.begin():
                result = self.conn.execute(
                    stmt, [dict(zip(COLUMNS, row, strict=True)) for row in rows]
                )
            return max(result.rowcount, 0)
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)  # None → NULL in COPY csv
        buffer.seek(0)
        cols = ", ".join(COLUMNS)
        with self.conn.begin():
            raw = self.conn.connection.cursor()
            try:
                raw.copy_expert(
                    f"COPY campaign_import_stage ({cols}) FROM STDIN WITH (FORMAT csv)", buffer
                )
            finally:
                raw.close()
            result = self.conn.execute(
                text(
                    f"INSERT INTO campaign_targets ({cols}) "  # noqa: S608 - constant names
                    f"SELECT {cols} FROM campaign_import_stage ORDER BY source_line "
                    "ON CONFLICT (campaign_id, phone_e164) DO NOTHING"
                )
            )
            self.conn.execute(text("TRUNCATE campaign_import_stage"))
        return max(result.rowcount, 0)


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
) -> ImportResult:
    """Import ``path`` into ``campaign``; write the rejects file; return the counts."""
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
    with (
        source.open("r", encoding="utf-8-sig", newline="") as handle,
        rejects.open("w", encoding="utf-8-sig", newline="") as reject_file,
        engine.connect() as conn,
        tqdm(
            total=size,
            unit="B",
            unit_scale=True,
            desc=f"import {campaign}",
            disable=not progress,
            mininterval=0.5,
        ) as bar,
        ExitStack() as stack,  # last in, first out: the writer thread ends before conn
    ):
        reader, columns = _open_reader(handle)
        reject_out = csv.writer(reject_file)
        reject_out.writerow(["line", "reason", *columns.header])
        writer = _Writer(conn)
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=1))
        pending: Future[int] | None = None
        batch: list[tuple[Any, ...]] = []
        stamp = now()
        position = 0
        try:
            for row in _rows(reader):
                result.rows += 1
                line = reader.line_num
                outcome = _target(row, columns, placer, memo)
                if isinstance(outcome, str):
                    result.rejected += 1
                    result.reasons[outcome.split(":")[0]] = (
                        result.reasons.get(outcome.split(":")[0], 0) + 1
                    )
                    reject_out.writerow([line, outcome, *row])
                    continue
                batch.append((cid, *outcome, line, stamp))
                if len(batch) >= batch_rows:
                    # The database ingests one batch while the next is parsed; at most
                    # one batch in flight keeps memory bounded.
                    if pending is not None:
                        pending.result()
                    pending = pool.submit(writer.write, batch)
                    batch = []
                    position = _advance(bar, handle, position)
            if pending is not None:
                pending.result()
            writer.write(batch)
            _advance(bar, handle, position)
        except UnicodeDecodeError as exc:
            raise ImportFileError(
                f"line {reader.line_num + 1}: not UTF-8 text ({exc.reason}); save as CSV UTF-8"
            ) from exc
    after = _count(engine, cid)
    result.inserted = after - before  # exact on both dialects, whatever rowcount says
    result.duplicates = result.rows - result.rejected - result.inserted
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

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cols, name)


def _open_reader(handle: IO[str]) -> tuple[Any, _Opened]:
    first = handle.readline()
    if not first.strip():
        raise ImportFileError("empty file: a header line is required")
    delimiter = sniff_delimiter(first)
    header = next(csv.reader([first], delimiter=delimiter))
    cols = _columns(header)
    reader = csv.reader(handle, delimiter=delimiter)
    # csv counts lines from where it starts reading: the header was line 1.
    reader_line = _LineReader(reader)
    return reader_line, _Opened(header=header, cols=cols)


class _LineReader:
    """A csv reader whose ``line_num`` counts the header line too (file line numbers)."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader

    def __iter__(self) -> Iterator[list[str]]:
        return iter(self._reader)

    @property
    def line_num(self) -> int:
        return int(self._reader.line_num) + 1


def _rows(reader: _LineReader) -> Iterator[list[str]]:
    for row in reader:
        if not row or not any(cell.strip() for cell in row):
            continue  # blank lines are not subscribers
        yield row


def _target(
    row: list[str], columns: _Opened, placer: Placer, memo: PhoneMemo
) -> tuple[Any, ...] | str:
    """The row's values from ``phone_e164`` to ``staff_phone`` (COLUMNS order), or why not."""
    raw_phone = _cell(row, columns.phone)
    if not raw_phone:
        return "missing phone"
    try:
        e164, carrier = memo.parse(raw_phone)
    except phones.InvalidPhoneError as exc:
        return f"invalid phone: {exc}"
    address = _cell(row, columns.address)
    ward, district, province = (_cell(row, i) for i in columns.units)
    place = placer.place((ward, district, province), address)
    if isinstance(place, str):
        return place
    full = ", ".join([p for p in (address, ward, district, province) if p])[:1000]
    return (e164, carrier, full or None, *place.values)


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
