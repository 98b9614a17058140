"""publish/rollback bookkeeping: gates before Rasa, kept models, LIVE marker, rollback.

The Rasa steps themselves (train, test, PUT /model against a running server) are
exercised end to end by ``bench/publish.py``; here no server listens, which is also the
"bot not running" case of ``make publish``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bot import publish as pub
from bot.publish import GateFailed, Project
from tests_support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path) -> Project:
    script = tmp_path / "script"
    script.mkdir()
    for name in ("domain.yml", "config.yml"):
        shutil.copy2(ROOT / name, script / name)
    shutil.copytree(ROOT / "data", script / "data")
    shutil.copytree(ROOT / "guides", script / "guides")
    project = Project.from_env(script)
    project.rasa_url = f"http://127.0.0.1:{free_port()}"  # nobody listens
    project.token = "t"
    project.actions = ROOT / "actions"
    return project


def fake_models(project: Project, *stamps: str) -> list[Path]:
    project.published.mkdir(parents=True, exist_ok=True)
    paths = []
    for stamp in stamps:
        path = project.published / f"{stamp}.tar.gz"
        path.write_bytes(stamp.encode())
        paths.append(path)
    return paths


def test_a_lint_error_stops_publish_before_rasa_and_keeps_the_old_model(project):
    (old,) = fake_models(project, "20250101-000000")
    pub.mark_live(project, old)
    domain = project.domain
    domain.write_text(
        domain.read_text(encoding="utf-8").replace(
            "Dạ, chào Quý khách.", "Dạ, Quý khách gọi 0901234567 nhé."
        ),
        encoding="utf-8",
    )
    with pytest.raises(GateFailed, match=r"domain\.yml:\d+: .*0901234567"):
        pub.publish(project)
    assert project.current.read_bytes() == b"20250101-000000"
    assert pub.live(project) == old
    assert not (project.models / "candidate").exists()  # training never started


def test_rollback_without_a_server_moves_live_and_current_back(project, tmp_path, capsys):
    project.env["VAR_DIR"] = str(tmp_path / "var")
    project.published.mkdir(parents=True)
    first = fake_archive(project.published / "20250101-000000.tar.gz", DOMAIN)
    second = fake_archive(
        project.published / "20250102-000000.tar.gz", DOMAIN.replace("Chào", "Xin chào")
    )
    pub.mark_live(project, second)
    report = pub.rollback(project)
    assert report.model == first and report.live is False
    assert pub.live(project) == first
    assert project.current.read_bytes() == first.read_bytes()
    assert "make run" in capsys.readouterr().out
    texts = yaml.safe_load(pub.live_responses_file(project).read_text(encoding="utf-8"))
    assert texts["responses"]["utter_greet"] == [{"text": "Chào"}]
    with pytest.raises(GateFailed, match="không còn bản"):
        pub.rollback(project)


def test_prune_keeps_the_last_five_and_the_live_one(project):
    models = fake_models(project, *(f"2025010{i}-000000" for i in range(1, 9)))
    pub.mark_live(project, models[0])  # rolled far back
    pub._prune(project)
    left = pub.published(project)
    assert left[0] == models[0]
    assert left[1:] == models[-pub.KEEP :]


def test_one_publish_at_a_time(project):
    with pub._locked(project), pytest.raises(GateFailed, match="đang chạy"):  # noqa: SIM117
        with pub._locked(project):
            pass


def test_server_model_is_none_when_nothing_listens_or_no_token(project):
    assert pub.server_model(project) is None
    project.token = None
    assert pub.server_model(project) is None


def fake_archive(path: Path, domain: str, policy: bytes = b"ted", nlu: bytes = b"diet") -> Path:
    """A model archive shaped like Rasa's (components/<node>/<files>)."""
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as archive:
        for name, data in (
            ("components/domain_provider/domain.yml", domain.encode()),
            ("components/train_TEDPolicy9/ted.data", policy),
            ("components/train_DIETClassifier5/diet.data", nlu),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


DOMAIN = 'intents: [greet]\nresponses:\n  utter_greet:\n  - text: "Chào"\n'


def test_test_key_ignores_reply_texts_and_nlu_but_not_policies_or_names(tmp_path):
    tests = tmp_path / "test_stories.yml"
    tests.write_text("stories:\n- story: a\n  steps:\n  - intent: greet\n  - action: utter_greet\n")
    key = pub.core_test_key(fake_archive(tmp_path / "a.tar.gz", DOMAIN), tests)
    texts = DOMAIN.replace("Chào", "Xin chào")
    assert pub.core_test_key(fake_archive(tmp_path / "b.tar.gz", texts, nlu=b"x"), tests) == key
    renamed = DOMAIN.replace("utter_greet", "utter_hello")
    assert pub.core_test_key(fake_archive(tmp_path / "c.tar.gz", renamed), tests) != key
    retrained = fake_archive(tmp_path / "d.tar.gz", DOMAIN, policy=b"other")
    assert pub.core_test_key(retrained, tests) != key
    tests.write_text(tests.read_text() + "  - bot: Chào\n")  # texts compared: never reused
    assert pub.core_test_key(tmp_path / "a.tar.gz", tests) is None


def test_a_pass_is_remembered_by_key(project):
    pub.remember_pass(project, "k1")
    pub.remember_pass(project, "k2")
    pub.remember_pass(project, "k1")
    assert pub.tested_keys(project) == ["k2", "k1"]


def test_the_model_make_train_made_is_kept_for_a_rollback(project):
    project.models.mkdir(parents=True)
    project.current.write_bytes(b"made by make train")
    pub._keep_first(project)
    (kept,) = pub.published(project)
    assert kept.read_bytes() == b"made by make train"
    pub._keep_first(project)  # only before the first publish
    assert len(pub.published(project)) == 1


def test_texts_only_change_is_recognised_and_nothing_else_is(tmp_path):
    live = fake_archive(tmp_path / "live.tar.gz", DOMAIN)
    texts = fake_archive(tmp_path / "t.tar.gz", DOMAIN.replace("Chào", "Xin chào Quý khách"))
    assert pub.texts_only_change(live, texts)
    renamed = fake_archive(tmp_path / "r.tar.gz", DOMAIN.replace("utter_greet", "utter_hello"))
    assert not pub.texts_only_change(live, renamed)
    new_nlu = fake_archive(tmp_path / "n.tar.gz", DOMAIN, nlu=b"retrained")
    assert not pub.texts_only_change(live, new_nlu)
    new_intent = fake_archive(tmp_path / "i.tar.gz", DOMAIN.replace("[greet]", "[greet, thank]"))
    assert not pub.texts_only_change(live, new_intent)


def test_live_responses_are_written_atomically_from_the_model(project, tmp_path):
    project.env["VAR_DIR"] = str(tmp_path / "var")
    model = fake_archive(tmp_path / "m.tar.gz", DOMAIN.replace("Chào", "Chào Quý khách 👋"))
    path = pub.write_live_responses(project, model)
    assert path == tmp_path / "var" / "live-responses.yml"
    responses = {"utter_greet": [{"text": "Chào Quý khách 👋"}]}
    assert yaml.safe_load(path.read_text(encoding="utf-8")) == {
        "models": [pub.responses_fingerprint(responses)],  # the texts are for this model
        "responses": responses,
    }
    assert [p.name for p in path.parent.iterdir()] == ["live-responses.yml"]  # no temp left


def test_script_key_ignores_reply_texts_but_not_data_config_or_faq_answers(project):
    key = pub.script_key(project)
    edit = project.domain.read_text(encoding="utf-8")
    project.domain.write_text(edit.replace("Dạ, chào Quý khách.", "Chào anh/chị."), "utf-8")
    assert pub.script_key(project) == key
    faq = project.domain.read_text(encoding="utf-8")
    assert "utter_faq/is_free:" in faq
    project.domain.write_text(faq.replace("hoàn toàn MIỄN PHÍ ạ", "MIỄN PHÍ ạ"), "utf-8")
    assert pub.script_key(project) != key  # the ResponseSelector trains on FAQ answers
    project.domain.write_text(edit, "utf-8")
    nlu = project.data / "nlu" / "chitchat.yml"
    nlu.write_text(nlu.read_text(encoding="utf-8") + "\n", "utf-8")
    assert pub.script_key(project) != key


@pytest.mark.skipif(not pub.ROOT.joinpath("models/current.tar.gz").exists(), reason="make train")
def test_a_texts_only_publish_reuses_the_live_model_without_training(project, tmp_path):
    """The whole fast path with the real model and `rasa data validate` (no server)."""
    from rasa.engine.storage.local_model_storage import LocalModelStorage

    project.env["VAR_DIR"] = str(tmp_path / "var")
    project.published.mkdir(parents=True)
    live_model = project.published / "20250101-000000.tar.gz"
    shutil.copyfile(pub.ROOT / "models/current.tar.gz", live_model)
    pub.mark_live(project, live_model)
    pub.record_key(live_model, pub.script_key(project))
    project.tests.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ROOT / "tests/test_stories.yml", project.tests)
    pub.remember_pass(project, pub.core_test_key(live_model, project.tests))

    domain = project.domain.read_text(encoding="utf-8")
    assert "Dạ, chào Quý khách." in domain
    project.domain.write_text(domain.replace("Dạ, chào Quý khách.", "Chào anh chị ạ."), "utf-8")
    report = pub.publish(project)

    assert not (project.models / "candidate").exists()  # nothing was trained
    assert report.model is not None and report.model != live_model
    assert pub.live(project) == report.model
    assert pub.recorded_key(report.model) == pub.recorded_key(live_model)
    metadata = LocalModelStorage.metadata_from_archive(report.model)
    texts = yaml.safe_dump(metadata.domain.responses, allow_unicode=True)
    assert "Chào anh chị ạ." in texts and "Dạ, chào Quý khách." not in texts
    assert pub.texts_only_change(live_model, report.model)
    served = pub.live_responses_file(project).read_text(encoding="utf-8")
    assert "Chào anh chị ạ." in served


