"""The reply-text NLG: Rasa's own response generation, fed by the file `make publish` writes.

Runs Rasa's real ``Domain``, tracker and NLG factory (the one ``endpoints.yml`` drives).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from rasa.core.nlg.generator import NaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig, read_endpoint_config

from nlg.live_responses import LiveResponsesNLG

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture
def texts(tmp_path: Path) -> Path:
    return tmp_path / "live-responses.yml"


def make(domain: Domain, texts: Path) -> LiveResponsesNLG:
    config = EndpointConfig(type="nlg.live_responses.LiveResponsesNLG", responses=str(texts))
    nlg = NaturalLanguageGenerator.create(config, domain)
    assert isinstance(nlg, LiveResponsesNLG)
    return nlg


def publish(path: Path, responses: dict) -> None:
    """Write like bot.publish does (a new file each time, so mtime/size change)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump({"responses": responses}, allow_unicode=True), encoding="utf-8")
    tmp.replace(path)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))


def tracker(domain: Domain, **slots: str) -> DialogueStateTracker:
    events = [SlotSet(name, value) for name, value in slots.items()]
    return DialogueStateTracker.from_events("s", events, slots=domain.slots)


async def test_without_a_published_file_the_model_texts_are_served(domain, texts):
    nlg = make(domain, texts)
    reply = await nlg.generate("utter_greet", tracker(domain), "rest")
    assert reply is not None and reply["text"].startswith("Xin chào Quý khách")
    assert reply["buttons"][0]["payload"] == "/request_sim_swap"


async def test_a_published_text_is_served_on_the_next_message(domain, texts):
    nlg = make(domain, texts)
    await nlg.generate("utter_greet", tracker(domain), "rest")
    publish(texts, {"utter_greet": [{"text": "Chào anh/chị, MobiFone đổi SIM 4G miễn phí."}]})
    reply = await nlg.generate("utter_greet", tracker(domain), "rest")
    assert reply is not None and reply["text"] == "Chào anh/chị, MobiFone đổi SIM 4G miễn phí."
    other = await nlg.generate("utter_goodbye", tracker(domain), "rest")
    assert other is not None and other["text"]  # untouched names keep the model's text


async def test_slots_are_filled_in_published_texts(domain, texts):
    nlg = make(domain, texts)
    publish(texts, {"utter_greet": [{"text": "Số của Quý khách: {phone_number}"}]})
    reply = await nlg.generate("utter_greet", tracker(domain, phone_number="0901234567"), "rest")
    assert reply is not None and reply["text"] == "Số của Quý khách: 0901234567"


async def test_names_the_model_does_not_know_are_ignored(domain, texts):
    publish(texts, {"utter_not_in_the_model": [{"text": "x"}]})
    nlg = make(domain, texts)
    assert await nlg.generate("utter_not_in_the_model", tracker(domain), "rest") is None


async def test_a_broken_file_keeps_the_texts_in_service(domain, texts, caplog):
    nlg = make(domain, texts)
    publish(texts, {"utter_greet": [{"text": "Bản đang dùng"}]})
    assert (await nlg.generate("utter_greet", tracker(domain), "rest"))["text"] == "Bản đang dùng"
    texts.write_text("responses: [unclosed", encoding="utf-8")
    reply = await nlg.generate("utter_greet", tracker(domain), "rest")
    assert reply is not None and reply["text"] == "Bản đang dùng"
    assert "not used" in caplog.text


async def test_a_removed_file_falls_back_to_the_model_texts(domain, texts):
    nlg = make(domain, texts)
    publish(texts, {"utter_greet": [{"text": "Tạm thời"}]})
    assert (await nlg.generate("utter_greet", tracker(domain), "rest"))["text"] == "Tạm thời"
    texts.unlink()
    reply = await nlg.generate("utter_greet", tracker(domain), "rest")
    assert reply is not None and reply["text"].startswith("Xin chào Quý khách")


def test_endpoints_yml_selects_this_generator(domain, monkeypatch, tmp_path):
    import re

    for name in re.findall(r"\$\{(\w+)\}", (ROOT / "endpoints.yml").read_text()):
        monkeypatch.setenv(name, "x")  # the launcher fills these in; only nlg is read here
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    config = read_endpoint_config(str(ROOT / "endpoints.yml"), "nlg")
    nlg = NaturalLanguageGenerator.create(config, domain)
    assert isinstance(nlg, LiveResponsesNLG)
    assert nlg.path == tmp_path / "live-responses.yml"


MODEL = ROOT / "models" / "current.tar.gz"


