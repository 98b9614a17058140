"""Cross-validated NLU benchmark: intent accuracy with and without diacritics.

Run from the project root::

    .venv/bin/python bench/nlu.py                       # 5 folds, epochs from config.yml
    .venv/bin/python bench/nlu.py --folds 2 --epochs 5  # quick smoke run

Stratified k-fold over every example in ``data/nlu``. Each held-out fold is scored twice:
as written, and with its diacritics stripped (``bot.text.strip_diacritics``), the way most
customers type. Two pipelines are compared in the same run, trained on the same folds:

* ``A fold=on``  the project's ``config.yml`` (the tokenizer folds case, diacritics and
  teen-code per token);
* ``B fold=off`` the same pipeline with ``fold: false``, so only the stock char_wb
  n-gram featurizer copes with spelling variants.

Labels are the FULL intent: retrieval examples count as ``faq/<key>``, and a message
predicted as ``faq`` is labelled with the key the ResponseSelector picked. A top-level
accuracy (``faq`` collapsed) is printed as well. The predicted intent is the intent
classifier's best intent; how often the FallbackClassifier would have replaced it by
``nlu_fallback`` is reported separately (``fallback`` column), not counted as an error.

Every (pipeline, fold) trains and evaluates in a fresh spawned process, one at a time, so
TensorFlow's memory is returned between folds and each process's peak RSS is its own.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import io
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FALLBACK_INTENT = "nlu_fallback"
VARIANTS = ("as written", "stripped")

_ENV = {
    "RASA_TELEMETRY_ENABLED": "false",
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "LOG_LEVEL": "WARNING",  # also hides Rasa's per-epoch progress bars
    "PYTHONDONTWRITEBYTECODE": "1",
    # Two cores shared with other work: keep TensorFlow to them.
    "TF_INTRA_OP_PARALLELISM_THREADS": "2",
    "TF_INTER_OP_PARALLELISM_THREADS": "1",
}


def _setup_env() -> None:
    """Quiet Rasa/TensorFlow and make the project importable (also in spawned children)."""
    for key, value in _ENV.items():
        os.environ.setdefault(key, value)
    paths = os.environ.get("PYTHONPATH", "")
    if str(ROOT) not in paths.split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), paths) if p)
    # bench/ is not a package: keep its scripts from shadowing installed modules.
    bench_dir = str(ROOT / "bench")
    sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != bench_dir]
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


@dataclass
class Pipeline:
    """One pipeline under test: a name and the tokenizer's ``fold`` switch."""

    name: str
    fold: bool


@dataclass
class FoldJob:
    """Everything a worker needs to train on one fold and score its held-out part."""

    pipeline: Pipeline
    fold_index: int
    config: dict[str, Any]
    train_yaml: str
    domain_yaml: str
    test_texts: list[str]


@dataclass
class FoldResult:
    """Predictions for one fold, per variant, plus cost figures."""

    pipeline: str
    fold_index: int
    train_seconds: float
    peak_rss_mb: float
    texts: list[str] = field(default_factory=list)
    predictions: dict[str, list[str]] = field(default_factory=dict)
    fallbacks: dict[str, list[bool]] = field(default_factory=dict)


def load_examples(data_dir: Path) -> tuple[Any, list[str], list[str]]:
    """Load the NLU data; return it with the example texts and their full intents."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(data_dir))
    examples = [m for m in data.training_examples if m.get("text")]
    texts = [m.get("text") for m in examples]
    labels = [m.get_full_intent() for m in examples]
    return data, texts, labels


def make_folds(
    texts: list[str], labels: list[str], n_folds: int, seed: int, group: bool
) -> list[tuple[Any, Any]]:
    """Stratified folds; with ``group``, spelling twins always fall in the same fold.

    The data holds many pairs such as "đổi sim có mất phí không" / "doi sim co mat phi
    ko" that fold to the same text. Split apart, the training half would hand the
    folding pipeline the held-out answer, so they are grouped by their folded form.
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    from bot.text import normalize

    if not group:
        plain = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        return list(plain.split(texts, labels))
    groups = [normalize(text) or text for text in texts]
    grouped = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return list(grouped.split(texts, labels, groups))


