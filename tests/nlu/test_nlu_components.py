"""The custom NLU components, run through Rasa's real graph components and model storage.

The tokenizer must give every spelling of a word the same features; the intent classifier
must learn from the featurizers' output, survive a persist/load round trip (that is how
``make publish`` hands it to the running server), and refuse a tampered model file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.text import SHAPE_FEATURES, shape_features
from nlu_components.linear_intent import LinearIntentClassifier
from nlu_components.request_words import RequestWithDataClassifier
from nlu_components.shape_featurizer import SHAPE_ALIAS, TextShapeFeaturizer
from nlu_components.vi_tokenizer import VietnameseTokenizer

EXAMPLES = {
    "request_sim_swap": [
        "đổi sim 4G",
        "doi sim 4g",
        "tôi muốn đổi sim",
        "muốn lên 4G",
        "nâng cấp sim",
        "thay sim mới cho tôi",
    ],
    "goodbye": ["tạm biệt", "bye bye", "hẹn gặp lại", "thôi chào nhé", "bai nha", "pp"],
    "thank": ["cảm ơn", "cam on em", "thanks", "cám ơn nhiều", "tks ad", "cảm ơn shop"],
}


@pytest.fixture
def storage(tmp_path: Path) -> LocalModelStorage:
    (tmp_path / "storage").mkdir()
    return LocalModelStorage(tmp_path / "storage")


def _context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "test")


def _featurize(storage: LocalModelStorage, messages: list[Message], train: bool) -> None:
    """Tokenizer + word and char n-gram counts + text shape, as config.yml chains them."""
    tokenizer = VietnameseTokenizer.create(
        {**VietnameseTokenizer.get_default_config(), "fold": True},
        storage,
        Resource("tok"),
        _context(),
    )
    tokenizer.process_training_data(TrainingData(messages)) if train else tokenizer.process(
        messages
    )
    chars = {"analyzer": "char_wb", "min_ngram": 2, "max_ngram": 4}  # as config.yml: from 2
    for name, config in (("words", {}), ("chars", chars)):
        resource = Resource(name)
        if train:
            featurizer = CountVectorsFeaturizer.create(
                {**CountVectorsFeaturizer.get_default_config(), **config},
                storage,
                resource,
                _context(),
            )
            featurizer.train(TrainingData(messages))
            featurizer.process_training_data(TrainingData(messages))
        else:
            featurizer = CountVectorsFeaturizer.load(
                {**CountVectorsFeaturizer.get_default_config(), **config},
                storage,
                resource,
                _context(),
            )
            featurizer.process(messages)
    shape_config = TextShapeFeaturizer.get_default_config()
    if train:
        TextShapeFeaturizer.create(shape_config, storage, Resource("shape"), _context()).train(
            TrainingData(messages)
        )
    shape = TextShapeFeaturizer.load(shape_config, storage, Resource("shape"), _context())
    shape.process_training_data(TrainingData(messages)) if train else shape.process(messages)


def _trained(storage: LocalModelStorage, data: TrainingData) -> LinearIntentClassifier:
    """Featurize ``data`` and train the classifier on it with ``C`` as in config.yml."""
    _featurize(storage, data.training_examples, train=True)
    classifier = LinearIntentClassifier.create(
        {**LinearIntentClassifier.get_default_config(), "C": 300.0},
        storage,
        Resource("linear"),
        _context(),
    )
    classifier.train(data)
    return classifier


def _training_data() -> TrainingData:
    return TrainingData(
        [
            Message(data={TEXT: text, "intent": intent})
            for intent, texts in EXAMPLES.items()
            for text in texts
        ]
    )


def test_tokenizer_folds_every_spelling_to_the_same_tokens(storage: LocalModelStorage) -> None:
    tokenizer = VietnameseTokenizer.create(
        VietnameseTokenizer.get_default_config(), storage, Resource("tok"), _context()
    )
    spellings = ["Đổi SIM được không", "doi sim dc ko", "đổi sim đc k"]
    tokens = [
        [t.text for t in tokenizer.tokenize(Message(data={TEXT: s}), TEXT)] for s in spellings
    ]
    assert tokens[0] == tokens[1] == tokens[2]


def test_classifier_learns_persists_and_loads(storage: LocalModelStorage) -> None:
    data = _training_data()
    _featurize(storage, data.training_examples, train=True)
    resource = Resource("linear")
    config = LinearIntentClassifier.get_default_config()
    classifier = LinearIntentClassifier.create(config, storage, resource, _context())
    classifier.train(data)

    loaded = LinearIntentClassifier.load(config, storage, resource, _context())
    messages = [Message(data={TEXT: t}) for t in ("DOI SIM 4G CHO TOI", "cam on nhieu nha")]
    _featurize(storage, messages, train=False)
    loaded.process(messages)

    assert [m.get("intent")["name"] for m in messages] == ["request_sim_swap", "thank"]
    ranking = messages[0].get("intent_ranking")
    assert ranking[0]["name"] == "request_sim_swap"
    assert abs(sum(r["confidence"] for r in ranking) - 1.0) < 1e-6  # probabilities
    assert all(isinstance(r["confidence"], float) for r in ranking)  # JSON-serialisable


FAQ = {
    "faq/is_free": ["đổi sim có mất tiền không", "doi sim co mat phi ko", "miễn phí không"],
    "faq/keep_number": ["có giữ số không", "giu nguyen so ko", "đổi sim có mất số không"],
}


def test_retrieval_intents_train_per_key_and_rank_as_one_intent(
    storage: LocalModelStorage,
) -> None:
    """FAQ keys are learnt apart but the ranking names ``faq`` once, with their sum."""
    messages = _training_data().training_examples + [
        Message(data={TEXT: text, "intent": "faq", "intent_response_key": key})
        for key, texts in FAQ.items()
        for text in texts
    ]
    data = TrainingData(messages)
    _featurize(storage, data.training_examples, train=True)
    config = LinearIntentClassifier.get_default_config()
    classifier = LinearIntentClassifier.create(config, storage, Resource("linear"), _context())
    classifier.train(data)
    assert classifier._model is not None
    assert {"faq/is_free", "faq/keep_number"} <= set(classifier._model.classes_)

    asked = [Message(data={TEXT: "DOI SIM CO MAT TIEN KHONG"})]
    _featurize(storage, asked, train=False)
    classifier.process(asked)

    ranking = asked[0].get("intent_ranking")
    names = [r["name"] for r in ranking]
    assert asked[0].get("intent")["name"] == "faq"
    assert sorted(names) == ["faq", "goodbye", "request_sim_swap", "thank"]
    assert abs(sum(r["confidence"] for r in ranking) - 1.0) < 1e-6
    per_key = classifier._model.predict_proba(classifier._features(asked))[0]
    keys = [i for i, c in enumerate(classifier._model.classes_) if c.startswith("faq/")]
    assert abs(ranking[0]["confidence"] - float(per_key[keys].sum())) < 1e-9

    flat = LinearIntentClassifier.create(
        {**config, "sub_intents": False}, storage, Resource("flat"), _context()
    )
    flat.train(data)
    assert flat._model is not None and "faq" in set(flat._model.classes_)


def test_unseen_text_gets_a_low_confidence(storage: LocalModelStorage) -> None:
    """Nonsense must not be classified with near certainty (the fallback depends on it)."""
    data = _training_data()
    _featurize(storage, data.training_examples, train=True)
    classifier = LinearIntentClassifier.create(
        LinearIntentClassifier.get_default_config(), storage, Resource("linear"), _context()
    )
    classifier.train(data)
    messages = [Message(data={TEXT: "qwxz jjjj"})]
    _featurize(storage, messages, train=False)
    classifier.process(messages)
    assert messages[0].get("intent")["confidence"] < 0.6


def test_a_model_file_with_foreign_types_is_not_loaded(storage: LocalModelStorage) -> None:
    import skops.io as sio

    resource = Resource("linear")
    with storage.write_to(resource) as directory:
        sio.dump({"payload": Path("/etc/passwd")}, directory / "linear_intent.skops")
    classifier = LinearIntentClassifier.load(
        LinearIntentClassifier.get_default_config(), storage, resource, _context()
    )
    messages = [Message(data={TEXT: "đổi sim"})]
    classifier.process(messages)
    assert messages[0].get("intent") is None


def test_a_missing_model_leaves_messages_unclassified(storage: LocalModelStorage) -> None:
    classifier = LinearIntentClassifier.load(
        LinearIntentClassifier.get_default_config(), storage, Resource("absent"), _context()
    )
    messages = [Message(data={TEXT: "đổi sim"})]
    assert classifier.process(messages)[0].get("intent") is None


def test_the_tokenizer_fingerprint_follows_the_folding_rules() -> None:
    """Rasa's cache must retrain when bot/text.py (teen-code, folding) changes."""
    import hashlib

    import bot.text

    expected = hashlib.sha256(Path(bot.text.__file__).read_bytes()).hexdigest()
    assert VietnameseTokenizer.fingerprint_addon({}) == expected
    assert TextShapeFeaturizer.fingerprint_addon({}) == expected  # shape features too


