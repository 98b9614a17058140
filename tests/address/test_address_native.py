"""The compiled resolver (mypyc, built by ``make install``) and its pure-Python fallback."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from bot.address import _native, resolve
from bot.address.model import Candidate, Resolution
from bot.address.resolver import _PIECE, _words, candidate, resolution

# Addresses written for the tests: every status, both structures, typos, no commas.
ADDRESSES = [
    "12/3 Le Van Sy P13 Q3 tphcm",
    "so 5 ngo 12 p.Phuong Mai q.Dong Da HN",
    "xom 2 xa Nghi Phong, Nghi Loc, Nghe An",
    "thôn Đông, xã Tân Hòa, Quốc Oai",
    "Phường 1",
    "Tân Phú",
    "P. Bếnn Ngghé, Quận 1, TP HCM",
    "khu phố 3 phường tân phú quận 7 hồ chí minh",
    "Hà Nộm",
    "xyz",
    "",
]


def test_the_compiled_modules_are_used_when_built_from_these_sources() -> None:
    if os.environ.get(_native.PURE_ENV, "") not in ("", "0"):
        pytest.skip("pure Python forced")
    try:
        recorded = json.loads(_native.MANIFEST.read_text(encoding="utf-8"))
    except OSError:
        pytest.skip("the resolver is not compiled here (make install compiles it)")
    if recorded != _native.digests():
        pytest.skip("the compiled resolver is older than its source (make install)")
    assert _native.compiled()


def test_pure_python_gives_the_same_answers() -> None:
    if not _native.compiled():
        pytest.skip("the resolver in use is already pure Python")
    script = (
        "import json, sys\n"
        "from bot.address import _native, resolve\n"
        "assert not _native.compiled()\n"
        "print(json.dumps([resolve(t).to_dict() for t in json.loads(sys.argv[1])]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(ADDRESSES)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, _native.PURE_ENV: "1"},
        cwd=Path(__file__).resolve().parents[2],
    )
    assert json.loads(done.stdout) == [resolve(text).to_dict() for text in ADDRESSES]


def test_a_build_of_other_sources_is_not_used(tmp_path, monkeypatch) -> None:
    manifest = tmp_path / "sources.json"
    monkeypatch.setattr(_native, "MANIFEST", manifest)
    monkeypatch.delenv(_native.PURE_ENV, raising=False)
    assert _native.directory() is None  # never built
    manifest.write_text(json.dumps(_native.digests()), encoding="utf-8")
    assert _native.directory() == _native.PACKAGE_DIR
    monkeypatch.setenv(_native.PURE_ENV, "1")
    assert _native.directory() is None  # pure Python asked for
    monkeypatch.delenv(_native.PURE_ENV)
    stale = {**_native.digests(), "resolver": "0" * 64}
    manifest.write_text(json.dumps(stale), encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _native.directory() is None  # resolver.py edited since the build
    assert any("older than its source" in str(w.message) for w in caught)


def test_the_fast_constructor_builds_an_equal_frozen_resolution() -> None:
    values: dict[str, object] = {
        "text": "p kim lien, dong da, ha noi",
        "status": "resolved",
        "confidence": 0.9,
        "province_code": "01",
        "province_name": "Thành phố Hà Nội",
        "ward_code": "00001",
        "ward_name": "Phường Kim Liên",
        "old_district_name": "Quận Đống Đa",
        "street": None,
        "candidates": (Candidate("01", "Thành phố Hà Nội", None, None),),
    }
    fast = resolution(**values)
    slow = Resolution(**values)  # type: ignore[arg-type]
    assert fast == slow
    assert hash(fast) == hash(slow)
    assert fast.to_dict() == slow.to_dict()
    assert fast.old_ward_code is None  # defaults filled in
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.status = "ambiguous"  # type: ignore[misc]


def test_the_fast_constructor_builds_an_equal_frozen_candidate() -> None:
    values: dict[str, object] = {
        "province_code": "01",
        "province_name": "Thành phố Hà Nội",
        "ward_code": "00001",
        "ward_name": "Phường Kim Liên",
        "old_district_name": "Quận Đống Đa",
    }
    fast = candidate(**values)
    slow = Candidate(**values)  # type: ignore[arg-type]
    assert fast == slow
    assert hash(fast) == hash(slow)
    assert fast.label == slow.label
    assert fast.score == 0.0  # defaults filled in
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.score = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    "text",
    [
        "12/3 Lê Văn Sỹ, P.13, Q.3, TP.HCM",
        "P.13,Q.3 tp.HCM",
        "thôn 2\nxã Tân Hòa | Quốc Oai",
        "Lê-Văn_Sỹ  ,, ;x;",
        " số ½ ngõ ², a\u00a0b\tc ",
        ",",
        "",
    ],
)
def test_words_are_what_the_pattern_finds(text: str) -> None:
    expected = [(found.group(), found.start()) for found in _PIECE.finditer(text)]
    assert _words(text) == expected
