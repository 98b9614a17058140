"""Free text → administrative units, by indexed look-ups and a small consistency search.

How it works, in three steps:

1. Tokens. The text is folded (no diacritics, lower case) into word tokens that remember
   where they stand in the original; "P13", "Q.3", "F5" become a type marker and a number.
2. Matches. Every run of up to seven tokens inside one comma-separated part is looked up in
   one dictionary keyed by the folded name without spaces ("phuongmai", "quandongda",
   "hcm"). A short name scores higher after a compatible marker ("p.", "quận", "TX."),
   lower right after a house number or a street word ("75 Đinh Tiên Hoàng", "đường X").
   Runs that match nothing get a second chance through a one-deletion index (typos).
3. Hypotheses. Each matched ward, district or province is completed with the other matches
   that are consistent with it (its district, its province, old or new), on disjoint spans,
   and scored by the sum. The best hypothesis per current province is compared with the
   runner-up: a clear margin decides; otherwise the candidates go back to the caller.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from bot.address.data import (
    OLD_DISTRICT,
    OLD_PROVINCE,
    OLD_WARD,
    PROVINCE,
    WARD,
    Data,
    Unit,
    load,
)
from bot.address.model import Candidate, Resolution
from bot.text import fold

MARGIN = 0.45  # score lead over the runner-up needed to decide without asking
MIN_DECIDE = 0.75  # a lone weak match (one unprefixed syllable) never decides alone
MIN_USABLE = 0.6  # below this (one stray syllable, a fuzzy guess) nothing is usable
MAX_CANDIDATES = 5

_TOKEN = re.compile(r"[^\W_]+")
_SEPARATOR = re.compile(r"[,;\n|]")
_PREFIXED_NUMBER = re.compile(r"^(phuong|quan|ph|p|f|q|x|h|tt|tx)(\d+)$")
_PREFIXED_NAME = re.compile(r"^(tp|tx|tt)([a-z]{4,})$")

# Type markers (folded token sequences) → the type they announce.
_MARKERS: dict[tuple[str, ...], str] = {
    ("p",): "phuong",
    ("ph",): "phuong",
    ("phuong",): "phuong",
    ("f",): "phuong",
    ("x",): "xa",
    ("xa",): "xa",
    ("tt",): "thitran",
    ("thi", "tran"): "thitran",
    ("dac", "khu"): "dackhu",
    ("q",): "quan",
    ("quan",): "quan",
    ("h",): "huyen",
    ("huyen",): "huyen",
    ("tx",): "thixa",
    ("thi", "xa"): "thixa",
    ("tp",): "thanhpho",
    ("thanh", "pho"): "thanhpho",
    ("t",): "tinh",
    ("tinh",): "tinh",
}
_WARD_KINDS = frozenset({"phuong", "xa", "thitran", "dackhu"})
_DISTRICT_KINDS = frozenset({"quan", "huyen", "thixa", "thanhpho"})
_PROVINCE_KINDS = frozenset({"tinh", "thanhpho"})

# Words that introduce a street, an alley or a hamlet: a name right after one is not a unit.
_STREET_WORDS = frozenset(
    {
        *("so", "duong", "pho", "ngo", "ngach", "hem", "kiet", "to", "thon", "xom", "ap"),
        *("khu", "kp", "khom", "ban", "lang", "cum", "doi", "tdp", "toa", "nha", "lo"),
        *("dt", "ql", "tl", "hxh", "kdc", "kcn", "cho"),
    }
)

# Words that introduce a hamlet or residential group: a number after one is the group's
# number ("thôn 2", "khu phố 3", "tổ 5"), not a house number, and it closes the group's name.
_HAMLET_WORDS = frozenset(
    {"thon", "xom", "ap", "khu", "kp", "khom", "ban", "to", "doi", "cum", "tdp", "lang"}
)

# Base scores.
_FULL = 1.0  # name with its type word, or short name after a compatible marker
_SHORT = 0.8  # short name of two syllables or more, no marker
_SHORT_ONE = 0.55  # one-syllable short name, no marker
_PROVINCE_SHORT = 0.9  # a province's name without "tỉnh": provinces are named more than wards
_ALIAS = 0.95  # a province's customary short form (HN, HCM, SG)
_WRONG_MARKER = 0.3
_NEAR_MARKER = 0.5  # a marker of the right tier but another type ("huyện" for a thị xã)
_STREETISH = 0.35
_STREET_TAIL = 0.7  # a name closing a "house number + street" part: street or ward
_INSIDE = 0.3  # a name lying inside a longer, stronger reading of the same words
_FUZZY = 0.85
_FUZZY_SHORT = 0.7  # a typo in a key of fewer than eight letters


class _Token(NamedTuple):
    key: str
    start: int
    end: int
    segment: int


class _Match(NamedTuple):
    level: str
    code: str
    start: int  # token index, marker included
    end: int
    score: float


@dataclass(slots=True)
class _Hypothesis:
    score: float
    province: str  # current province code
    identity: tuple[str, str] | None  # ("W", new code) or ("w", old code of a split ward)
    new_wards: tuple[str, ...]  # current ward codes (several when an old ward was split)
    old_ward: str | None
    old_district: str | None
    old_province: str | None
    spans: tuple[tuple[int, int], ...]


def _tokens(text: str) -> list[_Token]:
    """Folded tokens with their character offsets and the comma-separated part they sit in."""
    tokens: list[_Token] = []
    segment = 0
    last_end = 0
    for found in _TOKEN.finditer(text):
        if _SEPARATOR.search(text, last_end, found.start()):
            segment += 1
        last_end = found.end()
        key = _fold_token(found.group())
        start = found.start()
        split = _PREFIXED_NUMBER.match(key) or _PREFIXED_NAME.match(key)
        if split and not (split.group(1) == "tp" and split.group(2) in ("hcm",)):
            cut = start + len(split.group(1))
            tokens.append(_Token(split.group(1), start, cut, segment))
            key, start = split.group(2), cut
        if key.isdigit():
            key = key.lstrip("0") or "0"
        tokens.append(_Token(key, start, found.end(), segment))
    return tokens


@lru_cache(maxsize=1 << 16)
def _fold_token(word: str) -> str:
    """Folded form of one word; words repeat across addresses, so it is cached."""
    return fold(word)


def _marker_before(tokens: list[_Token], index: int) -> tuple[str, int] | None:
    """The type marker that ends right before token ``index``: (type, its first token)."""
    for size in (2, 1):
        first = index - size
        if first < 0 or tokens[first].segment != tokens[index].segment:
            continue
        kind = _MARKERS.get(tuple(token.key for token in tokens[first:index]))
        if kind:
            return kind, first
    return None


def _compatible(marker: str, unit: Unit) -> bool:
    if unit.level in (PROVINCE, OLD_PROVINCE):
        return marker in _PROVINCE_KINDS
    if marker == unit.kind:
        return True
    # "TP. Thủ Đức": a city inside a province was a district; "quận" before a town is a slip.
    return unit.level == OLD_DISTRICT and marker in _DISTRICT_KINDS and unit.kind == "thanhpho"


def _same_tier(marker: str, unit: Unit) -> bool:
    """A marker of the unit's tier but not its type: "thị trấn" before a phường."""
    if unit.level in (WARD, OLD_WARD):
        return marker in _WARD_KINDS
    return unit.level == OLD_DISTRICT and marker in _DISTRICT_KINDS


