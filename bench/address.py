"""Accuracy and speed of ``bot.address.resolve`` on real addresses and generated variants.

Side by side with ``vietnamadminunits.parse_address`` (the best public parser) on the same
rows in the same process, with its network geocoder disabled. Reads the shared data set
(third-party rows are never copied into the repository):

    .venv/bin/python bench/address.py [--data PATH] [--limit N] [--no-library] [--seed S]

The resolver runs compiled when ``make install`` has compiled it (mypyc, see
``bot/address/_native.py``); ``BOT_ADDRESS_PURE=1`` in the environment times the pure-Python
fallback instead. The first line printed says which one ran.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import sys
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.address import Resolution, _native, resolve, warm_up
from bot.address.resolver import forget_texts
from bot.text import fold, strip_diacritics

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "addresses" / "public-addresses.csv"
SEED = 20250701

_ABBREVIATIONS = [
    (r"thành phố hồ chí minh|tp\.? hồ chí minh|hồ chí minh", "TPHCM"),
    (r"thành phố hà nội|hà nội", "HN"),
    (r"thị trấn", "TT."),
    (r"thị xã", "TX."),
    (r"thành phố", "TP."),
    (r"phường", "P."),
    (r"quận", "Q."),
    (r"huyện", "H."),
    (r"tỉnh", "T."),
    (r"xã", "X."),
]


def abbreviate(text: str) -> str:
    for pattern, short in _ABBREVIATIONS:
        text = re.sub(rf"(?<!\w){pattern}(?!\w)", short, text, flags=re.IGNORECASE)
    return text


def lower_no_commas(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace(",", " ")).strip().lower()


def typos(text: str, rng: random.Random) -> str:
    """One or two letter edits (substitute, delete, insert, swap) at random letters."""
    chars = list(text)
    for _ in range(rng.choice((1, 2))):
        letters = [i for i, ch in enumerate(chars) if ch.isalpha()]
        if not letters:
            break
        i = rng.choice(letters)
        op = rng.choice(("sub", "del", "ins", "swap"))
        letter = rng.choice("abcdeghiklmnopqrstuvxy")
        if op == "sub":
            chars[i] = letter
        elif op == "del":
            del chars[i]
        elif op == "ins":
            chars.insert(i, letter)
        elif i + 1 < len(chars):
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return "".join(chars)


def reorder(text: str) -> str:
    return ", ".join(part.strip() for part in reversed(text.split(",")) if part.strip())


VARIANTS: dict[str, Callable[[str, random.Random], str]] = {
    "as written": lambda t, _r: t,
    "no diacritics": lambda t, _r: strip_diacritics(t),
    "abbreviated": lambda t, _r: abbreviate(t),
    "lower, no commas": lambda t, _r: lower_no_commas(t),
    "typos (1-2)": typos,
    "reordered": lambda t, _r: reorder(t),
}


def same_province(got: str | None, label: str) -> bool:
    """Province names compared without their type word: the data set's labels call some
    provinces "Thành phố Bắc Ninh" where the GSO 2025 list says "Tỉnh Bắc Ninh"."""
    return bool(got) and _province_key(got or "") == _province_key(label)


def _province_key(name: str) -> str:
    return re.sub(r"^(tinh|thanh pho)\s+", "", fold(name).strip())


_TYPE_WORDS = r"^(thanh pho|thi tran|thi xa|dac khu|phuong|huyen|quan|tinh|xa)\s+"


def same_unit(got: str | None, label: str) -> bool:
    """Ward or district names compared the way the label is written: with its type word
    when the label has one ("Huyện Tĩnh Gia"), by the bare name when it has none ("Nha
    Trang", as some labels are), and always without diacritics, case, spaces or hyphens
    ("Hoà"/"Hòa", "Châu Phú  B"/"Châu Phú B")."""
    if not got:
        return False
    folded_label = fold(label).strip()
    folded_got = fold(got).strip()
    if not re.match(_TYPE_WORDS, folded_label):
        folded_got = re.sub(_TYPE_WORDS, "", folded_got)
    return _bare(folded_got) == _bare(folded_label)


def _bare(folded: str) -> str:
    return re.sub(r"[^a-z0-9]", "", folded)


def same_district(got: str | None, label: str) -> bool:
    """An old district, by name (``same_unit``) or by a former name of the same unit as
    the library records it: labels written before a rename or a merger ("Tĩnh Gia", now
    Thị xã Nghi Sơn; "Đông Sơn", merged into Thành phố Thanh Hóa) name the unit that the
    2025-01 list calls otherwise. Applied to both parsers alike."""
    if same_unit(got, label):
        return True
    if not got:
        return False
    label_key = _bare(fold(label))
    return label_key in _former_names().get(_bare(fold(got)), frozenset())


@lru_cache(maxsize=1)
def _former_names() -> dict[str, frozenset[str]]:
    """Folded district name → its former names (with and without type word), from the
    library's table of the 63-province structure."""
    import sqlite3
    from importlib import resources

    names: dict[str, set[str]] = {}
    package = resources.files("vietnamadminunits") / "data"
    with resources.as_file(package / "dataset.db") as db_path:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            rows = conn.execute(
                "SELECT DISTINCT district, districtAlias FROM admin_units_legacy"
                " WHERE districtAlias IS NOT NULL"
            ).fetchall()
        finally:
            conn.close()
    for district, aliases in rows:
        names.setdefault(_bare(fold(district)), set()).update(json.loads(aliases))
    return {key: frozenset(value) for key, value in names.items()}


def _disable_geocoding() -> None:
    """The library's converter geocodes through ArcGIS to place an old ward split between
    new wards; answer "no location" instead, so that it takes its offline path (the new
    ward it marks as default) rather than the network or an exception."""
    import vietnamadminunits.converter.converter_2025 as converter
    import vietnamadminunits.parser.utils as utils

    def offline(_address: str) -> None:
        return None

    utils.get_geo_location = offline
    converter.get_geo_location = offline


class Tally:
    def __init__(self) -> None:
        self.n = self.prov_n = self.prov_ok = 0
        self.ward_n = self.ward_ok = self.dist_n = self.dist_ok = 0
        self.candidates = self.wrong_confident = self.in_candidates = 0
        self.seconds = 0.0
        self.n_timed = 0  # rows times passes: what ``seconds`` was spent on

    def pct(self, hit: int, n: int) -> str:
        return f"{100 * hit / n:6.1f}%" if n else "     - "


CHUNK = 64  # rows each parser reads in turn while timed (see _timed)


def _timed(
    parsers: list[tuple[Callable[[str], object], Callable[[], None]]],
    texts: list[str],
    repeat: int,
) -> tuple[list[list[object]], list[float]]:
    """Each parser's answers to ``texts`` and its CPU time over ``repeat`` passes.

    The parsers take turns on the same chunk of rows (``CHUNK``, first one, then the other,
    the order swapped every pass), so that each sees the machine as it is at that moment:
    this machine is shared and its speed changes by half within a second, and timing one
    parser's whole pass after the other's, keeping the fastest, favoured whichever pass was
    short enough to fit in a quick spell. The times are summed over all passes, never the
    fastest taken. A chunk is long enough for each parser to run in its own cache.

    A pass never times a text a parser has read before, but times every text with the
    words of other addresses remembered, as a running bot has them: each parser forgets
    what it remembers across texts (its ``forget``), reads one half of the texts untimed,
    and the other half is timed; then the same the other way round."""
    half = len(texts) // 2
    seconds = [0.0] * len(parsers)
    answers: list[list[object]] = [[] for _ in parsers]
    for done in range(max(1, repeat)):
        parts: list[list[list[object]]] = [[] for _ in parsers]
        order = list(range(len(parsers)))
        if done % 2:
            order.reverse()
        for read, timed in ((texts[:half], texts[half:]), (texts[half:], texts[:half])):
            for call, forget in parsers:
                forget()
                for text in read:
                    call(text)
            got: list[list[object]] = [[] for _ in parsers]
            for low in range(0, len(timed), CHUNK):
                chunk = timed[low : low + CHUNK]
                for who in order:
                    call = parsers[who][0]
                    started = time.process_time()
                    got[who].extend([call(text) for text in chunk])
                    seconds[who] += time.process_time() - started
            for who in order:
                parts[who].append(got[who])
        answers = [part[1] + part[0] for part in parts]
    return answers, seconds


def tally_ours(rows: list[dict[str, str]], results: list[Resolution]) -> Tally:
    tally = Tally()
    for row, res in zip(rows, results, strict=True):
        tally.n += 1
        province = row["province_new"]
        decided = res.status in ("resolved", "province_only")
        tally.prov_n += bool(province)
        right = decided and same_province(res.province_name, province)
        tally.prov_ok += right
        tally.in_candidates += right
        if res.status == "ambiguous":
            tally.candidates += 1
            tally.in_candidates += any(
                same_province(c.province_name, province) for c in res.candidates
            )
        elif decided and not right and province:
            tally.wrong_confident += 1
        if row["ward_new"]:
            tally.ward_n += 1
            tally.ward_ok += res.status == "resolved" and same_unit(res.ward_name, row["ward_new"])
        if row["district_old"]:
            tally.dist_n += 1
            tally.dist_ok += same_district(res.old_district_name, row["district_old"])
    return tally


def tally_library(
    rows: list[dict[str, str]], answers: list[tuple[object | None, object | None]]
) -> Tally:
    """The library as its README uses it on addresses written in the old structure:
    ``convert_address`` parses the text in LEGACY mode (old province / district / ward) and
    maps it to the current units; when that finds no province, ``parse_address`` in
    FROM_2025 mode gets a second chance (text already in the current structure). Both
    calls are inside the timing (``_library_answer``)."""
    tally = Tally()
    for row, (new, old) in zip(rows, answers, strict=True):
        tally.n += 1
        province = getattr(new, "province", None)
        right = same_province(province, row["province_new"])
        tally.prov_n += bool(row["province_new"])
        tally.prov_ok += right
        tally.in_candidates += right
        tally.wrong_confident += bool(province) and not right and bool(row["province_new"])
        if row["ward_new"]:
            tally.ward_n += 1
            tally.ward_ok += same_unit(getattr(new, "ward", None), row["ward_new"])
        if row["district_old"]:
            tally.dist_n += 1
            tally.dist_ok += same_district(getattr(old, "district", None), row["district_old"])
    return tally


def _library_answer(text: str) -> tuple[object | None, object | None]:
    """(current-structure unit, old-structure unit) as the library answers ``text``."""
    from vietnamadminunits import ParseMode, convert_address, parse_address

    new = _safe(convert_address, text)
    old = getattr(new, "OldAdminUnit", None)
    if not getattr(new, "province", None):
        new = _safe(parse_address, text, mode=ParseMode.FROM_2025)
    return new, old


def _safe(call: Callable[..., object], *args: object, **kwargs: object) -> object | None:
    try:
        return call(*args, **kwargs)
    except Exception:  # the library raises on text it cannot parse: count it as no answer
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=0, help="sample N rows per source")
    parser.add_argument("--no-library", action="store_true", help="skip vietnamadminunits")
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed passes per parser (their times are summed)"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=SEED,
        help=f"seed of the random variants (typos) and samples; the figures use {SEED}",
    )
    options = parser.parse_args(argv)
    if not options.data.exists():
        print(
            f"address data set not found at {options.data}\n"
            "expected ../shared/data/addresses/public-addresses.csv next to the repository "
            "(or pass --data PATH)",
            file=sys.stderr,
        )
        return 2
    with options.data.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not options.no_library:
        _disable_geocoding()
    # Steady state for both parsers, outside the timing: our tables are loaded lazily, and
    # the library compiles (and Python's ``re`` caches) one keyword pattern per province on
    # first use. Ours builds its tables as the action server does when it starts
    # (``warm_up``, which also puts them out of the collector's reach), then one pass over
    # the rows as written warms both (what ours remembers of the texts themselves is
    # forgotten again before each timed pass, see _timed).
    warm_up()
    for row in rows:
        resolve(row["address"])
        if not options.no_library:
            _library_answer(row["address"])

    print(
        "resolver: "
        + (
            "compiled (mypyc)"
            if _native.compiled()
            else f"pure Python (not compiled, out of date, or {_native.PURE_ENV}=1)"
        )
    )
    sources: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        sources.setdefault(row["source"], []).append(row)
    sources["fpt+course"] = sources.get("fpt", []) + sources.get("course", [])
    header = (
        f"{'source':<11}{'variant':<18}{'who':<6}{'n':>5} {'prov':>7} {'ward':>7} "
        f"{'olddist':>7} {'cands':>7} {'wrong!':>7} {'inCand':>7} {'addr/s':>8} {'x lib':>6}"
    )
    print(header)
    print("-" * len(header))
    for source, source_rows in sources.items():
        sample = source_rows
        if options.limit and len(sample) > options.limit:
            sample = random.Random(options.seed).sample(sample, options.limit)
        pooled: dict[str, list[float]] = {}  # name → [rows timed, seconds] over the variants
        for variant, make in VARIANTS.items():
            rng = random.Random(f"{options.seed}:{source}:{variant}")
            texts = [make(row["address"], rng) for row in sample]
            # Ours forgets the words of earlier texts (see _timed); the library keeps none.
            parsers: list[tuple[Callable[[str], object], Callable[[], None]]] = [
                (resolve, forget_texts)
            ]
            if not options.no_library:
                parsers.append((_library_answer, lambda: None))
            answers, seconds = _timed(parsers, texts, options.repeat)
            who = [("ours", tally_ours(sample, answers[0]))]  # type: ignore[arg-type]
            if not options.no_library:
                who.append(("lib", tally_library(sample, answers[1])))  # type: ignore[arg-type]
            for (_, t), spent in zip(who, seconds, strict=True):
                t.n_timed = t.n * max(1, options.repeat)
                t.seconds = spent
            for name, t in who:
                total = pooled.setdefault(name, [0.0, 0.0])
                total[0] += t.n_timed
                total[1] += t.seconds
            rates = [t.n_timed / t.seconds if t.seconds else 0.0 for _, t in who]
            for (name, t), rate in zip(who, rates, strict=True):
                # Our throughput over the library's, on the same rows in the same run.
                ratio = f"{rate / rates[1]:>5.1f}x" if name == "ours" and len(rates) > 1 else ""
                print(
                    f"{source:<11}{variant:<18}{name:<6}{t.n:>5} {t.pct(t.prov_ok, t.prov_n)} "
                    f"{t.pct(t.ward_ok, t.ward_n)} {t.pct(t.dist_ok, t.dist_n)} "
                    f"{t.pct(t.candidates, t.n)} {t.pct(t.wrong_confident, t.prov_n)} "
                    f"{t.pct(t.in_candidates, t.prov_n)} {rate:>8.0f} {ratio:>6}"
                )
        # All variants together: total rows over total time.
        overall = {
            name: rows / seconds if seconds else 0.0 for name, (rows, seconds) in pooled.items()
        }
        rows_read = int(pooled["ours"][0]) // max(1, options.repeat)
        line = f"{source:<11}{'all variants':<18}{'ours':<6}{rows_read:>5}"
        line += " " * 48 + f" {overall['ours']:>8.0f}"
        if overall.get("lib"):
            line += f" {overall['ours'] / overall['lib']:>5.1f}x"
        print(line)
        print()
    print(
        "prov/ward: current structure, decided answers only; olddist: old district; "
        "cands: answered with candidates (province undecided); wrong!: wrong but "
        "confident; inCand: true province decided or among the candidates; addr/s: CPU time "
        "of one core summed over --repeat passes, the two parsers taking turns on chunks of "
        f"{CHUNK} rows, each half of the rows timed after the other half was read (library: "
        "convert_address, plus "
        "parse_address FROM_2025 when that finds no province); x lib: our addr/s over the "
        "library's, same rows, same run; all variants: every variant's rows over their "
        "total time. Names are compared without "
        "diacritics and, when the label has none, without the type word; an old district "
        "also matches a label that gives a former name of it (the library's aliases: Tĩnh "
        "Gia for Thị xã Nghi Sơn)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
