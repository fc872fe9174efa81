"""ROUGE F1 as published DialogSum numbers compute it: `rouge_score` with Porter stemming, each prediction against
every reference of its dialogue. The headline is the mean over dialogues of the average over references (the usual
per-row mean over the hub's test split, where a dialogue repeats once per reference); best-of-references takes the
max. rougeLsum reads sentences split by punctuation (no nltk model to download).
"""

import functools
import re
from statistics import fmean

from nltk.stem import porter
from rouge_score import rouge_scorer, tokenize, tokenizers

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
# Every score of every run, in one line: published rows that score otherwise (no stemmer, the best reference) differ.
PROTOCOL = "rouge_score F1, Porter stemming, mean over dialogues of the average over references"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_PORTER = porter.PorterStemmer()  # rouge_score's stemmer (use_stemmer=True)


class StemmingTokenizer(tokenizers.Tokenizer):
    """rouge_score's own tokenizer with Porter stemming, each distinct word stemmed once: the same tokens, faster
    (stemming is most of the work, a prediction is tokenised once per reference; BENCHMARKS.md, benchmarks/rouge.py)."""

    @staticmethod
    @functools.cache  # one entry per distinct word: a few MB at most
    def stem(word: str) -> str:
        return _PORTER.stem(word)

    def tokenize(self, text: str) -> list[str]:
        return tokenize.tokenize(text, self)  # calls self.stem on each word longer than 3 letters


def make_scorer() -> rouge_scorer.RougeScorer:
    return rouge_scorer.RougeScorer(list(ROUGE_TYPES), tokenizer=StemmingTokenizer())


_SCORER = make_scorer()


def has_words(text: str) -> bool:
    """Whether ROUGE sees a word in `text`: rouge_score keeps only Latin letters and digits, so a blank text, one of
    zero-width characters or one in another script has none (and scores 0 against anything)."""
    return bool(tokenize.tokenize(text, None))


def check_has_words(text: str) -> str:
    """A reference ROUGE can score against (a pydantic validator too), else a ValueError saying why."""
    if not has_words(text):
        raise ValueError(
            f"holds no word ROUGE can score (rouge_score keeps only Latin letters and digits), got {text[:40]!r}"
        )
    return text


def split_sentences(text: str) -> str:
    """`text` with each sentence on its own line: the rougeLsum unit (the other types ignore newlines)."""
    return "\n".join(s for s in _SENTENCE_END.split(text.strip()) if s)


def score_one(prediction: str, references: list[str], scorer=_SCORER) -> dict[str, dict[str, float]]:
    """{"mean": {type: F1}, "best": {type: F1}} over one or more references; an empty prediction scores 0."""
    prediction = split_sentences(prediction)
    per_reference = [scorer.score(split_sentences(reference), prediction) for reference in references]
    return {
        "mean": {name: fmean(s[name].fmeasure for s in per_reference) for name in ROUGE_TYPES},
        "best": {name: max(s[name].fmeasure for s in per_reference) for name in ROUGE_TYPES},
    }


def score_corpus(predictions: list[str], references: list[list[str]], scorer=_SCORER) -> tuple[dict, list[dict]]:
    """(metrics, per_dialogue): the headline F1 per ROUGE type, `num_dialogues`, `num_references` and `best_reference`
    (max over references); and score_one's result for each dialogue, in order."""
    per_dialogue = [score_one(p, r, scorer) for p, r in zip(predictions, references, strict=True)]
    metrics = {name: round(fmean(d["mean"][name] for d in per_dialogue), 6) for name in ROUGE_TYPES}
    metrics["num_dialogues"] = len(predictions)
    metrics["num_references"] = sum(len(r) for r in references)
    metrics["best_reference"] = {name: round(fmean(d["best"][name] for d in per_dialogue), 6) for name in ROUGE_TYPES}
    return metrics, per_dialogue
