"""A small script that passes every check; each test breaks one thing in a copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.scriptlint import ScriptPaths

WITH = [
    "tôi muốn đổi sim",
    "đổi sim 4g giúp tôi",
    "cho tôi đổi sim mới",
    "muốn thay sim 4g",
    "đăng ký đổi sim",
    "làm sao để đổi sim",
    "đổi sim miễn phí",
    "em muốn đổi sim",
    "đổi sim tại nhà",
    "thay sim cũ sang sim 4g",
]
WITHOUT = [
    "toi muon doi sim",
    "doi sim 4g giup toi",
    "cho toi doi sim moi",
    "muon thay sim 4g",
    "dang ky doi sim",
    "lam sao de doi sim",
    "doi sim mien phi",
    "em muon doi sim",
    "doi sim tai nha",
    "thay sim cu sang sim 4g",
]
GREET_WITH = [f"xin chào {n}" for n in ("em", "bạn", "shop", "ad", "mọi người")] + [
    f"chào {n}" for n in ("em", "bạn", "shop", "ad", "buổi sáng")
]
GREET_WITHOUT = [
    "hi",
    "hello",
    "alo",
    "chao em",
    "chao ban",
    "chao shop",
    "chao ad",
    "xin chao",
    "hi em",
    "hello shop",
]
FAQ_WITH = [f"đổi sim có mất phí không {i}" for i in range(8)]
FAQ_WITHOUT = [f"doi sim co mat phi ko {i}" for i in range(8)]
KEEP_WITH = [f"có giữ số cũ không {i}" for i in range(8)]
KEEP_WITHOUT = [f"co giu so cu ko {i}" for i in range(8)]


def examples(lines: list[str]) -> str:
    return "".join(f"    - {line}\n" for line in lines)


DOMAIN = """version: "3.1"
intents:
  - greet
  - request_sim_swap
  - faq
forms:
  request_form:
    required_slots:
      - phone_number
slots:
  phone_number:
    type: text
    mappings: [{type: from_text}]
responses:
  utter_greet:
    - text: "Xin chào! Gọi 9090 khi cần ạ."
      buttons:
        - title: "Đổi SIM 4G"
          payload: /request_sim_swap
  utter_ask_phone_number:
    - text: "Quý khách cho em xin số điện thoại ạ."
  utter_done:
    - text: "Em đã ghi nhận ạ."
  utter_from_action:
    - text: "Nhân viên sẽ gọi lại ạ."
  utter_faq/is_free:
    - text: "MobiFone KHÔNG BAO GIỜ hỏi mã OTP. Đổi SIM là miễn phí ạ."
  utter_faq/keep_number:
    - text: "Quý khách giữ nguyên số ạ."
"""

RULES = """version: "3.1"
rules:
  - rule: greet
    steps:
      - intent: greet
      - action: utter_greet
  - rule: faq
    steps:
      - intent: faq
      - action: utter_faq
"""

STORIES = """version: "3.1"
stories:
  - story: swap
    steps:
      - intent: request_sim_swap
      - action: request_form
      - active_loop: request_form
      - active_loop: null
      - action: utter_done
"""

ACTIONS = """def run(dispatcher):
    dispatcher.utter_message(response="utter_from_action")
"""

GUIDE = """title: Kịch bản gọi ra
audience: Nhân viên bán hàng
sections:
  - title: Mở đầu
    say:
      - Dạ em chào anh/chị, em gọi từ MobiFone ạ.
    notes:
      - Gọi trong giờ hành chính.
  - title: Khách hỏi
    qa:
      - ask: Có mất phí không?
        answer: Hoàn toàn miễn phí; có gì anh/chị gọi 9090.
"""


def write_script(root: Path) -> ScriptPaths:
    """Write the passing script under ``root`` and return its paths."""
    (root / "data").mkdir(parents=True)
    (root / "actions").mkdir()
    (root / "guides").mkdir()
    (root / "domain.yml").write_text(DOMAIN, encoding="utf-8")
    nlu = (
        'version: "3.1"\nnlu:\n'
        f"- intent: greet\n  examples: |\n{examples(GREET_WITH + GREET_WITHOUT)}\n"
        f"- intent: request_sim_swap\n  examples: |\n{examples(WITH + WITHOUT)}\n"
        f"- intent: faq/is_free\n  examples: |\n{examples(FAQ_WITH + FAQ_WITHOUT)}\n"
        f"- intent: faq/keep_number\n  examples: |\n{examples(KEEP_WITH + KEEP_WITHOUT)}"
    )
    (root / "data" / "nlu.yml").write_text(nlu, encoding="utf-8")
    (root / "data" / "rules.yml").write_text(RULES, encoding="utf-8")
    (root / "data" / "stories.yml").write_text(STORIES, encoding="utf-8")
    (root / "actions" / "say.py").write_text(ACTIONS, encoding="utf-8")
    (root / "guides" / "outbound_call.yml").write_text(GUIDE, encoding="utf-8")
    return ScriptPaths.of(root)


@pytest.fixture
def script(tmp_path: Path) -> ScriptPaths:
    return write_script(tmp_path / "script")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture
def edit():
    """``edit(path, old, new)``: replace ``old`` (which must be there) in ``path``."""
    return _edit
