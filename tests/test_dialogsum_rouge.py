"""The project's ROUGE as an `evaluate` module, for a user's own code: loaded by local path,
offline or not, it gives exactly the scores.json the pipeline wrote."""

import json
import os
import subprocess
import sys

import evaluate
import pytest

from dialogsum_lora.files import read_jsonl
from dialogsum_lora.paths import ROUGE_METRIC_DIR

PREDICTIONS = ["#Person1# asks for a table for four. They wait.", "They talk about the weather.", ""]
REFERENCES = [
    ["#Person1# asks for a table.", "#Person1# wants a table for four."],
    ["A chat on the weather."],
    ["Nothing."],
]


@pytest.mark.slow
def test_it_gives_the_metrics_evaluate_wrote_for_the_same_summaries(reproduced):
    demo = reproduced[0]
    rows = read_jsonl(demo / "reports/finetuned/predictions.jsonl")
    written = json.loads((demo / "reports/finetuned/scores.json").read_text())
    rouge = evaluate.load(str(ROUGE_METRIC_DIR), keep_in_memory=True)
    computed = rouge.compute(
        predictions=[row["prediction"] for row in rows],
        references=[row["references"] for row in rows],
        resamples=1000,
        seed=42,
    )
    # All but the two counts only generation knows: prompts cut, summaries stopped at max_new_tokens.
    assert computed == {
        key: value for key, value in written.items() if key not in ("truncated_prompts", "unfinished_summaries")
    }


@pytest.mark.slow
def test_it_loads_by_path_without_the_offline_switch_and_never_asks_the_hub(tmp_path):
    # The hub made unreachable, HF_HUB_OFFLINE unset: a load from the hub would fail or hang.
    environment = {key: value for key, value in os.environ.items() if not key.startswith("HF_")}
    environment.update(HF_ENDPOINT="http://127.0.0.1:9", HF_HOME=str(tmp_path / "hf"))
    code = (
        f"import evaluate, json; m = evaluate.load({str(ROUGE_METRIC_DIR)!r}, keep_in_memory=True); "
        f"print(json.dumps(m.compute(predictions={PREDICTIONS!r}, references={REFERENCES!r}, per_dialogue=True)))"
    )
    result = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    computed = json.loads(result.stdout)
    assert computed["num_dialogues"] == 3 and computed["num_references"] == 4 and "ci95" not in computed
    assert [scores["mean"]["rouge1"] for scores in computed["per_dialogue"]][2] == 0.0  # the empty summary
    assert 0 < computed["rouge1"] < 1


def test_bad_inputs_are_refused():
    rouge = evaluate.load(str(ROUGE_METRIC_DIR), keep_in_memory=True)
    with pytest.raises(ValueError):
        rouge.compute(predictions=["a"], references=[[]])  # a dialogue needs a reference
    with pytest.raises(ValueError):
        rouge.compute(predictions=["a", "b"], references=[["a"]])
