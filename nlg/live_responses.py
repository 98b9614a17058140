"""Reply texts that go live without a model swap: Rasa's response NLG, reloaded from a file.

A reply-text edit by CSKH changes no prediction: the model, its actions and its response
NAMES stay the same, only the words change. Swapping the whole model for that costs the
model load (seconds during which messages wait). So ``make publish`` writes the
published responses to ``$VAR_DIR/live-responses.yml`` (atomically), and this generator,
configured in ``endpoints.yml`` (``nlg: type: nlg.live_responses.LiveResponsesNLG``),
serves each reply from that file, picking up a new version on the next message.

Safety rules: only names the loaded model knows are taken from the file (a reply for an
action the model lacks is never produced); the file lists (``models:``) the response
fingerprints of the models it was published for, so a model trained since (``make train``
then ``make run``) serves its own texts; a missing, unreadable or malformed file (Rasa's
domain schema) leaves the texts in service and is logged, never raised into a conversation.
Everything else (channel variants, slot conditions, ``{slot}`` filling) is Rasa's
``TemplatedNaturalLanguageGenerator``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import yaml
from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.constants import DOMAIN_SCHEMA_FILE
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import YamlException
from rasa.shared.utils.validation import validate_yaml_schema
from rasa.utils.endpoints import EndpointConfig

from bot.publish import LIVE_RESPONSES, responses_fingerprint

logger = logging.getLogger(__name__)


def live_responses_path() -> Path:
    """Where ``make publish`` writes the texts: the same ``VAR_DIR`` as every other service."""
    root = Path(__file__).resolve().parent.parent
    return Path(os.environ.get("VAR_DIR") or root / "var") / LIVE_RESPONSES


class LiveResponsesNLG(TemplatedNaturalLanguageGenerator):
    """The model's responses, overridden by the published file whenever it changes.

    Rasa creates the generator before it loads a model and then assigns
    ``nlg.responses = domain.responses`` (``Agent.load_model``), again on every model
    swap: ``responses`` is therefore a property whose setter takes the model's texts and
    whose getter returns them with the published overrides applied.
    """

    def __init__(
        self, endpoint_config: EndpointConfig | None = None, domain: Domain | None = None
    ) -> None:
        """The model's own texts first; ``responses:`` in the endpoint config moves the file."""
        self._model_responses: dict[str, list[dict[str, Any]]] = {}
        self._published: dict[str, Any] = {}
        self._for_models: set[str] | None = None  # None: a file without ``models`` (older)
        self._merged: dict[str, list[dict[str, Any]]] = {}
        configured = (endpoint_config.kwargs.get("responses") if endpoint_config else None) or ""
        self.path = Path(configured) if configured else live_responses_path()
        self._seen: tuple[int, int] | None = None
        super().__init__(dict((domain or Domain.empty()).responses))
        self.refresh()

    @property
    def responses(self) -> dict[str, list[dict[str, Any]]]:
        """What Rasa picks variations from: the model's texts with the published ones on top."""
        return self._merged

    @responses.setter
    def responses(self, value: dict[str, list[dict[str, Any]]]) -> None:
        self._model_responses = dict(value or {})
        self._merge()

    def _merge(self) -> None:
        if (
            self._for_models is not None
            and self._published
            and responses_fingerprint(self._model_responses) not in self._for_models
        ):
            # Written for other models (a `make train` since): their texts, not ours.
            logger.info("%s was published for another model: not used", self.path)
            self._merged = dict(self._model_responses)
            return
        known = {
            name: variants
            for name, variants in self._published.items()
            if name in self._model_responses and isinstance(variants, list) and variants
        }
        self._merged = {**self._model_responses, **known}

    def refresh(self) -> bool:
        """Reload when the file changed (size or mtime); True when new texts were taken."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            if self._seen is not None:
                logger.warning("%s disappeared: serving the model's own texts", self.path)
                self._published = {}
                self._for_models = None
                self._merge()
                self._seen = None
            return False
        seen = (stat.st_mtime_ns, stat.st_size)
        if seen == self._seen:
            return False
        self._seen = seen
        try:
            text = self.path.read_text(encoding="utf-8")
            # Rasa's domain schema: a variant Rasa cannot pick from (a bare string, a
            # null, a malformed condition) would raise inside a conversation.
            validate_yaml_schema(text, DOMAIN_SCHEMA_FILE)
            loaded = yaml.safe_load(text) or {}
            published = loaded.get("responses") or {}
            if not isinstance(published, dict):
                raise ValueError("'responses' is not a mapping")
            models = loaded.get("models")
            if models is not None and not isinstance(models, list):
                raise ValueError("'models' is not a list")
        except (OSError, ValueError, AttributeError, yaml.YAMLError, YamlException) as error:
            logger.error("%s not used, keeping the current texts: %s", self.path, error)
            return False
        self._published = published
        self._for_models = None if models is None else {str(m) for m in models}
        self._merge()
        logger.info("reply texts reloaded from %s (%d responses)", self.path, len(published))
        return True

    async def generate(
        self,
        utter_action: str,
        tracker: DialogueStateTracker,
        output_channel: str,
        **kwargs: Any,
    ) -> dict[str, Any] | None:
        """Check the file (one ``stat``), then let Rasa pick and fill the variation."""
        self.refresh()
        return await super().generate(utter_action, tracker, output_channel, **kwargs)