def test_script_key_sees_every_training_file_not_only_yml(project):
    """Rasa trains on ``.yaml`` files too: a new one must not take the texts-only path."""
    key = pub.script_key(project)
    extra = project.data / "nlu" / "more.yaml"
    extra.write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - xin chào bạn nhé\n',
        encoding="utf-8",
    )
    assert pub.script_key(project) != key


@pytest.mark.skipif(not pub.ROOT.joinpath("models/current.tar.gz").exists(), reason="make train")
def test_with_new_texts_keeps_faq_answers_written_in_the_training_data(project, tmp_path):
    """Rasa merges ``responses:`` of NLU data files into the model's domain; a texts-only
    model must keep them, or the FAQ answer the ResponseSelector picks has no text."""
    from rasa.engine.storage.local_model_storage import LocalModelStorage

    domain = yaml.safe_load(project.domain.read_text(encoding="utf-8"))
    answer = domain["responses"].pop("utter_faq/is_free")
    project.domain.write_text(yaml.safe_dump(domain, allow_unicode=True), encoding="utf-8")
    (project.data / "nlu" / "faq_answers.yml").write_text(
        yaml.safe_dump({"version": "3.1", "responses": {"utter_faq/is_free": answer}}),
        encoding="utf-8",
    )
    base = pub.ROOT / "models/current.tar.gz"  # what Rasa builds from this layout too
    model = pub.with_new_texts(project, base, tmp_path / "texts.tar.gz")
    metadata = LocalModelStorage.metadata_from_archive(model)
    assert metadata.domain.responses["utter_faq/is_free"] == answer
    assert pub.texts_only_change(base, model)


