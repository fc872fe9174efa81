"""The project's ROUGE as an `evaluate` module: loaded by local path, offline or not, and giving
the keys and values of the pipeline's metrics.json."""

import json
import os
import subprocess
import sys

import evaluate
import pytest

from dialogsum_lora.bootstrap import intervals
from dialogsum_lora.paths import ROUGE_METRIC_DIR
from dialogsum_lora.rouge import ROUGE_TYPES, length_statistics, load_rouge_metric, score_corpus

PREDICTIONS = ["#Person1# asks for a table for four. They wait.", "They talk about the weather.", ""]
REFERENCES = [["#Person1# asks for a table.", "#Person1# wants a table for four."], ["A chat on the weather."], ["Nothing."]]


def test_compute_gives_the_metrics_json_keys_and_the_projects_scores():
    rouge = evaluate.load(str(ROUGE_METRIC_DIR), keep_in_memory=True)
    result = rouge.compute(predictions=PREDICTIONS, references=REFERENCES)
    metrics, _ = score_corpus(PREDICTIONS, REFERENCES)
    assert list(result) == [*ROUGE_TYPES, "num_dialogues", "num_references", "best_reference", "length"]
    assert {key: result[key] for key in metrics} == metrics
    assert result["length"] == length_statistics(PREDICTIONS, REFERENCES)


def test_intervals_and_per_dialogue_scores_on_request():
    result = load_rouge_metric().compute(predictions=PREDICTIONS, references=REFERENCES, resamples=200, seed=5,
                                         per_dialogue=True)
    _, dialogues = score_corpus(PREDICTIONS, REFERENCES)
    assert result["per_dialogue"] == dialogues
    assert result["ci95"] == intervals({n: [d["mean"][n] for d in dialogues] for n in ROUGE_TYPES}, 200, 5)
    assert list(result).index("ci95") == len(ROUGE_TYPES)  # beside the headline, as in metrics.json


def test_it_loads_by_path_without_the_offline_switch_and_never_asks_the_hub(tmp_path):
    # The hub made unreachable, HF_HUB_OFFLINE unset: a load from the hub would fail or hang.
    environment = {key: value for key, value in os.environ.items() if not key.startswith("HF_")}
    environment.update(HF_ENDPOINT="http://127.0.0.1:9", HF_HOME=str(tmp_path / "hf"))
    code = (f"import evaluate, json; m = evaluate.load({str(ROUGE_METRIC_DIR)!r}, keep_in_memory=True); "
            f"print(json.dumps(m.compute(predictions={PREDICTIONS!r}, references={REFERENCES!r})))")
    result = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["rouge1"] == score_corpus(PREDICTIONS, REFERENCES)[0]["rouge1"]


def test_bad_inputs_are_refused():
    rouge = load_rouge_metric()
    with pytest.raises(ValueError):
        rouge.compute(predictions=["a"], references=[[]])  # a dialogue needs a reference
    with pytest.raises(ValueError):
        rouge.compute(predictions=["a", "b"], references=[["a"]])