def _streetish(tokens: list[_Token], index: int, end: int) -> float:
    """How much the run tokens[index:end] reads as a street, alley or hamlet name: the
    factor its score is multiplied by (1.0: not at all).

    It does when a street word or a house number (not a ward number) stands at most two
    tokens before it with no type marker in between, or when its comma-separated part opens
    with a house number and more parts follow ("75 Đinh Tiên Hoàng, Tràng Tiền"). In that
    last case a name that closes the part after a street name of two words or more ("107
    Lê Sao Phú Thạnh, Tân Phú") may as well be the ward: it is only mildly discounted.
    """
    segment = tokens[index].segment
    for back in range(index - 1, max(-1, index - 3), -1):
        token = tokens[back]
        if token.segment != segment or _MARKERS.get((token.key,)):
            break
        if token.key.isdigit() and _marker_before(tokens, back) is None:
            # "thôn Én 2 Khánh Yên Trung": a hamlet's number ends the hamlet, and what
            # follows is free to be the ward; "107 Lê Lợi": a house number starts a street.
            return 1.0 if _hamlet_number(tokens, back) else _STREETISH
        if token.key in _STREET_WORDS:
            return _STREETISH
    first = index
    while first > 0 and tokens[first - 1].segment == segment:
        first -= 1
    if (
        not tokens[first].key.isdigit()
        or tokens[-1].segment == segment
        or _hamlet_number(tokens, first)
        or any(_MARKERS.get((t.key,)) for t in tokens[first:index])
    ):
        return 1.0
    closes_part = end == len(tokens) or tokens[end].segment != segment
    return _STREET_TAIL if closes_part and index - first >= 3 else _STREETISH