def test_a_text_with_no_known_ngram_gets_no_confident_intent(storage: LocalModelStorage) -> None:
    """Nothing seen in training (an emoji, another script): the intercepts alone must not
    name an intent; every intent equally likely lets the FallbackClassifier ask again."""
    data = TrainingData(
        _training_data().training_examples
        + [
            Message(data={TEXT: text, "intent": "faq", "intent_response_key": key})
            for key, texts in FAQ.items()
            for text in texts
        ]
    )
    classifier = _trained(storage, data)
    messages = [Message(data={TEXT: "🦄"}), Message(data={TEXT: "đổi sim"})]
    _featurize(storage, messages, train=False)
    classifier.process(messages)
    ranking = messages[0].get("intent_ranking")
    intents = len(EXAMPLES) + 1  # the FAQ keys are one intent, not one share each
    assert len(ranking) == intents
    assert {round(r["confidence"], 9) for r in ranking} == {round(1 / intents, 9)}
    assert messages[1].get("intent")["name"] == "request_sim_swap"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("em Dũng nhé", {"capital_inside", "capital_after_kin", "words_3"}),
        ("e Dung", {"capital_inside", "capital_after_kin", "words_2"}),  # teen-code, no marks
        ("dừng đi", {"words_2"}),
        ("hả chị", {"words_2"}),
        ("tên em là Hiếu", {"capital_inside", "capital_after_naming", "words_4"}),
        ("Đặng Văn Lâm", {"capital_inside", "words_3"}),
        ("CHỊ HÀ ƠI", {"words_3"}),  # all capitals: nothing stands out
        ("đổi sim có mất tiền không vậy ad?", {"question_mark", "words_6"}),
        ("😀", {"words_0"}),
    ],
)
def test_shape_features_keep_what_folding_loses(text: str, expected: set[str]) -> None:
    features = shape_features(text)
    assert set(features) == expected
    assert set(features) <= set(SHAPE_FEATURES)


