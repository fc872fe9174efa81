"""Where fine-tuning wins and loses against zero-shot: the paired comparison, ROUGE per topic,
and the dialogues on which ROUGE-1 changed most."""

from statistics import fmean

from dialogsum_lora.bootstrap import compare
from dialogsum_lora.rouge import ROUGE_TYPES, change_text, p_value_text, per_type


def topic_names(row: dict) -> list[str]:
    """A test dialogue's distinct topics (its annotators may name several), case and spacing
    folded, in first-seen order."""
    return list(dict.fromkeys(" ".join(t.split()).lower() for t in row.get("topics", []) if t.strip()))


def per_topic(test_rows: list[dict], systems: dict[str, list[dict]], min_dialogues: int) -> list[dict]:
    """Mean ROUGE of each system on each topic with at least `min_dialogues` test dialogues,
    most dialogues first. A dialogue counts once under each of its topics. `systems` maps a
    name to per-dialogue scores as score_corpus gives them (rows in the test split's order)."""
    members: dict[str, list[int]] = {}
    for index, row in enumerate(test_rows):
        for topic in topic_names(row):
            members.setdefault(topic, []).append(index)
    kept = sorted(((topic, indices) for topic, indices in members.items() if len(indices) >= min_dialogues),
                  key=lambda item: (-len(item[1]), item[0]))
    return [
        {
            "topic": topic,
            "dialogues": len(indices),
            **{
                system: {name: round(fmean(scores[i]["mean"][name] for i in indices), 6) for name in ROUGE_TYPES}
                for system, scores in systems.items()
            },
        }
        for topic, indices in kept
    ]


def largest_changes(before: list[dict], after: list[dict], count: int, name: str = "rouge1") -> tuple[list[int], list[int]]:
    """The dialogues (indices) with the `count` largest gains and the `count` largest losses
    in per-dialogue ROUGE (`name`, averaged over references) from `before` to `after`;
    equal changes in test-split order."""
    changes = [(b["mean"][name] - a["mean"][name], index) for index, (a, b) in enumerate(zip(before, after))]
    gains = [index for change, index in sorted(changes, key=lambda c: (-c[0], c[1])) if change > 0][:count]
    losses = [index for change, index in sorted(changes) if change < 0][:count]
    return gains, losses


def paired_comparison(mine: list[dict], theirs: list[dict], resamples: int, seed: int) -> dict:
    """The paired bootstrap comparison of two sets of per-dialogue scores (score_corpus's second
    result) of the same dialogues, per ROUGE type: mine minus theirs."""
    return {"num_dialogues": len(mine), "resamples": resamples,
            **compare(per_type(mine), per_type(theirs), resamples, seed)}


def against_zero_shot(test_rows: list[dict], zero_shot: list[dict], finetuned: list[dict], resamples: int, seed: int,
                      min_topic_dialogues: int, examples: int) -> dict:
    """Fine-tuned against zero-shot on the same test dialogues: the paired bootstrap comparison
    per ROUGE type (the same resamples as the intervals), ROUGE per topic, and the indices of
    the `examples` dialogues with the largest ROUGE-1 gains and losses."""
    gains, losses = largest_changes(zero_shot, finetuned, examples)
    return {
        "comparison": paired_comparison(finetuned, zero_shot, resamples, seed),
        "topics": {"min_dialogues": min_topic_dialogues,
                   "topics": per_topic(test_rows, {"zero_shot": zero_shot, "finetuned": finetuned}, min_topic_dialogues)},
        "gains": gains,
        "losses": losses,
    }


def comparison_line(comparison: dict) -> str:
    """One line of the paired comparison, for evaluate's console output (p-values as report.md writes them)."""
    resamples = comparison["resamples"]
    return "; ".join(f"{name} {change_text(comparison[name])} p {p_value_text(comparison[name]['p_value'], resamples)}"
                     for name in ROUGE_TYPES)