def _hamlet_number(tokens: list[_Token], index: int) -> bool:
    """Whether the number at ``index`` numbers a hamlet or group ("khu phố 3", "tổ 5")."""
    segment = tokens[index].segment
    return any(
        tokens[back].segment == segment and tokens[back].key in _HAMLET_WORDS
        for back in range(max(0, index - 2), index)
    )


def _score(
    data: Data,
    tokens: list[_Token],
    start: int,
    end: int,
    level: str,
    code: str,
    full: bool,
    key: str,
    marker: tuple[str, int] | None,
    street_memo: dict[tuple[int, int], float],
) -> tuple[float, int] | None:
    """Score one index hit on tokens[start:end]; returns (score, first token incl. marker).

    ``marker`` is the type marker right before ``start`` (computed once per token), and
    ``street_memo`` caches the street discount of each run for the current text."""
    unit = data.units[(level, code)]
    if full:
        score, first = _FULL, start
    elif marker and _compatible(marker[0], unit):
        score, first = _FULL, marker[1]
    elif marker and _same_tier(marker[0], unit):
        # "Thị trấn Đồng Văn" for what the list now calls Phường Đồng Văn, "huyện" for a
        # district that became a town: units are upgraded, customers keep the old word.
        score, first = _NEAR_MARKER, marker[1]
    elif key.isdigit():
        return None  # "13" alone is a house number, not Phường 13
    elif marker and marker[0] in _WARD_KINDS | _DISTRICT_KINDS | {"tinh"}:
        score, first = _WRONG_MARKER, start
    elif level in (PROVINCE, OLD_PROVINCE):
        score, first = (_ALIAS if len(key) <= 5 else _PROVINCE_SHORT), start
    else:
        score, first = (_SHORT if end - start > 1 else _SHORT_ONE), start
    if not full and not (marker and _compatible(marker[0], unit)):
        factor = street_memo.get((start, end))
        if factor is None:
            factor = street_memo[(start, end)] = _streetish(tokens, start, end)
        score *= factor
    return score, first


def _fuzzy_keys(data: Data, key: str) -> set[str]:
    """Index keys within one edit of ``key`` (deletion, insertion, substitution, swap)."""
    found = set(data.deletes.get(key, ()))
    for i in range(len(key)):
        deleted = key[:i] + key[i + 1 :]
        if deleted in data.index:
            found.add(deleted)
        found.update(data.deletes.get(deleted, ()))
    found.discard(key)
    return found


class _Exact(NamedTuple):
    """The exact pass over one text, kept for the typo pass."""

    matches: list[_Match]
    covered: list[bool]  # tokens an exact reading explains well
    spans: list[tuple[int, int]]  # the spans of those readings
    markers: list[tuple[str, int] | None]  # the type marker before each token
    street_memo: dict[tuple[int, int], float]