def make_config(base: dict[str, Any], fold: bool, epochs: int | None, seed: int) -> dict[str, Any]:
    """Copy the project config for NLU-only training with the given switches."""
    pipeline = []
    for component in base["pipeline"]:
        component = dict(component)
        name = str(component["name"])
        if name.endswith("VietnameseTokenizer"):
            component["fold"] = fold
        if name in ("DIETClassifier", "ResponseSelector"):
            component["random_seed"] = seed
            if epochs is not None:
                component["epochs"] = epochs
        pipeline.append(component)
    config = {k: v for k, v in base.items() if k not in ("policies", "pipeline")}
    config["pipeline"] = pipeline
    config["policies"] = []
    return config


def make_domain(labels: list[str], entities: list[str]) -> str:
    """A minimal domain: intents, entities and a placeholder response per retrieval key."""
    import yaml

    intents = sorted({label.split("/", 1)[0] for label in labels})
    responses = {
        f"utter_{label}": [{"text": label}] for label in sorted(set(labels)) if "/" in label
    }
    domain = {"version": "3.1", "intents": intents, "entities": entities, "responses": responses}
    return yaml.safe_dump(domain, allow_unicode=True, sort_keys=False)


def subset_yaml(data: Any, keep: set[int]) -> str:
    """Training data restricted to the examples at the given indices, as Rasa YAML."""
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
    from rasa.shared.nlu.training_data.training_data import TrainingData

    examples = [m for m in data.training_examples if m.get("text")]
    subset = TrainingData(
        training_examples=[m for i, m in enumerate(examples) if i in keep],
        entity_synonyms=data.entity_synonyms,
        regex_features=data.regex_features,
        lookup_tables=data.lookup_tables,
    )
    return RasaYAMLWriter().dumps(subset)


def _label_of(parsed: dict[str, Any]) -> tuple[str, bool]:
    """Full predicted label (``faq/<key>`` via the ResponseSelector) and fallback flag."""
    ranking = parsed.get("intent_ranking") or [parsed.get("intent") or {}]
    fell_back = (parsed.get("intent") or {}).get("name") == FALLBACK_INTENT
    best: dict[str, Any] = next((r for r in ranking if r.get("name") != FALLBACK_INTENT), {})
    intent = str(best.get("name") or "")
    selectors = parsed.get("response_selector") or {}
    selector = selectors.get(intent) or selectors.get("default")
    if intent and selector:
        key = (selector.get("response") or {}).get("intent_response_key")
        if key and str(key).startswith(f"{intent}/"):
            return str(key), fell_back
    return intent, fell_back


