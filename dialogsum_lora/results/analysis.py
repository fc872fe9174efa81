"""Where finetuned wins and loses against baseline: the paired comparison, ROUGE per topic, largest ROUGE-1 changes."""

from statistics import fmean

from pydantic import Field

from dialogsum_lora.paths import BASELINE, FINETUNED
from dialogsum_lora.schema import Record
from dialogsum_lora.scoring.bootstrap import compare
from dialogsum_lora.scoring.metrics import per_type
from dialogsum_lora.scoring.rouge import ROUGE_TYPES


def per_topic(test_rows: list[dict], systems: dict[str, list[dict]], min_dialogues: int) -> list[dict]:
    """Mean ROUGE of each system (score_corpus's per-dialogue scores) per topic of `min_dialogues` or more dialogues,
    most first; a dialogue counts under each topic its annotators name, case and spacing folded."""
    members: dict[str, list[int]] = {}
    for index, row in enumerate(test_rows):
        for topic in dict.fromkeys(" ".join(t.split()).lower() for t in row.get("topics", []) if t.strip()):
            members.setdefault(topic, []).append(index)
    kept = [(topic, indices) for topic, indices in members.items() if len(indices) >= min_dialogues]
    found = []
    for topic, indices in sorted(kept, key=lambda item: (-len(item[1]), item[0])):
        means = {
            system: {name: round(fmean(scores[i]["mean"][name] for i in indices), 6) for name in ROUGE_TYPES}
            for system, scores in systems.items()
        }
        found.append({"topic": topic, "dialogues": len(indices), **means})
    return found


def largest_changes(candidate: list[dict], other: list[dict], count: int) -> tuple[list[int], list[int]]:
    """The indices of the `count` largest ROUGE-1 gains and losses of `candidate` over `other`, ties in split order."""
    changes = [(c["mean"]["rouge1"] - o["mean"]["rouge1"], index) for index, (c, o) in enumerate(zip(candidate, other))]
    gains = [index for change, index in sorted(changes, key=lambda c: (-c[0], c[1])) if change > 0][:count]
    losses = [index for change, index in sorted(changes) if change < 0][:count]
    return gains, losses


def paired_comparison(candidate: list[dict], other: list[dict], resamples: int, seed: int) -> dict:
    """The paired bootstrap comparison, candidate minus other, per ROUGE type (score_corpus's second result)."""
    return {
        "num_dialogues": len(candidate),
        "resamples": resamples,
        **compare(per_type(candidate), per_type(other), resamples, seed),
    }


def against_baseline(
    test_rows: list[dict],
    baseline: list[dict],
    finetuned: list[dict],
    resamples: int,
    seed: int,
    min_topic_dialogues: int,
    examples: int,
) -> dict:
    """finetuned vs baseline: the paired comparison, ROUGE per topic, the `examples` largest ROUGE-1 gains, losses."""
    gains, losses = largest_changes(finetuned, baseline, examples)
    topics = per_topic(test_rows, {BASELINE: baseline, FINETUNED: finetuned}, min_topic_dialogues)
    return {
        "comparison": paired_comparison(finetuned, baseline, resamples, seed),
        "topics": {"min_dialogues": min_topic_dialogues, "topics": topics},
        "gains": gains,
        "losses": losses,
    }


class Paired(Record):
    difference: float = Field(ge=-1, le=1)
    low: float = Field(ge=-1, le=1)
    high: float = Field(ge=-1, le=1)
    p_value: float = Field(ge=0, le=1)
    wins: int = Field(ge=0)
    ties: int = Field(ge=0)
    losses: int = Field(ge=0)


class Comparison(Record):
    """reports/comparison.json: finetuned minus baseline per ROUGE type, as paired_comparison gives it."""

    num_dialogues: int = Field(ge=1)
    resamples: int = Field(ge=1)
    rouge1: Paired
    rouge2: Paired
    rougeL: Paired
    rougeLsum: Paired