@pytest.mark.skipif(not MODEL.exists(), reason="needs the trained model (make train)")
async def test_the_agent_rasa_loads_serves_published_texts_after_each_model_load(
    texts, monkeypatch
):
    """Rasa builds the NLG before the model, then assigns the model's responses to it."""
    from rasa.core.agent import Agent

    monkeypatch.setenv("VAR_DIR", str(texts.parent))
    agent = Agent(generator=EndpointConfig(type="nlg.live_responses.LiveResponsesNLG"))
    agent.load_model(MODEL)
    assert isinstance(agent.nlg, LiveResponsesNLG)
    model_text = (await agent.nlg.generate("utter_thanks", tracker(agent.domain), "rest"))["text"]
    publish(texts, {"utter_thanks": [{"text": "Cảm ơn anh chị nhiều ạ."}]})
    reply = await agent.nlg.generate("utter_thanks", tracker(agent.domain), "rest")
    assert reply["text"] == "Cảm ơn anh chị nhiều ạ."
    agent.load_model(MODEL)  # a model swap keeps the published texts
    reply = await agent.nlg.generate("utter_thanks", tracker(agent.domain), "rest")
    assert reply["text"] == "Cảm ơn anh chị nhiều ạ."
    texts.unlink()
    reply = await agent.nlg.generate("utter_thanks", tracker(agent.domain), "rest")
    assert reply["text"] == model_text


@pytest.mark.parametrize(
    "variants",
    [["a bare string"], [None], [{"text": "x", "condition": "not a list"}]],
    ids=["string", "null", "bad-condition"],
)
async def test_a_malformed_response_in_the_file_never_breaks_a_reply(
    domain, texts, caplog, variants
):
    """Rasa's variation filter calls ``.get`` on every variant: a bad one must not get in."""
    nlg = make(domain, texts)
    publish(texts, {"utter_greet": [{"text": "Bản đang dùng"}]})
    assert (await nlg.generate("utter_greet", tracker(domain), "rest"))["text"] == "Bản đang dùng"
    publish(texts, {"utter_greet": variants, "utter_thanks": [{"text": "Cảm ơn ạ"}]})
    reply = await nlg.generate("utter_greet", tracker(domain), "rest")
    assert reply is not None and reply["text"] == "Bản đang dùng"
    assert "not used" in caplog.text


@pytest.mark.skipif(not MODEL.exists(), reason="needs the trained model (make train)")
async def test_published_texts_only_apply_to_the_models_they_were_written_for(
    tmp_path, monkeypatch
):
    """After a publish, `make train` + `make run` serves the new model's own texts, not the
    older published ones; a texts-only publish still reaches the model the server runs."""
    import shutil

    from rasa.core.agent import Agent

    from bot import publish as pub

    var = tmp_path / "var"
    monkeypatch.setenv("VAR_DIR", str(var))
    script = tmp_path / "script"
    script.mkdir()
    shutil.copy2(ROOT / "domain.yml", script / "domain.yml")
    shutil.copy2(ROOT / "config.yml", script / "config.yml")
    (script / "data").mkdir()
    project = pub.Project.from_env(script)
    domain_text = project.domain.read_text(encoding="utf-8")

    def model_with(text: str, name: str) -> Path:
        edited = Domain.load(str(ROOT / "domain.yml")).responses["utter_thanks"][0]["text"]
        project.domain.write_text(domain_text.replace(edited, text), encoding="utf-8")
        return pub.with_new_texts(project, MODEL, tmp_path / name)

    published = model_with("Bản đã publish.", "published.tar.gz")
    pub.write_live_responses(project, published)  # a full publish of `published`
    agent = Agent(generator=EndpointConfig(type="nlg.live_responses.LiveResponsesNLG"))
    agent.load_model(str(published))

    async def thanks() -> str:
        return (await agent.nlg.generate("utter_thanks", tracker(agent.domain), "rest"))["text"]

    assert await thanks() == "Bản đã publish."
    # texts-only publish: the server keeps `published` loaded, the file carries the new text
    texts_only = model_with("Sửa chữ, không nạp lại.", "texts.tar.gz")
    pub.write_live_responses(project, texts_only, also_for=published)
    assert await thanks() == "Sửa chữ, không nạp lại."
    again = model_with("Sửa lần nữa.", "again.tar.gz")  # LIVE is texts.tar.gz now
    pub.write_live_responses(project, again, also_for=texts_only)
    assert await thanks() == "Sửa lần nữa."
    # a developer edits the text, `make train`, `make run`: the new model's own text
    retrained = model_with("Huấn luyện lại bằng make train.", "current.tar.gz")
    agent.load_model(str(retrained))
    assert await thanks() == "Huấn luyện lại bằng make train."