def _exact_matches(data: Data, tokens: list[_Token]) -> _Exact:
    count = len(tokens)
    out: list[_Match] = []
    covered = [False] * count
    spans: list[tuple[int, int]] = []
    markers = [_marker_before(tokens, index) for index in range(count)]
    memo: dict[tuple[int, int], float] = {}
    index = data.index
    for start in range(count):
        key = ""
        segment = tokens[start].segment
        marker = markers[start]
        for end in range(start + 1, min(count, start + data.max_key_tokens) + 1):
            if tokens[end - 1].segment != segment:
                break
            key += tokens[end - 1].key
            hits = index.get(key)
            if hits:
                for level, code, full in hits:
                    scored = _score(data, tokens, start, end, level, code, full, key, marker, memo)
                    if scored:
                        out.append(_Match(level, code, scored[1], end, scored[0]))
                        if scored[0] >= _SHORT:
                            covered[start:end] = [True] * (end - start)
                            spans.append((start, end))
    return _Exact(out, covered, spans, markers, memo)


def _fuzzy_matches(data: Data, tokens: list[_Token], exact: _Exact) -> list[_Match]:
    """Names one edit away from runs the exact pass left unexplained (typos)."""
    out: list[_Match] = []
    count = len(tokens)
    covered = exact.covered
    for start in range(count):
        key = ""
        for end in range(start + 1, min(count, start + 4) + 1):
            if tokens[end - 1].segment != tokens[start].segment:
                break
            key += tokens[end - 1].key
            # Words an exact reading already explains are not re-read with a typo, nor cut
            # through ("Hòa Hòa Bình" is not "Hạ Hòa" + "Bình"); a run may contain one ("cồ
            # Chí Minh").
            if len(key) < 5 or all(covered[start:end]) or any(ch.isdigit() for ch in key):
                continue
            if any(a < start < b or a < end < b for a, b in exact.spans):
                continue
            if key in data.index or (tokens[start].key,) in _MARKERS:
                continue
            # Short keys (one edit is a large change) may only be a province: "Hà Nộm".
            provinces_only = len(key) < 6 or (end - start < 2 and len(key) < 7)
            factor = _FUZZY if len(key) >= 8 else _FUZZY_SHORT
            for near in _fuzzy_keys(data, key):
                for level, code, full in data.index[near]:
                    if provinces_only and level not in (PROVINCE, OLD_PROVINCE):
                        continue
                    scored = _score(
                        data,
                        tokens,
                        start,
                        end,
                        level,
                        code,
                        full,
                        near,
                        exact.markers[start],
                        exact.street_memo,
                    )
                    if scored:
                        out.append(_Match(level, code, scored[1], end, scored[0] * factor))
    return out


def _prefer_longest(matches: list[_Match]) -> list[_Match]:
    """Discount a match lying strictly inside a longer one at least as strong ("Trang" in
    "Tràng Tiền"): the longer reading explains more of the text. On the very same words, a
    province's name outranks a ward's or a district's without a marker ("Bình Dương").

    Works on the few distinct spans, not on pairs of matches: a text has hundreds of
    matches but a few dozen spans."""
    best: dict[tuple[int, int], float] = {}
    province_best: dict[tuple[int, int], float] = {}
    for match in matches:
        span = (match.start, match.end)
        if match.score > best.get(span, -1.0):
            best[span] = match.score
        if match.level in (PROVINCE, OLD_PROVINCE) and match.score > province_best.get(span, -1.0):
            province_best[span] = match.score
    # Strongest reading strictly containing each span.
    container: dict[tuple[int, int], float] = {}
    for span in best:
        top = -1.0
        for other, score in best.items():
            if (
                other[0] <= span[0]
                and span[1] <= other[1]
                and other[1] - other[0] > span[1] - span[0]
                and score > top
            ):
                top = score
        container[span] = top
    named = [span for span, score in province_best.items() if score >= MIN_USABLE]
    out: list[_Match] = []
    for match in matches:
        span = (match.start, match.end)
        if container[span] >= match.score:
            match = match._replace(score=match.score * _INSIDE)
        elif (
            match.level not in (PROVINCE, OLD_PROVINCE)
            and province_best.get(span, -1.0) >= match.score
            # ...unless a province is also named elsewhere: then these words are free to be
            # the ward or district ("Hòa Bình, Trà Ôn, Vĩnh Long", "TP. Vĩnh Long, Vĩnh Long").
            and not any(end <= span[0] or span[1] <= start for start, end in named)
        ):
            match = match._replace(score=match.score * 0.5)
        out.append(match)
    return out


