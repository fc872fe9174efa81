"""Topics, the largest changes, and the comparison evaluate writes, on small cases worked by hand."""

import pytest

from dialogsum_lora.results.analysis import against_baseline, largest_changes, per_topic
from dialogsum_lora.results.text import comparison_line
from dialogsum_lora.scoring.metrics import length_statistics
from dialogsum_lora.scoring.rouge import ROUGE_TYPES


def scores(*rouge1: float) -> list[dict]:
    """Per-dialogue scores as score_corpus gives them, every ROUGE type equal to rouge1."""
    return [{"mean": dict.fromkeys(ROUGE_TYPES, value), "best": dict.fromkeys(ROUGE_TYPES, value)} for value in rouge1]


def test_a_dialogue_counts_once_under_each_of_its_topics_case_and_spacing_folded():
    folded = per_topic(
        [{"topics": ["Job  Interview", "job interview", " ", "interview"]}, {"id": "no topics"}],
        {"a": scores(0.1, 0.2)},
        1,
    )
    assert [(t["topic"], t["dialogues"]) for t in folded] == [("interview", 1), ("job interview", 1)]
    rows = [
        {"topics": ["shopping", "Shopping"]},
        {"topics": ["shopping", "money"]},
        {"topics": ["money"]},
        {"topics": []},
    ]
    topics = per_topic(rows, {"baseline": scores(0.1, 0.2, 0.3, 0.4), "finetuned": scores(0.5, 0.6, 0.7, 0.8)}, 2)
    assert [(t["topic"], t["dialogues"]) for t in topics] == [("money", 2), ("shopping", 2)]  # most first, then by name
    assert topics[0]["baseline"]["rouge1"] == pytest.approx(0.25) and topics[1]["finetuned"]["rougeL"] == pytest.approx(
        0.55
    )
    assert per_topic(rows, {"a": scores(0, 0, 0, 0)}, 3) == []


def test_largest_gains_and_losses_in_order_and_only_real_changes():
    baseline, finetuned = scores(0.5, 0.5, 0.5, 0.5, 0.5), scores(0.9, 0.4, 0.5, 0.7, 0.1)
    assert largest_changes(finetuned, baseline, 2) == ([0, 3], [4, 1])
    assert largest_changes(finetuned, baseline, 5) == ([0, 3], [4, 1])  # the unchanged dialogue is neither
    assert largest_changes(baseline, baseline, 5) == ([], [])


def test_lengths_against_each_dialogues_mean_reference_length():
    stats = length_statistics(
        ["one two three four five", "one", "a b c"], [["a b", "a b"], ["a b c d"], ["a b c", "a"]]
    )
    # references: 2, 4 and 2 words; predictions 5 (over twice), 1 (under half), 3
    assert stats == {
        "prediction_words": 3.0,
        "reference_words": 2.67,
        "over_twice_reference": 0.3333,
        "under_half_reference": 0.3333,
    }


def test_against_baseline_holds_the_comparison_the_topics_and_the_examples():
    rows = [{"topics": ["a"]}, {"topics": ["a"]}, {"topics": ["b"]}]
    found = against_baseline(
        rows, scores(0.1, 0.5, 0.2), scores(0.4, 0.3, 0.2), resamples=100, seed=0, min_topic_dialogues=2, examples=5
    )
    comparison = found["comparison"]
    assert comparison["num_dialogues"] == 3 and comparison["resamples"] == 100
    assert comparison["rouge1"]["difference"] == pytest.approx(0.1 / 3, abs=1e-6)
    assert (comparison["rouge1"]["wins"], comparison["rouge1"]["ties"], comparison["rouge1"]["losses"]) == (1, 1, 1)
    assert found["topics"] == {
        "min_dialogues": 2,
        "topics": [
            {
                "topic": "a",
                "dialogues": 2,
                "baseline": dict.fromkeys(ROUGE_TYPES, 0.3),
                "finetuned": dict.fromkeys(ROUGE_TYPES, 0.35),
            }
        ],
    }
    assert (found["gains"], found["losses"]) == ([0], [1])


def test_the_console_line_gives_each_change_its_p_value_and_the_verdict():
    paired = {"difference": 0.05, "low": 0.01, "high": 0.09, "p_value": 0.0, "wins": 6, "ties": 1, "losses": 1}
    comparison = {
        "num_dialogues": 500,
        "resamples": 1000,
        **dict.fromkeys(ROUGE_TYPES, paired),
        "rouge2": {**paired, "p_value": 0.0234},
    }
    line = comparison_line(comparison)
    assert "\n" not in line and "p=" not in line
    for fact in (
        "rouge1 +0.0500 [+0.0100, +0.0900] p < 0.001",
        "rouge2 +0.0500 [+0.0100, +0.0900] p 0.023",
        "finetuned is better than baseline",
    ):
        assert fact in line, fact
    # 8 dialogues: too few for a verdict, whatever p says; no p-value is printed as if it meant something.
    few = comparison_line({**comparison, "num_dialogues": 8})
    assert "cannot tell" in few and "< 0.001" not in few and "p n/a" in few and "better" not in few
