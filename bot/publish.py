"""``python -m bot publish | rollback``: put CSKH's script live without a restart.

publish: check (``rasa data validate --fail-on-warnings`` + :mod:`bot.scriptlint`) →
train (Rasa's cache: a reply-text edit retrains nothing) → ``rasa test core`` on the
conversation tests → only then the running server swaps models through its
authenticated ``PUT /model``. Conversations continue: they live in the tracker store,
not in the model. A failing gate leaves the old model live and says why.

Every published model is kept under ``models/published/<timestamp>.tar.gz`` (the last
:data:`KEEP`), ``models/published/LIVE`` names the one in service and
``models/current.tar.gz`` is a copy of it, so ``make run`` starts on what was published.
rollback puts the previous one back the same way.

This module imports no Rasa: it runs the ``rasa`` command line and talks HTTP.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from ruamel.yaml import YAML

from bot import scriptlint

ROOT = Path(__file__).resolve().parent.parent
KEEP = 5
LIVE_RESPONSES = "live-responses.yml"  # read by nlg/live_responses.py
LOAD_TIMEOUT = 300.0  # PUT /model
SETTLE_TIMEOUT = 300.0  # after a PUT /model that timed out: until the server answers again
_RESTORED = re.compile(r"Restored component '(\w+)' from cache")
_TRAINED = re.compile(r"Starting to train component '(\w+)'")


class GateFailed(Exception):
    """A gate refused the new script; the message says which and why."""


@dataclass
class Project:
    """Where the script, the models and the live server are; the bench points it at a copy."""

    root: Path
    domain: Path
    data: Path
    config: Path
    tests: Path
    models: Path
    rasa: Path
    rasa_url: str
    token: str | None
    env: dict[str, str] = field(default_factory=dict)
    guides: Path | None = None
    actions: Path = ROOT / "actions"

    @classmethod
    def from_env(cls, root: Path = ROOT) -> Project:
        """This repository, and the server ``make run`` starts (same port and token)."""
        var = Path(os.environ.get("VAR_DIR") or root / "var")
        token = os.environ.get("RASA_AUTH_TOKEN", "").strip() or None
        token_file = var / "rasa-auth-token"
        if token is None and token_file.exists():
            token = token_file.read_text().strip() or None
        port = os.environ.get("RASA_PORT", "5005").strip() or "5005"
        return cls(
            root=root,
            domain=root / "domain.yml",
            data=root / "data",
            config=root / "config.yml",
            tests=root / "tests" / "test_stories.yml",
            models=root / "models",
            rasa=Path(sys.executable).with_name("rasa"),
            rasa_url=f"http://127.0.0.1:{port}",
            token=token,
            guides=root / "guides",
            actions=root / "actions",
        )

    @property
    def published(self) -> Path:
        return self.models / "published"

    @property
    def current(self) -> Path:
        return self.models / "current.tar.gz"

    @property
    def live_marker(self) -> Path:
        return self.published / "LIVE"


@dataclass
class Step:
    """One gate's outcome, for the summary."""

    name: str
    seconds: float
    detail: str = ""


@dataclass
class Report:
    steps: list[Step] = field(default_factory=list)
    model: Path | None = None
    live: bool = False

    def add(self, name: str, started: float, detail: str = "") -> None:
        step = Step(name, time.monotonic() - started, detail)
        self.steps.append(step)
        print(f"  ✓ {name}: {step.seconds:.1f} s{' — ' + detail if detail else ''}", flush=True)

    @property
    def total(self) -> float:
        return sum(s.seconds for s in self.steps)


# -- running rasa -----------------------------------------------------------------------------


def _env(project: Project) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),  # nlu_components/ (the custom tokenizer) lives with the code
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        **project.env,
    }