def _overlaps(span: tuple[int, int], used: tuple[tuple[int, int], ...]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in used)


def _best(
    options: list[tuple[float, int, int]] | None, used: tuple[tuple[int, int], ...]
) -> tuple[float, tuple[int, int]] | None:
    best: tuple[float, tuple[int, int]] | None = None
    for score, start, end in options or ():
        if (best is None or score > best[0]) and not _overlaps((start, end), used):
            best = (score, (start, end))
    return best


class _Evidence:
    """Matches grouped by level and unit, and province evidence by current province."""

    def __init__(self, data: Data, matches: list[_Match]) -> None:
        self.by_level: dict[str, dict[str, list[tuple[float, int, int]]]] = {
            level: {} for level in (PROVINCE, WARD, OLD_PROVINCE, OLD_DISTRICT, OLD_WARD)
        }
        for match in matches:
            self.by_level[match.level].setdefault(match.code, []).append(
                (match.score, match.start, match.end)
            )
        # current province → [(score, start, end, old province code or None)]
        self.province: dict[str, list[tuple[float, int, int, str | None]]] = {}
        for code, options in self.by_level[PROVINCE].items():
            self.province.setdefault(code, []).extend((*o, None) for o in options)
        for code, options in self.by_level[OLD_PROVINCE].items():
            new_code = data.old_province_to_new[code][0]
            self.province.setdefault(new_code, []).extend((*o, code) for o in options)

    def province_for(
        self, new_code: str, old_code: str | None, used: tuple[tuple[int, int], ...]
    ) -> tuple[float, tuple[int, int], str | None] | None:
        """Best disjoint mention of the current province (or of the old one it came from)."""
        best: tuple[float, tuple[int, int], str | None] | None = None
        for score, start, end, old in self.province.get(new_code, ()):
            if old is not None and old_code is not None and old != old_code:
                score *= 0.5  # another old province merged into the same new one
            if (best is None or score > best[0]) and not _overlaps((start, end), used):
                best = (score, (start, end), old)
        return best