def run_fold(job: FoldJob) -> FoldResult:
    """Train one NLU model on the fold's training part and score the held-out texts."""
    _setup_env()
    import logging

    import yaml
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)

    from bot.text import strip_diacritics

    with tempfile.TemporaryDirectory(prefix="bench-nlu-") as tmp:
        workdir = Path(tmp)
        # A private training cache: runs side by side (two seeds) raced on the project's
        # .rasa/cache, and fold models would only have filled it with entries never reused.
        os.environ["RASA_CACHE_DIRECTORY"] = str(workdir / "cache")
        (workdir / "data").mkdir()
        (workdir / "data" / "nlu.yml").write_text(job.train_yaml, encoding="utf-8")
        (workdir / "domain.yml").write_text(job.domain_yaml, encoding="utf-8")
        config_path = workdir / "config.yml"
        config_path.write_text(yaml.safe_dump(job.config, allow_unicode=True), encoding="utf-8")
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # "Your Rasa model is trained..."
            model = train_nlu(
                str(config_path),
                str(workdir / "data"),
                str(workdir / "models"),
                fixed_model_name="fold",
                domain=str(workdir / "domain.yml"),
            )
        train_seconds = time.perf_counter() - started
        if not model:
            raise RuntimeError(f"training failed for {job.pipeline.name} fold {job.fold_index}")
        agent = Agent.load(model)

        async def parse_all(texts: list[str]) -> list[dict[str, Any]]:
            return [await agent.parse_message(text) for text in texts]

        result = FoldResult(job.pipeline.name, job.fold_index, train_seconds, 0.0, job.test_texts)
        variants = {
            "as written": job.test_texts,
            "stripped": [strip_diacritics(t) for t in job.test_texts],
        }
        for variant, texts in variants.items():
            labelled = [_label_of(p) for p in asyncio.run(parse_all(texts))]
            result.predictions[variant] = [label for label, _ in labelled]
            result.fallbacks[variant] = [fell for _, fell in labelled]
    result.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def run_isolated(job: FoldJob) -> FoldResult:
    """Run one fold in a fresh spawned process and wait for it."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(run_fold, job).result()


def macro_f1(gold: list[str], pred: list[str]) -> float:
    """Macro-averaged F1 over the gold labels."""
    from sklearn.metrics import f1_score

    return float(f1_score(gold, pred, labels=sorted(set(gold)), average="macro", zero_division=0))


def accuracy(gold: list[str], pred: list[str]) -> float:
    """Share of exact matches."""
    return sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold) if gold else 0.0


def _share(flags: list[bool]) -> float:
    """Share of True; 0 for none."""
    return sum(flags) / len(flags) if flags else 0.0


def top_level(labels: list[str]) -> list[str]:
    """Collapse retrieval labels: ``faq/is_free`` → ``faq``."""
    return [label.split("/", 1)[0] for label in labels]


def report(
    pipelines: list[Pipeline],
    results: list[FoldResult],
    gold: dict[int, list[str]],
    changed: dict[int, list[bool]],
    show_errors: bool = False,
) -> None:
    """Print the pipeline × variant table, cost figures and the worst confusions."""
    header = (
        f"{'pipeline':<12} {'variant':<11} {'acc':>7} {'macroF1':>8} {'acc(top)':>9} "
        f"{'acc(changed)':>13} {'fallback':>9} {'fb|right':>9} {'fb|wrong':>9}"
    )
    print()
    print(header)
    print("-" * len(header))
    for pipeline in pipelines:
        mine = [r for r in results if r.pipeline == pipeline.name]
        for variant in VARIANTS:
            g = [lab for r in mine for lab in gold[r.fold_index]]
            p = [lab for r in mine for lab in r.predictions[variant]]
            ch = [c for r in mine for c in changed[r.fold_index]]
            fb = [f for r in mine for f in r.fallbacks[variant]]
            right = [f for f, x, y in zip(fb, g, p, strict=True) if x == y]
            wrong = [f for f, x, y in zip(fb, g, p, strict=True) if x != y]
            g_ch = [x for x, c in zip(g, ch, strict=True) if c]
            p_ch = [x for x, c in zip(p, ch, strict=True) if c]
            print(
                f"{pipeline.name:<12} {variant:<11} {accuracy(g, p):>7.2%} "
                f"{macro_f1(g, p):>8.3f} {accuracy(top_level(g), top_level(p)):>9.2%} "
                f"{accuracy(g_ch, p_ch):>13.2%} {sum(fb) / len(fb):>9.2%} "
                f"{_share(right):>9.2%} {_share(wrong):>9.2%}"
            )
    print()
    print(f"{'pipeline':<12} {'train s/fold (mean, max)':>26} {'peak RSS MB (max)':>18}")
    for pipeline in pipelines:
        mine = [r for r in results if r.pipeline == pipeline.name]
        seconds = [r.train_seconds for r in mine]
        print(
            f"{pipeline.name:<12} {statistics.mean(seconds):>17.1f}, {max(seconds):>6.1f} "
            f"{max(r.peak_rss_mb for r in mine):>18.0f}"
        )
    for pipeline in pipelines:
        confusions: dict[tuple[str, str], list[str]] = defaultdict(list)
        for r in (r for r in results if r.pipeline == pipeline.name):
            for variant in VARIANTS:
                for g_label, p_label, text in zip(
                    gold[r.fold_index], r.predictions[variant], r.texts, strict=True
                ):
                    if g_label != p_label:
                        shown = text if variant == "as written" else f"{text} [stripped]"
                        confusions[(g_label, p_label)].append(shown)
        worst = sorted(confusions.items(), key=lambda kv: -len(kv[1]))[:12]
        print(f"\n{pipeline.name}: most frequent confusions (gold → predicted: count, e.g.)")
        for (g_label, p_label), texts in worst:
            print(f"  {g_label} → {p_label}: {len(texts)}  e.g. {texts[0]!r}")
        if show_errors:
            for (g_label, p_label), texts in sorted(confusions.items()):
                for text in texts:
                    print(f"    {g_label:<26} → {p_label:<26} {text}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=None, help="default: config.yml's")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "nlu")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yml")
    parser.add_argument(
        "--max-folds", type=int, default=None, help="run only the first N folds (development)"
    )
    parser.add_argument(
        "--no-group",
        action="store_true",
        help="plain StratifiedKFold: let spelling twins fall in different folds",
    )
    parser.add_argument("--show-errors", action="store_true", help="list every misclassified text")
    parser.add_argument(
        "--pipelines", default="A,B", help="which pipelines to run: A (fold on), B (fold off)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the cross-validation and print the figures."""
    args = parse_args(argv)
    _setup_env()
    import yaml

    from bot.text import strip_diacritics

    base = yaml.safe_load(args.config.read_text(encoding="utf-8"))
    data, texts, labels = load_examples(args.data)
    domain_yaml = make_domain(labels, sorted(data.entities))
    available = {"A": Pipeline("A fold=on", True), "B": Pipeline("B fold=off", False)}
    pipelines = [available[key.strip().upper()] for key in args.pipelines.split(",")]
    print(
        f"{len(texts)} examples, {len(set(labels))} labels (faq/<key> counted separately), "
        f"{args.folds} folds (running {args.max_folds or args.folds}, "
        f"{'plain' if args.no_group else 'spelling twins grouped'}), "
        f"epochs={args.epochs or 'config'}, seed={args.seed}"
    )
    folds = make_folds(texts, labels, args.folds, args.seed, group=not args.no_group)
    folds = folds[: args.max_folds]
    gold = {i: [labels[j] for j in test] for i, (_, test) in enumerate(folds)}
    changed = {
        i: [strip_diacritics(texts[j]) != texts[j] for j in test]
        for i, (_, test) in enumerate(folds)
    }
    results: list[FoldResult] = []
    started = time.perf_counter()
    for pipeline in pipelines:
        config = make_config(base, pipeline.fold, args.epochs, args.seed)
        for i, (train, test) in enumerate(folds):
            job = FoldJob(
                pipeline=pipeline,
                fold_index=i,
                config=config,
                train_yaml=subset_yaml(data, set(train.tolist())),
                domain_yaml=domain_yaml,
                test_texts=[texts[j] for j in test],
            )
            result = run_isolated(job)
            results.append(result)
            acc = accuracy(gold[i], result.predictions["as written"])
            acc_s = accuracy(gold[i], result.predictions["stripped"])
            print(
                f"  {pipeline.name} fold {i + 1}/{args.folds}: train {result.train_seconds:.0f}s,"
                f" acc {acc:.2%} / stripped {acc_s:.2%}, peak RSS {result.peak_rss_mb:.0f} MB",
                flush=True,
            )
    report(pipelines, results, gold, changed, args.show_errors)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"\npeak RSS: bench process {own:.0f} MB, largest worker {children:.0f} MB; "
        f"wall time {time.perf_counter() - started:.0f}s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
