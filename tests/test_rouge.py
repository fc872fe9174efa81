import json
import subprocess
import sys

import pytest

from benchmarks.rouge import PUBLISHED, read_table
from stages.errors import UserError
from stages.rouge import score_corpus, score_one, split_sentences
from stages.score import score_file

from conftest import REPO_ROOT


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


def test_score_cli_prints_metrics_and_rejects_bad_rows(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"prediction": "a b", "references": ["a b"]}) + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "stages.score", str(good)], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout)["rouge1"] == 1.0

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prediction": "a b", "references": "a b"}) + "\n")
    with pytest.raises(UserError, match="row 1: needs 'references', a non-empty list"):
        score_file(bad)
    result = subprocess.run([sys.executable, "-m", "stages.score", str(bad)], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr and "row 1" in result.stderr


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

    from stages.rouge import StemmingTokenizer

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
    from stages import rouge

    tokenized = []
    original = rouge.StemmingTokenizer.tokenize
    monkeypatch.setattr(rouge.StemmingTokenizer, "tokenize", lambda self, text: tokenized.append(text) or original(self, text))
    rouge.score_corpus(["They are running."], [["Two people run.", "A run."]])
    assert "They are running." in tokenized and "Two people run." in tokenized


@pytest.mark.parametrize(
    "content, test_split, message",
    [
        (None, False, "missing.jsonl not found"),
        ("directory", False, "is a directory, not a file"),
        ('{"prediction": 3, "references": ["a"]}', False, "row 1: needs 'prediction', a string, got 3"),
        ('{"prediction": "a", "references": []}', False, "row 1: needs 'references', a non-empty list of non-empty strings, got []"),
        ('{"prediction": "a", "references": ["a", ""]}', False, "row 1: needs 'references', a non-empty list of non-empty strings"),
        ('{"prediction": "a", "references": [1]}', False, "row 1: needs 'references', a non-empty list of non-empty strings, got [1]"),
        ('{"id": 7, "prediction": "a"}', True, "row 1: needs 'id', a string naming a test dialogue, got 7"),
    ],
)
def test_score_cli_refuses_a_users_bad_file_in_one_line(tmp_path, content, test_split, message):
    path = tmp_path / "missing.jsonl"
    if content == "directory":
        path.mkdir()
    elif content is not None:
        path.write_text(content + "\n")
    command = [sys.executable, "-m", "stages.score", str(path)]
    if test_split:
        (tmp_path / "test.jsonl").write_text('{"id": "x", "dialogue": "d", "references": ["a b"]}\n')
        command += ["--test", str(tmp_path / "test.jsonl")]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert "dvc repro" not in result.stderr  # the user's own file, not a pipeline output