def _hypotheses(data: Data, evidence: _Evidence) -> list[_Hypothesis]:
    hyps: list[_Hypothesis] = []
    by = evidence.by_level
    # First the district each old-ward reading finds: its own, or a neighbour's.
    readings: list[tuple[str, Unit, float, tuple[int, int], tuple[float, tuple[int, int]] | None]]
    readings = []
    consistent: set[tuple[int, int]] = set()
    for code, options in by[OLD_WARD].items():
        unit = data.units[(OLD_WARD, code)]
        new_wards = data.old_ward_to_new[code]
        for score, start, end in options:
            used: tuple[tuple[int, int], ...] = ((start, end),)
            district = _best(by[OLD_DISTRICT].get(unit.district or ""), used)
            if district is None:
                # The district the customer remembers may no longer hold the ward in the
                # 2025-01 list (Nghi Phong moved from Nghi Lộc to Vinh): neighbours count.
                for district_code, district_options in by[OLD_DISTRICT].items():
                    if data.old_district_to_new.get(district_code, frozenset()).isdisjoint(
                        new_wards
                    ):
                        continue
                    found = _best(district_options, used)
                    if found and (district is None or found[0] * 0.8 > district[0]):
                        district = (found[0] * 0.8, found[1])
            if district is not None:
                consistent.add((start, end))
            readings.append((code, unit, score, (start, end), district))
    for code, unit, score, span, district in readings:
        new_wards = data.old_ward_to_new[code]
        province = data.units[(WARD, new_wards[0])].province
        used = (span,)
        old_district = unit.district
        if district is None and score >= _FULL and span not in consistent:
            # Nor neighbours, and no other ward of these words agrees with the district: a
            # district of the same old province still supports a ward written with its type
            # word, weakly, rather than vetoing it ("xã Nghi Phong, Nghi Lộc" when the list
            # has moved Nghi Phong under Thành phố Vinh). The district is reported as typed.
            for district_code, district_options in by[OLD_DISTRICT].items():
                if data.units[(OLD_DISTRICT, district_code)].province != unit.province:
                    continue
                found = _best(district_options, used)
                if found and (district is None or found[0] * 0.5 > district[0]):
                    district = (found[0] * 0.5, found[1])
                    old_district = district_code
        if district:
            score += district[0]
            used += (district[1],)
        mention = evidence.province_for(province, unit.province, used)
        if mention:
            score += mention[0]
            used += (mention[1],)
        identity = ("W", new_wards[0]) if len(new_wards) == 1 else ("w", code)
        hyps.append(
            _Hypothesis(
                score, province, identity, new_wards, code, old_district, unit.province, used
            )
        )
    for code, options in by[WARD].items():
        unit = data.units[(WARD, code)]
        for score, start, end in options:
            used = ((start, end),)
            old_district = None
            best_district: tuple[float, tuple[int, int]] | None = None
            for district_code, district_options in by[OLD_DISTRICT].items():
                if code in data.old_district_to_new.get(district_code, ()):
                    found = _best(district_options, used)
                    if found and (best_district is None or found[0] > best_district[0]):
                        best_district, old_district = found, district_code
            if best_district:
                score += best_district[0]
                used += (best_district[1],)
            old_province = (
                data.units[(OLD_DISTRICT, old_district)].province if old_district else None
            )
            mention = evidence.province_for(unit.province, old_province, used)
            if mention:
                score += mention[0]
                used += (mention[1],)
                old_province = old_province or mention[2]
            hyps.append(
                _Hypothesis(
                    score,
                    unit.province,
                    ("W", code),
                    (code,),
                    None,
                    old_district,
                    old_province,
                    used,
                )
            )
    for code, options in by[OLD_DISTRICT].items():
        unit = data.units[(OLD_DISTRICT, code)]
        province = data.old_province_to_new[unit.province][0]
        for score, start, end in options:
            used = ((start, end),)
            mention = evidence.province_for(province, unit.province, used)
            if mention:
                score += mention[0]
                used += (mention[1],)
            hyps.append(_Hypothesis(score, province, None, (), None, code, unit.province, used))
    for code, mentions in evidence.province.items():
        score, start, end, old = max(mentions, key=lambda mention: mention[0])
        hyps.append(_Hypothesis(score, code, None, (), None, None, old, ((start, end),)))
    return hyps


def _street(text: str, tokens: list[_Token], spans: tuple[tuple[int, int], ...]) -> str | None:
    """The text left once the matched units (and their markers) are taken out."""
    keep = [True] * len(text)
    for start, end in spans:
        for index in range(tokens[start].start, tokens[end - 1].end):
            keep[index] = False
    rest = "".join(ch if ok else "\0" for ch, ok in zip(text, keep, strict=True))
    parts = [re.sub(r"\s+", " ", p).strip(" ,;.-/\0") for p in re.split(r"[,;\n]|\0+", rest)]
    street = ", ".join(p for p in parts if p and any(ch.isalnum() for ch in p))
    return street or None


def _candidate(data: Data, hyp: _Hypothesis, new_ward: str | None, top: float) -> Candidate:
    province = data.units[(PROVINCE, hyp.province)]
    ward = data.units[(WARD, new_ward)] if new_ward else None
    return Candidate(
        province_code=province.code,
        province_name=province.name,
        ward_code=ward.code if ward else None,
        ward_name=ward.name if ward else None,
        old_province_name=_name(data, OLD_PROVINCE, hyp.old_province),
        old_district_name=_name(data, OLD_DISTRICT, hyp.old_district),
        old_ward_name=_name(data, OLD_WARD, hyp.old_ward),
        score=round(min(1.0, hyp.score / top) if top else 0.0, 3),
    )