class Rasa:
    """One ``rasa`` command running in the background, its output in a file.

    A file rather than a pipe: two commands run at once and neither may block on a
    full pipe while the other is waited for.
    """

    def __init__(self, project: Project, *args: str) -> None:
        self.log = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115
        self.process = subprocess.Popen(  # noqa: S603 - our own rasa, fixed arguments
            [str(project.rasa), *args],
            cwd=project.root,
            env=_env(project),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait(self, timeout: float = 1800) -> tuple[int, str]:
        """Exit code and everything it printed."""
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.log.seek(0)
        text = self.log.read()
        self.log.close()
        return code, text


def _tail(text: str, lines: int = 25) -> str:
    kept = [line for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def lint(project: Project) -> None:
    """The project's own checks, in-process (a second): fail before starting Rasa."""
    paths = scriptlint.ScriptPaths(
        root=project.root,
        domain=project.domain,
        data=[project.data],
        actions=project.actions,
        guides=project.guides,
    )
    problems = scriptlint.lint(paths)
    if problems:
        raise GateFailed(
            "kiểm tra kịch bản (script lint) có lỗi:\n" + "\n".join(str(p) for p in problems)
        )


def start_validate(project: Project) -> Rasa:
    """``rasa data validate --fail-on-warnings``, started in the background."""
    return Rasa(
        project,
        "data",
        "validate",
        "--fail-on-warnings",
        "--domain",
        str(project.domain),
        "--data",
        str(project.data),
        "--config",
        str(project.config),
    )


def finish_validate(running: Rasa) -> None:
    code, text = running.wait()
    if code != 0:
        raise GateFailed("rasa data validate báo lỗi:\n" + _tail(text))


def train(project: Project) -> tuple[Path, str]:
    """Train a candidate into an empty folder, so Rasa never answers "nothing changed"."""
    staging = project.models / "candidate"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    code, log = Rasa(
        project,
        "train",
        "--domain",
        str(project.domain),
        "--data",
        str(project.data),
        "--config",
        str(project.config),
        "--out",
        str(staging),
        "--fixed-model-name",
        "candidate",
    ).wait()
    model = staging / "candidate.tar.gz"
    if code != 0 or not model.exists():
        raise GateFailed("huấn luyện thất bại:\n" + _tail(log))
    trained = sorted(set(_TRAINED.findall(log)))
    restored = set(_RESTORED.findall(log))
    detail = (
        f"huấn luyện lại: {', '.join(trained)}" if trained else "không huấn luyện lại gì"
    ) + f"; lấy từ cache: {len(restored)} thành phần"
    return model, detail


def test(project: Project, model: Path, *, fail_fast: bool = True) -> str:
    """The conversation tests; one wrong prediction refuses the model.

    ``fail_fast`` stops at the first wrong prediction (Rasa then writes no report);
    without it every story runs and ``results/failed_test_stories.yml`` lists them all.
    """
    if not project.tests.exists():
        raise GateFailed(f"không có tệp kiểm thử hội thoại {project.tests}")
    out = project.models / "candidate" / "results"
    code, log = Rasa(
        project,
        "test",
        "core",
        "--model",
        str(model),
        "--stories",
        str(project.tests),
        *(["--fail-on-prediction-errors"] if fail_fast else []),
        "--out",
        str(out),
        "--no-plot",
    ).wait()
    failed = out / "failed_test_stories.yml"
    if code == 0 and not fail_fast and failed.exists():
        code = int("- story:" in failed.read_text(encoding="utf-8"))
    if code != 0:
        where = f"\nCác hội thoại sai: {failed}" if failed.exists() else ""
        raise GateFailed("kiểm thử hội thoại chưa đạt:\n" + _tail(log) + where)
    return f"{project.tests.name} đạt"


# -- reusing a test result ------------------------------------------------------------------
#
# ``rasa test core`` checks which ACTION the policies predict at each step; it never looks
# at reply texts or at the NLU (the test stories give the intents). After a reply-text edit
# the cache restores the very same policy files, so the test would repeat a result already
# known. The key below covers everything the test depends on: the test stories, the policy
# components' files and the domain with response texts removed (names kept). Equal key,
# same result: the gate is still applied, by reusing the earlier pass.

TESTED = "tested-keys.txt"


def core_test_key(model: Path, tests: Path) -> str | None:
    """Fingerprint of what ``rasa test core`` depends on; None when it cannot be reused."""
    text = tests.read_text(encoding="utf-8")
    if re.search(r"^\s*-\s*bot:", text, re.MULTILINE):  # texts are compared: always test
        return None
    digest = hashlib.sha256(text.encode())
    files, domain = _model_parts(model, keep=lambda node: "Policy" in node)
    digest.update(b"domain\0" + _names_only(domain))
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name])
    return digest.hexdigest()


def tested_keys(project: Project) -> list[str]:
    path = project.models / TESTED
    return path.read_text().split() if path.exists() else []


def remember_pass(project: Project, key: str | None) -> None:
    if key is None:
        return
    keys = [*[k for k in tested_keys(project) if k != key][-19:], key]
    project.models.mkdir(parents=True, exist_ok=True)
    (project.models / TESTED).write_text("\n".join(keys) + "\n")