def test_shape_featurizer_adds_fixed_sentence_columns(storage: LocalModelStorage) -> None:
    """A name and the word it folds onto get the same n-grams but different shapes."""
    messages = [Message(data={TEXT: "em Dũng"}), Message(data={TEXT: "em đúng"})]
    _featurize(storage, messages, train=True)
    rows = []
    for message in messages:
        shape = [f for f in message.features if f.origin == SHAPE_ALIAS]
        sequence = next(f for f in shape if f.type == "sequence")
        sentence = next(f for f in shape if f.type == "sentence")
        assert sequence.features.shape[0] == 2  # one row per token
        assert sequence.features.count_nonzero() == 0
        rows.append(sentence.features.toarray()[0].tolist())
    assert rows[0] != rows[1]
    words = [m.get_sparse_features(TEXT)[1] for m in messages]
    assert words[0] is not None and words[1] is not None


def test_a_name_is_told_from_the_word_it_folds_onto(storage: LocalModelStorage) -> None:
    """ "e Dung" (a contact name) and "dung roi" (that's right) share every folded n-gram."""
    examples = {
        "inform": ["em Dũng", "chị Hà", "cô Lan ạ", "anh Minh", "chú Tâm nhé", "bác Hùng"],
        "affirm": ["đúng", "đúng rồi", "dung r", "đúng vậy", "ok em", "chuẩn"],
        "ask_repeat": ["hả", "hả chị", "gì cơ", "nói lại đi", "sao cơ", "ha em"],
    }
    data = TrainingData(
        [Message(data={TEXT: t, "intent": i}) for i, texts in examples.items() for t in texts]
    )
    classifier = _trained(storage, data)
    messages = [Message(data={TEXT: t}) for t in ("e Dung", "dung", "c Ha a", "ha c")]
    _featurize(storage, messages, train=False)
    classifier.process(messages)
    assert [m.get("intent")["name"] for m in messages] == [
        "inform",
        "affirm",
        "inform",
        "ask_repeat",
    ]