@pytest.mark.skipif(not pub.ROOT.joinpath("models/current.tar.gz").exists(), reason="make train")
def test_texts_are_read_as_rasa_reads_them_yes_and_no_stay_words(project, tmp_path):
    """Rasa reads YAML 1.2 and writes ``Yes``/``No`` unquoted; YAML 1.1 makes them booleans,
    and a button titled ``True`` would reach the customer."""
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.shared.core.domain import Domain

    project.env["VAR_DIR"] = str(tmp_path / "var")
    text = project.domain.read_text(encoding="utf-8")
    greet = "  utter_greet:\n"
    assert greet in text
    project.domain.write_text(
        text.replace(
            greet,
            greet + "    - text: No\n      buttons:\n      - title: Yes\n        payload: on\n",
        ),
        encoding="utf-8",
    )
    rasa_reads = Domain.load(str(project.domain)).responses["utter_greet"][0]
    assert rasa_reads == {"text": "No", "buttons": [{"title": "Yes", "payload": "on"}]}

    model = pub.with_new_texts(project, pub.ROOT / "models/current.tar.gz", tmp_path / "m.tar.gz")
    metadata = LocalModelStorage.metadata_from_archive(model)
    assert metadata.domain.responses["utter_greet"][0] == rasa_reads

    persisted = tmp_path / "persisted.yml"  # the domain file Rasa itself puts in a model
    Domain.load(str(project.domain)).persist(persisted)
    rasa_made = fake_archive(tmp_path / "r.tar.gz", persisted.read_text(encoding="utf-8"))
    served = pub.write_live_responses(project, rasa_made).read_text(encoding="utf-8")
    assert yaml.safe_load(served)["responses"]["utter_greet"][0] == rasa_reads


