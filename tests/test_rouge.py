"""ROUGE as published DialogSum numbers compute it: words, stemming, every reference."""

import json

import pytest

from benchmarks.rouge import PUBLISHED, read_table
from dialogsum_lora.commands.score import score_file
from dialogsum_lora.scoring.rouge import score_corpus, score_one, split_sentences


def test_scores_words_not_characters():
    # The tutorial's bug: scoring strings as sequences of characters. "cat" vs
    # "act" share every character but no word.
    assert score_one("the cat sat", ["the act sat"])["mean"]["rouge1"] == pytest.approx(2 / 3)
    assert score_one("cat", ["act"])["mean"]["rouge1"] == 0.0


def test_stemming_and_exact_match():
    assert score_one("He was walking home.", ["He walks home."])["mean"]["rouge1"] == pytest.approx(0.857142857)
    perfect = score_one("Amy buys a coat.", ["Amy buys a coat."])
    assert all(value == 1.0 for value in perfect["mean"].values())


def test_mean_and_best_over_references():
    scores = score_one("a b c d", ["a b c d", "w x y z"])
    assert scores["mean"]["rouge1"] == pytest.approx(0.5)
    assert scores["best"]["rouge1"] == 1.0


def test_empty_prediction_scores_zero():
    assert all(value == 0.0 for value in score_one("", ["a reference"])["mean"].values())


def test_rougelsum_uses_sentences():
    assert split_sentences("One here. Two there!  Three?") == "One here.\nTwo there!\nThree?"
    # Swapping two sentences breaks the longest common subsequence, not the summary-level one.
    scores = score_one("b b. a a.", ["a a. b b."])["mean"]
    assert scores["rougeLsum"] == 1.0 and scores["rougeL"] == pytest.approx(0.5)


def test_corpus_metrics_average_over_dialogues():
    metrics, per_dialogue = score_corpus(["a b", "c d"], [["a b", "x y"], ["c d"]])
    assert metrics["rouge1"] == pytest.approx((0.5 + 1.0) / 2)
    assert metrics["best_reference"]["rouge1"] == 1.0
    assert (metrics["num_dialogues"], metrics["num_references"]) == (2, 3)
    assert len(per_dialogue) == 2


@pytest.mark.skipif(not PUBLISHED.exists(), reason="../shared/data/dlai-lab2 is not beside the repository")
@pytest.mark.parametrize(
    "column, expected",
    [
        # rouge1, rouge2, rougeL (average over references), rouge1 best of references
        ("original_model_summaries", (0.2333, 0.0761, 0.2015, 0.2932)),
        ("instruct_model_summaries", (0.4214, 0.1803, 0.3384, 0.4942)),
        ("peft_model_summaries", (0.4081, 0.1635, 0.3251, 0.4790)),
    ],
)
def test_reproduces_published_dialogsum_scores(tmp_path, column, expected):
    # Rows 3i..3i+2 are test dialogue i with its three references (read_table checks it); score it once.
    table_predictions, table_references = read_table(PUBLISHED, [column])[column]
    predictions = tmp_path / "predictions.jsonl"
    with predictions.open("w", encoding="utf-8") as handle:
        for prediction, references in zip(table_predictions, table_references):
            handle.write(json.dumps({"prediction": prediction, "references": references}) + "\n")
    metrics = score_file(predictions)
    assert metrics["num_dialogues"] == 500
    for name, value in zip(("rouge1", "rouge2", "rougeL"), expected):
        assert metrics[name] == pytest.approx(value, abs=0.0005), name
    assert metrics["best_reference"]["rouge1"] == pytest.approx(expected[3], abs=0.0005)


def test_stemming_tokenizer_gives_rouge_scores_own_tokens():
    from rouge_score.tokenizers import DefaultTokenizer

    from dialogsum_lora.scoring.rouge import StemmingTokenizer

    texts = [
        "#Person1# is running late; #Person2# says the meetings were cancelled.",
        "Caresses, ponies, TIES: generously agreed-upon relational conditioning 2,000 times!",
        "",
        "Runs runs RUNNING ran",
    ]
    ours, reference = StemmingTokenizer(), DefaultTokenizer(use_stemmer=True)
    for text in texts * 2:  # the second pass reads the stem cache
        assert ours.tokenize(text) == reference.tokenize(text)
    assert ours.tokenize("running conditions") == ["run", "condit"]


def test_the_stages_score_with_the_stemming_tokenizer(monkeypatch):
    from dialogsum_lora.scoring import rouge

    tokenized = []
    original = rouge.StemmingTokenizer.tokenize
    monkeypatch.setattr(
        rouge.StemmingTokenizer, "tokenize", lambda self, text: tokenized.append(text) or original(self, text)
    )
    rouge.score_corpus(["They are running."], [["Two people run.", "A run."]])
    assert "They are running." in tokenized and "Two people run." in tokenized


def test_every_score_equals_rouge_scores_own_stemming_scorer_on_the_sample_data():
    import re
    from statistics import fmean

    from conftest import SAMPLE_DIR
    from rouge_score.rouge_scorer import RougeScorer

    from dialogsum_lora.data import load_source

    splits, _ = load_source(str(SAMPLE_DIR), None)
    references = [row["references"] for row in splits["test"]]
    # Fluent summaries of other dialogues (some of several sentences), and one reference itself.
    predictions = [row["summary"] for row in splits["train"][: len(references) - 1]] + [references[-1][0]]
    metrics, per_dialogue = score_corpus(predictions, references)

    theirs = RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=True)
    lines = lambda text: re.sub(r"(?<=[.!?])\s+", "\n", text.strip())  # noqa: E731 (rougeLsum's sentences)
    for prediction, dialogue_references, ours in zip(predictions, references, per_dialogue):
        scores = [theirs.score(lines(reference), lines(prediction)) for reference in dialogue_references]
        for name in ("rouge1", "rouge2", "rougeL", "rougeLsum"):
            assert ours["mean"][name] == fmean(s[name].fmeasure for s in scores)
            assert ours["best"][name] == max(s[name].fmeasure for s in scores)
    assert metrics["rouge1"] == round(fmean(d["mean"]["rouge1"] for d in per_dialogue), 6)
    assert per_dialogue[-1]["best"]["rouge1"] == 1.0 and 0 < metrics["rouge2"] < 1


def test_predictions_rouge_cannot_see_are_counted_as_blank_never_scored_zero_in_silence():
    from dialogsum_lora.scoring.metrics import corpus_metrics

    references = [["Amy buys a coat."]] * 5
    predictions = ["Amy buys a coat.", "", "  \n", "\u200b\u200b", "艾米买了一件外套。"]
    metrics, per_dialogue = corpus_metrics(predictions, references)
    assert metrics["blank_predictions"] == 4
    assert [scores["mean"]["rouge1"] for scores in per_dialogue] == [1.0, 0.0, 0.0, 0.0, 0.0]