def _name(data: Data, level: str, code: str | None) -> str | None:
    return data.units[(level, code)].name if code else None


def _build(
    data: Data,
    text: str,
    tokens: list[_Token],
    hyp: _Hypothesis,
    status: str,
    confidence: float,
    candidates: tuple[Candidate, ...],
) -> Resolution:
    province = data.units[(PROVINCE, hyp.province)]
    ward = data.units[(WARD, hyp.new_wards[0])] if status == "resolved" and hyp.new_wards else None
    # An old ward is reported when it was decided (resolved, or split between new wards).
    decided_old_ward = hyp.old_ward if status == "resolved" or len(hyp.new_wards) > 1 else None
    return Resolution(
        text=text,
        status=status,  # type: ignore[arg-type]
        confidence=round(max(0.0, min(1.0, confidence)), 3),
        province_code=province.code,
        province_name=province.name,
        ward_code=ward.code if ward else None,
        ward_name=ward.name if ward else None,
        old_province_code=hyp.old_province,
        old_province_name=_name(data, OLD_PROVINCE, hyp.old_province),
        old_district_code=hyp.old_district,
        old_district_name=_name(data, OLD_DISTRICT, hyp.old_district),
        old_ward_code=decided_old_ward,
        old_ward_name=_name(data, OLD_WARD, decided_old_ward),
        street=_street(text, tokens, hyp.spans),
        candidates=candidates,
    )


def _decide_ward(
    data: Data,
    text: str,
    tokens: list[_Token],
    hyps: list[_Hypothesis],
    province_confidence: float,
) -> Resolution:
    """The province is known: pick the ward, or list the wards the text may mean."""
    hyps = sorted(hyps, key=lambda h: (-round(h.score, 6), h.identity is not None))
    best_any = hyps[0]
    # An old ward split between new wards, read on the same words as one of those new wards
    # ("xã Bát Tràng"), means that new ward: both readings agree on it.
    # The new ward's reading must be as strong: "TT. Quốc Oai" names the old town, not the
    # commune that now bears its name with another type word.
    agreeing: dict[tuple[tuple[int, int], str], float] = {}
    for hyp in hyps:
        if hyp.identity and hyp.identity[0] == "W" and hyp.old_ward is None:
            key = (hyp.spans[0], hyp.new_wards[0])
            agreeing[key] = max(agreeing.get(key, 0.0), hyp.score)
    hyps = [
        hyp
        for hyp in hyps
        if not (
            hyp.identity
            and hyp.identity[0] == "w"
            and any(
                agreeing.get((hyp.spans[0], code), -1.0) >= hyp.score - 1e-6
                for code in hyp.new_wards
            )
        )
    ]
    wards: dict[tuple[str, str], _Hypothesis] = {}
    for hyp in hyps:
        if hyp.identity and hyp.identity not in wards:
            wards[hyp.identity] = hyp
    ranked = list(wards.values())
    if not ranked or (ranked[0].score - 1e-6 <= best_any.score and best_any.identity is None):
        return _build(data, text, tokens, best_any, "province_only", province_confidence, ())
    best = ranked[0]
    runner_up = ranked[1].score if len(ranked) > 1 else 0.0
    lead = best.score - runner_up
    if lead >= MARGIN and len(best.new_wards) == 1:
        ward_confidence = min(1.0, 0.6 + 0.4 * min(1.0, lead / 1.5) + 0.1 * (best.score >= 2))
        return _build(
            data, text, tokens, best, "resolved", province_confidence * ward_confidence, ()
        )
    if lead >= MARGIN:
        # The old ward was split between several current wards: name them all.
        candidates = tuple(_candidate(data, best, code, best.score) for code in best.new_wards)[
            :MAX_CANDIDATES
        ]
        return _build(data, text, tokens, best, "province_only", province_confidence, candidates)
    close = [hyp for hyp in ranked if best.score - hyp.score < MARGIN]
    split: list[Candidate] = []
    seen: set[str] = set()
    for hyp in close:
        for code in hyp.new_wards:
            if code not in seen:
                seen.add(code)
                split.append(_candidate(data, hyp, code, best.score))
    return _build(
        data,
        text,
        tokens,
        best,
        "province_only",
        province_confidence,
        tuple(split[:MAX_CANDIDATES]),
    )


