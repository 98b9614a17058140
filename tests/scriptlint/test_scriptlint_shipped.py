"""The script as shipped passes the lint (what `make check-script` runs)."""

from __future__ import annotations

from bot.scriptlint import ROOT, ScriptPaths, lint


def test_the_shipped_script_passes():
    problems = lint(ScriptPaths.of(ROOT))
    assert [str(p) for p in problems] == []


def test_the_shipped_guides_exist():
    names = {p.name for p in (ROOT / "guides").glob("*.yml")}
    assert {"outbound_call.yml", "operator_guide.yml"} <= names
