"""The metrics of a system's summaries: ROUGE (rouge.py), 95% bootstrap intervals (bootstrap.py) and summary lengths,
as the stages, dialogsum-score and the `evaluate` metric module (dialogsum_rouge/) all compute them."""

from statistics import fmean

from dialogsum_lora.scoring.bootstrap import intervals
from dialogsum_lora.scoring.rouge import ROUGE_TYPES, has_words, score_corpus

# What a warning says of the blank_predictions, the summaries has_words finds no word in.
NO_WORDS = (
    "hold no word ROUGE can score (blank, zero-width characters only, or no Latin letters or digits): each scores 0"
)


def corpus_metrics(
    predictions: list[str], references: list[list[str]], resamples: int = 0, seed: int = 0
) -> tuple[dict, list[dict]]:
    """scores.json's content (score_corpus's, `ci95` if `resamples`, blank_predictions, length), per-dialogue scores."""
    scores, per_dialogue = score_corpus(predictions, references)
    metrics = {name: scores[name] for name in ROUGE_TYPES}
    if resamples:
        metrics["ci95"] = intervals(per_type(per_dialogue), resamples, seed)
    metrics.update({key: value for key, value in scores.items() if key not in ROUGE_TYPES})
    metrics["blank_predictions"] = sum(not has_words(prediction) for prediction in predictions)
    metrics["length"] = length_statistics(predictions, references)
    return metrics, per_dialogue


def per_type(scores: list[dict]) -> dict[str, list[float]]:
    """Per-dialogue scores (score_corpus's second result) as one list per ROUGE type."""
    return {name: [s["mean"][name] for s in scores] for name in ROUGE_TYPES}


def mean_reference_words(references: list[list[str]]) -> list[float]:
    return [fmean(len(r.split()) for r in refs) for refs in references]


def length_statistics(predictions: list[str], references: list[list[str]]) -> dict:
    """Mean words of predictions and of references (averaged per dialogue), and the share over twice or under half."""
    reference_words = mean_reference_words(references)
    prediction_words = [len(p.split()) for p in predictions]
    pairs = list(zip(prediction_words, reference_words))
    return {
        "prediction_words": round(fmean(prediction_words), 2),
        "reference_words": round(fmean(reference_words), 2),
        "over_twice_reference": round(sum(p > 2 * r for p, r in pairs) / len(pairs), 4),
        "under_half_reference": round(sum(p < r / 2 for p, r in pairs) / len(pairs), 4),
    }