def gate_tests(project: Project, model: Path) -> str:
    """The test gate: reuse an earlier pass when nothing it depends on changed."""
    key = core_test_key(model, project.tests) if project.tests.exists() else None
    if key is not None and key in tested_keys(project):
        return "như lần đạt trước (chính sách hội thoại, tên câu trả lời và bài kiểm thử không đổi)"
    result = test(project, model)
    remember_pass(project, key)
    return result


# -- the live server ---------------------------------------------------------------------------


def server_model(project: Project) -> str | None:
    """The model file the running server reports, or None when none answers."""
    if not project.token:
        return None
    try:
        response = httpx.get(
            f"{project.rasa_url}/status", params={"token": project.token}, timeout=5
        )
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    return str(response.json().get("model_file") or "")


def load_on_server(project: Project, model: Path) -> None:
    """``PUT /model``: the server swaps agents between two messages, no restart."""
    try:
        response = httpx.put(
            f"{project.rasa_url}/model",
            params={"token": project.token},
            json={"model_file": str(model.resolve())},
            timeout=LOAD_TIMEOUT,
        )
    except httpx.TimeoutException:
        # The request is in; Rasa may still be loading (on its event loop, so /status
        # answers only when that is over). Ask which model won rather than call it a
        # failure, which would leave LIVE naming the old model while the new one serves.
        reported = _settled_model(project, model)
        if model.name in reported:
            return
        raise GateFailed(
            f"máy chủ Rasa không trả lời PUT /model sau {LOAD_TIMEOUT:.0f} s "
            f"và vẫn báo mô hình: {reported or 'không rõ'}"
        ) from None
    except httpx.HTTPError as exc:
        raise GateFailed(f"máy chủ Rasa không nạp được mô hình: {exc}") from exc
    if response.status_code != 204:
        raise GateFailed(
            f"máy chủ Rasa từ chối mô hình ({response.status_code}): {response.text[:500]}"
        )
    reported = server_model(project) or ""
    if model.name not in reported:
        raise GateFailed(f"máy chủ vẫn báo mô hình cũ: {reported}")