def _resolve(text: str, restrict: str | None) -> Resolution:
    data = load()
    clean = unicodedata.normalize("NFC", text)
    tokens = _tokens(clean)
    result: Resolution | None = None
    exact = _exact_matches(data, tokens)
    for fuzzy in (False, True):
        matches = exact.matches + _fuzzy_matches(data, tokens, exact) if fuzzy else exact.matches
        evidence = _Evidence(data, _prefer_longest(matches))
        hyps = _hypotheses(data, evidence)
        if restrict is not None:
            hyps = [hyp for hyp in hyps if hyp.province == restrict]
        result = _decide(data, text, tokens, hyps, restrict)
        if result.status == "resolved" and len(result.candidates) == 0:
            return result
    assert result is not None
    return result


def _decide(
    data: Data, text: str, tokens: list[_Token], hyps: list[_Hypothesis], restrict: str | None
) -> Resolution:
    if restrict is not None:
        if not hyps:
            province = data.units[(PROVINCE, restrict)]
            return Resolution(
                text=text,
                status="province_only",
                confidence=0.9,
                province_code=province.code,
                province_name=province.name,
                street=text.strip() or None,
            )
        return _decide_ward(data, text, tokens, hyps, 0.95)
    if not hyps or max(hyp.score for hyp in hyps) < MIN_USABLE:
        return Resolution(
            text=text, status="not_found", confidence=0.0, street=text.strip() or None
        )
    per_province: dict[str, _Hypothesis] = {}
    for hyp in sorted(hyps, key=lambda h: -h.score):
        per_province.setdefault(hyp.province, hyp)
    ranked = list(per_province.values())
    best = ranked[0]
    runner_up = ranked[1].score if len(ranked) > 1 else 0.0
    lead = best.score - runner_up
    if best.score >= MIN_DECIDE and lead >= MARGIN:
        confidence = min(0.99, 0.55 + 0.15 * min(best.score, 3.0)) * (
            1.0 if runner_up == 0 else min(1.0, 0.7 + 0.3 * lead / best.score)
        )
        return _decide_ward(
            data, text, tokens, [h for h in hyps if h.province == best.province], confidence
        )
    candidates = tuple(
        _candidate(data, hyp, hyp.new_wards[0] if len(hyp.new_wards) == 1 else None, best.score)
        for hyp in ranked[:MAX_CANDIDATES]
    )
    total = sum(hyp.score for hyp in ranked[:MAX_CANDIDATES])
    return Resolution(
        text=text,
        status="ambiguous",
        confidence=round(min(0.5, best.score / total if total else 0.0), 3),
        street=_street(text, tokens, best.spans),
        candidates=candidates,
    )


def resolve(text: str) -> Resolution:
    """Resolve a free-text Vietnamese address to current (and old) administrative units."""
    return _resolve(text, None)


def resolve_in_province(text: str, province_code: str) -> Resolution:
    """Resolve ``text`` knowing the province (the customer answered "which province?")."""
    if province_by_code(province_code) is None:
        raise ValueError(f"unknown province code {province_code!r}")
    return _resolve(text, province_code)


def list_provinces() -> list[tuple[str, str]]:
    """(code, name) of the 34 current provinces, by code."""
    data = load()
    return sorted(
        (unit.code, unit.name) for (level, _), unit in data.units.items() if level == PROVINCE
    )


def province_by_code(code: str) -> str | None:
    """Current province name for a code, or None when the code is not a current province."""
    unit = load().units.get((PROVINCE, code))
    return unit.name if unit else None