def test_shape_features_alone_are_no_evidence(storage: LocalModelStorage) -> None:
    """Every text has a length: words never seen in training must still reach the
    fallback rather than be classified by their number."""
    data = _training_data()
    classifier = _trained(storage, data)
    messages = [Message(data={TEXT: "Qwxz Jjjj?"})]
    _featurize(storage, messages, train=False)
    assert any(f.origin == SHAPE_ALIAS for f in messages[0].features)
    classifier.process(messages)
    confidences = {round(r["confidence"], 9) for r in messages[0].get("intent_ranking")}
    assert confidences == {round(1 / len(EXAMPLES), 9)}


def test_first_and_last_words_are_features_learnt_in_training(
    storage: LocalModelStorage,
) -> None:
    """ "thôi…" opens a stop, "…không" closes a question: the edge words seen in training
    get columns of their own (folded, so "Thôi" and "thoi" share one); unseen ones none."""
    trained = [Message(data={TEXT: "Thôi không cần"}), Message(data={TEXT: "đổi sim được ko"})]
    _featurize(storage, trained, train=True)
    loaded = TextShapeFeaturizer.load(
        TextShapeFeaturizer.get_default_config(), storage, Resource("shape"), _context()
    )
    columns = loaded._columns
    assert {"first:thoi", "last:can", "first:doi", "last:khong"} <= set(columns)
    assert len(columns) == len(SHAPE_FEATURES) + 4

    def active(text: str) -> set[str]:
        message = Message(data={TEXT: text})
        _featurize(storage, [message], train=False)
        sentence = next(
            f for f in message.features if f.origin == SHAPE_ALIAS and f.type == "sentence"
        )
        names = {index: name for name, index in columns.items()}
        return {names[i] for i in sentence.features.nonzero()[1]}

    assert active("thoi nhe, doi sim dc k") == {"first:thoi", "last:khong", "words_6"}
    assert active("xin chào") == {"words_2"}  # neither edge word was seen


# -- a request given with its data, taken by the fallback -----------------------------------


def _taken_by_fallback(entities: list[dict[str, str]]) -> Message:
    """A message as the FallbackClassifier leaves it: ``nlu_fallback`` on top of a ranking
    where the request and ``inform`` were too close to tell."""
    message = Message(data={TEXT: "doi sim 0903123472 dia chi 5 Nguyen Trai P.Ben Thanh Q1"})
    message.set("intent", {"name": "nlu_fallback", "confidence": 0.35})
    message.set(
        "intent_ranking",
        [
            {"name": "nlu_fallback", "confidence": 0.35},
            {"name": "request_sim_swap", "confidence": 0.50},
            {"name": "inform", "confidence": 0.47},
        ],
    )
    message.set("entities", entities)
    return message