def _settled_model(project: Project, model: Path, grace: float = 15.0) -> str:
    """After a timed-out ``PUT /model``: the model the server reports once it answers
    again, waiting up to ``SETTLE_TIMEOUT`` for it to answer and then ``grace`` seconds
    for ``model`` to appear."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    answered_at: float | None = None
    reported = ""
    while time.monotonic() < deadline:
        current = server_model(project)
        if current is not None:
            reported = current
            if model.name in current:
                return current
            answered_at = answered_at or time.monotonic()
            if time.monotonic() - answered_at > grace:
                return current
        time.sleep(1)
    return reported


# -- the published models ---------------------------------------------------------------------


def published(project: Project) -> list[Path]:
    """Published models, oldest first."""
    return sorted(project.published.glob("*.tar.gz"))


def live(project: Project) -> Path | None:
    marker = project.live_marker
    if marker.exists():
        path = project.published / marker.read_text().strip()
        if path.exists():
            return path
    models = published(project)
    return models[-1] if models else None


def mark_live(project: Project, model: Path) -> None:
    """LIVE marker and ``current.tar.gz``, each replaced atomically."""
    tmp = project.current.with_suffix(".tmp")
    shutil.copyfile(model, tmp)
    tmp.replace(project.current)
    marker_tmp = project.live_marker.with_suffix(".tmp")
    marker_tmp.write_text(model.name)
    marker_tmp.replace(project.live_marker)


# -- reply texts without a model swap -----------------------------------------------------------
#
# The running server's NLG (``nlg/live_responses.py``) serves the texts of
# ``$VAR_DIR/live-responses.yml`` and re-reads it when it changes. When a candidate differs
# from the live model ONLY in reply texts (every component file byte-identical, the domain
# identical once texts are removed), writing that file is the whole hand-over: no ``PUT
# /model``, no model load, no message waiting for it.


def _read_yaml(data: bytes) -> dict[str, Any]:
    """A script or model YAML file read as Rasa reads it: YAML 1.2, where ``Yes``, ``No``
    and ``on`` are words (YAML 1.1 would turn a button titled Yes into ``True``)."""
    parser = YAML(typ="safe")
    parser.version = (1, 2)  # type: ignore[assignment]
    loaded = parser.load(data.decode("utf-8"))
    return loaded if isinstance(loaded, dict) else {}


def _every_node(node: str) -> bool:
    return True


def _no_node(node: str) -> bool:
    return False


def _model_parts(
    model: Path, keep: Callable[[str], bool] = _every_node
) -> tuple[dict[str, bytes], dict[str, object]]:
    """The domain of a model archive and the files of the component nodes ``keep`` accepts.

    Files of other nodes are not read (the TED and ResponseSelector weights are megabytes).
    """
    files: dict[str, bytes] = {}
    domain: dict[str, object] = {}
    with tarfile.open(model, "r:gz") as archive:
        for member in archive.getmembers():
            parts = member.name.lstrip("/").split("/")
            if not member.isfile() or len(parts) < 3 or parts[0] != "components":
                continue
            is_domain = parts[1] == "domain_provider" and parts[-1] == "domain.yml"
            if not is_domain and not keep(parts[1]):
                continue
            handle = archive.extractfile(member)
            if handle is None:
                continue
            data = handle.read()
            if is_domain:
                domain = _read_yaml(data)
            else:
                files["/".join(parts)] = data
    return files, domain


def texts_only_change(live_model: Path, candidate: Path) -> bool:
    """True when the two models predict the same and differ at most in reply texts."""
    live_files, live_domain = _model_parts(live_model)
    new_files, new_domain = _model_parts(candidate)
    return live_files == new_files and _names_only(live_domain) == _names_only(new_domain)


def _names_only(domain: dict[str, object]) -> bytes:
    """The domain with reply texts removed and response names kept, canonical JSON."""
    responses = domain.get("responses") or {}
    kept = {**domain, "responses": sorted(responses)}  # type: ignore[call-overload]
    return json.dumps(kept, sort_keys=True, default=str).encode()


# A texts-only edit does not even need `rasa train`: the model in service plus the new
# texts IS the model Rasa would build from its cache. Each published model records the
# key of the script it was built from (``<model>.script``); when the edited script has the
# same key, the new model is the live archive with its responses replaced.

SCRIPT_KEY_SUFFIX = ".script"


def script_key(project: Project) -> str:
    """What a model's predictions depend on: config, NLU components, data, domain sans texts.

    Retrieval answers (``utter_faq/…``) stay in: Rasa trains the ResponseSelector on them.
    """
    digest = hashlib.sha256(project.config.read_bytes())
    # The NLU components' code and the folding rules they import (bot/text.py).
    for path in [*sorted((ROOT / "nlu_components").glob("*.py")), ROOT / "bot" / "text.py"]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    # Every file: Rasa trains on .yml, .yaml and .json alike (a stray file costs a training).
    for path in sorted(p for p in project.data.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(project.data)).encode() + b"\0" + path.read_bytes())
    domain = _read_yaml(project.domain.read_bytes())
    responses = domain.get("responses") or {}
    domain["responses"] = {name: (v if "/" in name else None) for name, v in responses.items()}
    digest.update(json.dumps(domain, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def recorded_key(model: Path) -> str | None:
    path = model.with_name(model.name + SCRIPT_KEY_SUFFIX)
    return path.read_text().strip() or None if path.exists() else None


def record_key(model: Path, key: str) -> None:
    model.with_name(model.name + SCRIPT_KEY_SUFFIX).write_text(key + "\n")


def with_new_texts(project: Project, base: Path, target: Path) -> Path:
    """``base`` with the responses of the project's domain.yml (metadata and domain provider).

    Every other file is copied byte for byte; the model gets a new id and training time.
    """
    responses = _read_yaml(project.domain.read_bytes()).get("responses") or {}
    tmp = target.with_name(f".{target.name}.tmp")
    # Level 1: the archive is rewritten on every texts-only publish; speed over size.
    with (
        tarfile.open(base, "r:gz") as source,
        tarfile.open(tmp, "w:gz", compresslevel=1) as out,
    ):
        for member in source.getmembers():
            handle = source.extractfile(member) if member.isfile() else None
            data = handle.read() if handle else None
            name = member.name.lstrip("/")
            if name == "metadata.json" and data is not None:
                metadata = json.loads(data)
                metadata["domain"]["responses"] = _texts(metadata["domain"], responses)
                metadata["model_id"] = os.urandom(16).hex()
                metadata["trained_at"] = (
                    dt.datetime.now(dt.timezone.utc).replace(tzinfo=None).isoformat()
                )  # as Rasa writes it: naive UTC
                data = json.dumps(metadata, ensure_ascii=False, indent=2).encode()
            elif name == "components/domain_provider/domain.yml" and data is not None:
                domain = _read_yaml(data)
                domain["responses"] = _texts(domain, responses)
                data = yaml.safe_dump(domain, allow_unicode=True, sort_keys=False).encode()
            if data is None:
                out.addfile(member)
                continue
            member.size = len(data)
            out.addfile(member, io.BytesIO(data))
    tmp.replace(target)
    return target


def _texts(base: dict[str, object], responses: dict[str, object]) -> dict[str, object]:
    """domain.yml's responses, plus the FAQ answers Rasa merged in from NLU data files.

    Those are in the script key (data/), so a texts-only change left them as they were.
    """
    kept = base.get("responses")
    if not isinstance(kept, dict):
        kept = {}
    merged = {k: v for k, v in kept.items() if "/" in k and k not in responses}
    return {**responses, **merged}


def live_responses_file(project: Project) -> Path:
    var = Path(project.env.get("VAR_DIR") or os.environ.get("VAR_DIR") or project.root / "var")
    return var / LIVE_RESPONSES


def responses_fingerprint(responses: object) -> str:
    """A model's reply texts, hashed: which models a live-responses file may override."""
    canonical = json.dumps(responses or {}, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _listed_models(path: Path) -> list[str]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return []
    models = loaded.get("models") if isinstance(loaded, dict) else None
    return [str(m) for m in models] if isinstance(models, list) else []


def write_live_responses(project: Project, model: Path, *, also_for: Path | None = None) -> Path:
    """The model's reply texts, written where the server's NLG reads them (atomic replace).

    ``models`` lists the response fingerprints of the models the texts may override: this
    one's, and on a texts-only hand-over (``also_for``: the model the server keeps) that
    one's and those already listed. Any other model (``make train`` then ``make run``)
    serves its own texts.
    """
    _, domain = _model_parts(model, keep=_no_node)
    responses = domain.get("responses") or {}
    target = live_responses_file(project)
    models = [responses_fingerprint(responses)]
    if also_for is not None:
        _, kept = _model_parts(also_for, keep=_no_node)
        models.append(responses_fingerprint(kept.get("responses")))
        models.extend(_listed_models(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(
        "# Written by `make publish` / `make rollback` from "
        f"{model.name}; edit domain.yml, not this file.\n"
        + yaml.safe_dump(
            {"models": list(dict.fromkeys(models)), "responses": responses},
            allow_unicode=True,
            sort_keys=True,
        ),
        encoding="utf-8",
    )
    tmp.replace(target)
    return target


def _prune(project: Project) -> None:
    keep = live(project)
    models = published(project)
    for old in models[:-KEEP]:
        if old != keep:
            old.unlink()
            old.with_name(old.name + SCRIPT_KEY_SUFFIX).unlink(missing_ok=True)


@contextlib.contextmanager
def _locked(project: Project) -> Iterator[None]:
    """One publish or rollback at a time on this machine."""
    project.models.mkdir(parents=True, exist_ok=True)
    with (project.models / ".publish.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise GateFailed("một lần publish/rollback khác đang chạy; chờ nó xong") from exc
        yield


def _go_live(
    project: Project,
    model: Path,
    report: Report,
    in_service: Path | None,
    texts_only: bool | None = None,
) -> None:
    """Hand ``model`` to the server; ``in_service`` is the model it runs now (None: unknown).

    ``texts_only``: already known (a model built from ``in_service`` by
    :func:`with_new_texts`); None compares the two archives.
    """
    started = time.monotonic()
    if server_model(project) is None:
        mark_live(project, model)
        write_live_responses(project, model)
        report.add(
            "đưa vào dùng",
            started,
            f"Rasa không chạy ở {project.rasa_url}: mô hình sẽ được dùng ở lần `make run` tới",
        )
        return
    if texts_only is None:
        texts_only = (
            in_service is not None and in_service != model and texts_only_change(in_service, model)
        )
    if texts_only:
        mark_live(project, model)
        write_live_responses(project, model, also_for=in_service)
        report.live = True
        report.add(
            "đưa vào dùng",
            started,
            "chỉ đổi câu trả lời: máy chủ dùng ngay câu mới, không cần nạp lại mô hình",
        )
        return
    load_on_server(project, model)
    mark_live(project, model)
    write_live_responses(project, model)
    report.live = True
    report.add("đưa vào dùng", started, f"máy chủ đã nạp {model.name}, không khởi động lại")


def _keep_first(project: Project) -> None:
    """Before the first publish, keep the model ``make train`` made, so rollback can return."""
    project.published.mkdir(parents=True, exist_ok=True)
    if published(project) or not project.current.exists():
        return
    made = dt.datetime.fromtimestamp(project.current.stat().st_mtime, dt.timezone.utc)
    shutil.copyfile(project.current, _free_name(project, made))


def publish(project: Project) -> Report:
    """Every gate, then the swap; raises :class:`GateFailed` with the reason."""
    report = Report()
    with _locked(project):
        started = time.monotonic()
        lint(project)
        report.add("script lint", started, "OK")
        key = script_key(project)
        _keep_first(project)
        in_service = live(project)
        if in_service is not None and recorded_key(in_service) == key:
            return _publish_texts(project, report, in_service, key)
        # rasa data validate and training each spend most of their time starting up;
        # run side by side, the gate still holds: nothing is tested or loaded until both pass.
        started = time.monotonic()
        validating = start_validate(project)
        try:
            candidate, detail = train(project)
        finally:
            finish_validate(validating)
        report.add("rasa data validate + huấn luyện (song song)", started, detail)
        started = time.monotonic()
        report.add("kiểm thử hội thoại", started, gate_tests(project, candidate))
        model = _new_published(project)
        shutil.move(str(candidate), model)
        _finish(project, report, model, in_service, key)
    return report


def _new_published(project: Project) -> Path:
    return _free_name(project, dt.datetime.now(dt.timezone.utc))


def _free_name(project: Project, moment: dt.datetime) -> Path:
    """``<UTC time>.tar.gz``: names sort in publishing order whatever the server's time
    zone, and two publishes in one second take the next free second rather than
    overwriting a model that rollback may need."""
    while True:
        path = project.published / f"{moment:%Y%m%d-%H%M%S}.tar.gz"
        if not path.exists():
            return path
        moment += dt.timedelta(seconds=1)


def _finish(
    project: Project,
    report: Report,
    model: Path,
    in_service: Path | None,
    key: str,
    texts_only: bool | None = None,
) -> None:
    try:
        _go_live(project, model, report, in_service, texts_only)
    except GateFailed:
        model.unlink(missing_ok=True)
        raise
    record_key(model, key)
    report.model = model
    _prune(project)


def _publish_texts(project: Project, report: Report, in_service: Path, key: str) -> Report:
    """Only reply texts changed since the live model: validate, no training, same gates."""
    started = time.monotonic()
    finish_validate(start_validate(project))
    report.add("rasa data validate", started, "OK")
    started = time.monotonic()
    model = with_new_texts(project, in_service, _new_published(project))
    report.add(
        "huấn luyện",
        started,
        "không cần: chỉ đổi chữ câu trả lời (mô hình đang dùng + câu trả lời mới)",
    )
    started = time.monotonic()
    try:
        report.add("kiểm thử hội thoại", started, gate_tests(project, model))
    except GateFailed:
        model.unlink(missing_ok=True)
        raise
    _finish(project, report, model, in_service, key, texts_only=True)
    return report


def rollback(project: Project) -> Report:
    """Put the model published before the live one back in service."""
    report = Report()
    with _locked(project):
        current = live(project)
        models = published(project)
        older = [m for m in models if current is None or m.name < current.name]
        if not older:
            raise GateFailed("không còn bản đã publish nào cũ hơn bản đang dùng")
        _go_live(project, older[-1], report, current)
        report.model = older[-1]
    return report


def main(argv: list[str] | None = None) -> int:
    """``python -m bot publish`` or ``python -m bot rollback``."""
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    parser.add_argument("command", choices=["publish", "rollback"])
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    project = Project.from_env()
    action = publish if args.command == "publish" else rollback
    print(f"{args.command}: bắt đầu", flush=True)
    try:
        report = action(project)
    except GateFailed as exc:
        print(f"\n✗ DỪNG, mô hình cũ vẫn đang dùng. Lý do: {exc}", file=sys.stderr)
        return 1
    where = "đang phục vụ" if report.live else "sẽ dùng ở lần `make run` tới"
    name = report.model.name if report.model else "?"
    print(f"{args.command}: xong sau {report.total:.1f} s — {name} {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