def test_published_names_are_utc_and_never_overwrite_a_kept_model(project, monkeypatch):
    """Rollback picks by name order: names are UTC, a second publish in the same second
    takes the next free second instead of replacing the first."""
    import datetime as dt

    moment = dt.datetime(2026, 11, 26, 12, 0, 5, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    (first,) = fake_models(project, "20261126-050005")  # 12:00:05 in Hà Nội
    assert pub._free_name(project, moment.astimezone(dt.timezone.utc)) == (
        project.published / "20261126-050006.tar.gz"
    )
    assert first.read_bytes() == b"20261126-050005"
    import time

    monkeypatch.setenv("TZ", "Asia/Ho_Chi_Minh")  # a server on Vietnamese local time
    time.tzset()
    try:
        fresh = pub._new_published(project)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert fresh.name.endswith(".tar.gz") and not fresh.exists()
    now = dt.datetime.now(dt.timezone.utc)
    stamped = dt.datetime.strptime(fresh.name[:15], "%Y%m%d-%H%M%S").replace(tzinfo=dt.timezone.utc)
    assert abs((now - stamped).total_seconds()) < 5


@pytest.mark.skipif(not pub.ROOT.joinpath("models/current.tar.gz").exists(), reason="make train")
def test_a_load_slower_than_put_model_timeout_still_goes_live(project, tmp_path, monkeypatch):
    """The client gives up on ``PUT /model`` while the real server goes on loading: once it
    answers again and reports the new model, LIVE must name that model (not the old one)."""
    from tests_support.servers import running_stack

    model = project.published / "20991231-000000.tar.gz"
    project.published.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(pub.ROOT / "models/current.tar.gz", model)
    monkeypatch.setattr(pub, "LOAD_TIMEOUT", 0.05)  # far shorter than any model load
    with running_stack(tmp_path / "stack", services="rasa") as stack:
        project.rasa_url, project.token = stack.rasa_url, stack.token
        assert model.name not in (pub.server_model(project) or "")
        report = pub.Report()
        pub._go_live(project, model, report, in_service=None, texts_only=False)
        assert report.live
        assert model.name in (pub.server_model(project) or "")
    assert project.live_marker.read_text() == model.name
    assert project.current.read_bytes() == model.read_bytes()