PHONE = {"entity": "phone_number", "value": "0903123472"}
SWAP = {"entity": "request_kind", "value": "sim_swap"}
NEW = {"entity": "request_kind", "value": "new_subscription"}
ADVICE = {"entity": "request_kind", "value": "advice"}


def _classified(entities: list[dict[str, str]]) -> dict[str, object]:
    component = RequestWithDataClassifier.create({}, None, None, None)  # type: ignore[arg-type]
    (message,) = component.process([_taken_by_fallback(entities)])
    return message.get("intent")


def test_a_request_with_its_phone_taken_by_the_fallback_is_the_request() -> None:
    assert _classified([PHONE, SWAP, SWAP]) == {"name": "request_sim_swap", "confidence": 0.50}


@pytest.mark.parametrize(
    "entities",
    [
        [SWAP],  # no phone number: "doi sim xong co mat danh ba khong" is a question
        [PHONE, ADVICE],  # request_advice is not in the ranking: nothing to go by
    ],
)
def test_the_fallback_stays_without_one_request_and_a_phone(
    entities: list[dict[str, str]],
) -> None:
    assert _classified(entities) == {"name": "nlu_fallback", "confidence": 0.35}


def test_data_without_request_words_is_the_request_ranked_among_the_two_best() -> None:
    # Seen live: "sim 4g có mất phí không? nếu không thì đổi cho mình với, số 0913555443,
    # địa chỉ …" (inform 0.47, the swap 0.43, no request words) got "em chưa hiểu".
    assert _classified([PHONE]) == {"name": "request_sim_swap", "confidence": 0.50}


def test_data_naming_two_requests_is_data_and_the_form_asks_which() -> None:
    assert _classified([PHONE, SWAP, NEW]) == {"name": "inform", "confidence": 0.47}


def test_a_message_the_classifier_decided_is_left_alone() -> None:
    message = _taken_by_fallback([PHONE, SWAP])
    message.set("intent", {"name": "inform", "confidence": 0.9})
    component = RequestWithDataClassifier.create({}, None, None, None)  # type: ignore[arg-type]
    (message,) = component.process([message])
    assert message.get("intent") == {"name": "inform", "confidence": 0.9}


def _read_as_stop(text: str, entities: list[dict[str, str]]) -> dict[str, object]:
    """The intent the component leaves on ``text``, which the classifier read as ``stop``
    with the request second."""
    message = Message(data={TEXT: text})
    message.set("intent", {"name": "stop", "confidence": 0.85})
    message.set(
        "intent_ranking",
        [{"name": "stop", "confidence": 0.85}, {"name": "request_sim_swap", "confidence": 0.11}],
    )
    message.set("entities", entities)
    component = RequestWithDataClassifier.create({}, None, None, None)  # type: ignore[arg-type]
    (message,) = component.process([message])
    return message.get("intent")


@pytest.mark.parametrize("text", ["doi sim cho so khac nua", "đổi sim cho số khác nữa"])
def test_one_more_request_read_as_stop_is_the_request(text: str) -> None:
    # Seen live, after a request was sent: "em đã dừng lại" to a customer asking for one
    # more (the classifier takes "nữa" for "không … nữa").
    assert _read_as_stop(text, [SWAP]) == {"name": "request_sim_swap", "confidence": 0.11}


@pytest.mark.parametrize(
    ("text", "entities"),
    [
        ("thôi không đổi sim nữa", [SWAP]),
        ("ko doi sim nua", [SWAP]),  # teen-code negation
        ("hủy đổi sim", [SWAP]),
        ("dừng lại đi", []),  # no request words
        ("đổi sim hay đăng ký mới nữa", [SWAP, NEW]),  # two requests: not one
    ],
)
def test_a_stop_that_says_stop_stays_stop(text: str, entities: list[dict[str, str]]) -> None:
    assert _read_as_stop(text, entities) == {"name": "stop", "confidence": 0.85}
