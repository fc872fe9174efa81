import hashlib
import json
import shutil
import time

import pytest
import torch

from stages.errors import UserError
from stages.finetune import tokenize
from stages.generation import generate_summaries
from stages.modeling import check_adapter, load_base_model, load_tokenizer, model_directory
from stages.provenance import directory_hash
from stages.params import load_params
from stages.prompt import build_prompt
from stages.tiny_model import write_tiny_model

from conftest import REPO_ROOT

CPU = torch.device("cpu")


def _digest(directory):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_tiny_model_is_deterministic_untied_and_flan_shaped(tiny_model_dir, tmp_path):
    write_tiny_model(tmp_path / "again")
    assert _digest(tmp_path / "again") == _digest(tiny_model_dir)
    model = load_base_model(tiny_model_dir, torch.float32, CPU)
    assert model.lm_head.weight.data_ptr() != model.shared.weight.data_ptr()
    assert not torch.equal(model.lm_head.weight, model.shared.weight)
    assert model.config.feed_forward_proj == "gated-gelu" and not model.config.scale_decoder_outputs
    assert (model.config.pad_token_id, model.config.eos_token_id, model.config.decoder_start_token_id) == (0, 1, 0)


def test_tiny_tokenizer_round_trips_dialogue_text(tiny_model_dir):
    tokenizer = load_tokenizer(tiny_model_dir)
    text = "#Person1#: Hello, Mr. Smith! The room costs $15.50 a night."
    ids = tokenizer(text).input_ids
    assert ids[-1] == tokenizer.eos_token_id and tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids, skip_special_tokens=True) == text.lower()


def test_training_inputs_use_the_inference_prompt(tiny_model_dir):
    # The tutorial's bug: training on bare dialogues, then prompting at inference.
    params = load_params(REPO_ROOT / "params.yaml")
    tokenizer = load_tokenizer(tiny_model_dir)
    row = {"id": "x", "dialogue": "#Person1#: Can I pay by card?\n#Person2#: Yes.", "summary": "Paying by card."}
    (example,), truncated = tokenize([row], tokenizer, params)
    prompt = build_prompt(params.prompt.template, row["dialogue"])
    assert prompt.startswith("Summarize the following conversation.") and row["dialogue"] in prompt
    assert example["input_ids"] == tokenizer(prompt, max_length=512, truncation=True).input_ids
    assert example["labels"] == tokenizer(text_target=row["summary"]).input_ids
    assert truncated == {"truncated_prompts": 0, "truncated_summaries": 0}


def test_batched_length_sorted_generation_matches_one_at_a_time(tiny_model_dir):
    tokenizer = load_tokenizer(tiny_model_dir)
    model = load_base_model(tiny_model_dir, torch.float32, CPU)
    prompts = ["a short one", "a much longer prompt with many more words in it than the others", "middle sized prompt"]
    encoded = tokenizer(prompts).input_ids
    settings = dict(max_new_tokens=8, num_beams=1)
    one_by_one = [generate_summaries(model, tokenizer, [ids], batch_size=1, **settings)[0] for ids in encoded]
    batched = generate_summaries(model, tokenizer, encoded, batch_size=3, **settings)
    assert batched == one_by_one
    assert all(batched)


def test_missing_model_directory_and_files_are_clear_errors(tmp_path, tiny_model_dir):
    with pytest.raises(UserError, match="is neither a directory nor a hub id such as google/flan-t5-base"):
        model_directory(str(tmp_path / "nowhere"), None)
    copy = tmp_path / "model"
    shutil.copytree(tiny_model_dir, copy)
    assert model_directory(str(copy), None) == (copy, directory_hash(copy))
    with pytest.raises(UserError, match=r"model.name is the local directory .*, so model.revision must be null"):
        model_directory(str(copy), "main")
    (copy / "model.safetensors").rename(copy / "weights.bak")
    with pytest.raises(UserError, match="holds no .safetensors weights"):
        model_directory(str(copy), None)
    (copy / "weights.bak").rename(copy / "model.safetensors")
    (copy / "tokenizer.json").unlink()
    with pytest.raises(UserError, match="has no tokenizer.json: .* every summary would come out empty"):
        model_directory(str(copy), None)
    with pytest.raises(UserError, match="no LoRA adapter in"):
        check_adapter(tmp_path / "empty", "sha256:x")


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_weights_and_config_files_are_named(tmp_path, tiny_model_dir, damage):
    copy = tmp_path / "model"
    shutil.copytree(tiny_model_dir, copy)
    weights = copy / "model.safetensors"
    if damage == "truncate":
        weights.write_bytes(weights.read_bytes()[:-100])
    else:
        weights.write_bytes(b"not a safetensors file")
    with pytest.raises(UserError, match=f"{weights} is not a complete safetensors file"):
        model_directory(str(copy), None)
    shutil.copy(tiny_model_dir / "model.safetensors", weights)
    (copy / "config.json").write_text("{not json")
    with pytest.raises(UserError, match=f"{copy / 'config.json'} is not valid JSON"):
        model_directory(str(copy), None)


def test_unreachable_hub_model_fails_within_seconds():
    start = time.monotonic()
    with pytest.raises(UserError) as error:
        model_directory("google/flan-t5-base", None)
    assert time.monotonic() - start < 10
    assert "google/flan-t5-base" in str(error.value) and "stages.tiny_model" in str(error.value)


def test_unreachable_hub_switches_to_offline_at_once(monkeypatch):
    import datasets.config
    from huggingface_hub import constants

    from stages.hub import offline_unless_reachable

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    start = time.monotonic()
    offline_unless_reachable()
    assert time.monotonic() - start < 5
    assert constants.HF_HUB_OFFLINE and datasets.config.HF_HUB_OFFLINE


def test_one_tokenisation_cuts_as_the_tokenizer_does_and_counts_the_cut(tiny_model_dir):
    from stages.prompt import encode

    tokenizer = load_tokenizer(tiny_model_dir)
    # Words in the vocabulary: 7, 2 and 12 tokens with </s>; the last overflows into two extra rows.
    texts = ["the a an and or but", "the", "the a an and or but the a an and or"]
    for limit, cut in ((4, 2), (6, 2), (7, 1), (12, 0)):
        ids, truncated = encode(tokenizer, texts, limit)
        assert ids == tokenizer(texts, max_length=limit, truncation=True).input_ids
        assert truncated == cut, limit
        labels, truncated = encode(tokenizer, texts, limit, target=True)
        assert labels == tokenizer(text_target=texts, max_length=limit, truncation=True).input_ids
        assert truncated == cut, limit


def test_a_slow_tokenizer_is_a_clear_error():
    from stages.prompt import encode

    class SlowTokenizer:  # what a tokenizer without the Rust backend returns: no overflow mapping
        def __call__(self, **kwargs):
            return {"input_ids": [[5, 1]], "overflowing_tokens": [[]]}

    with pytest.raises(UserError, match="not a fast \\(Rust\\) tokenizer"):
        encode(SlowTokenizer(), ["hello"], 8)


def test_steady_training_speed_times_whole_blocks_after_the_first():
    from stages.finetune import StepClock, length_group_steps

    assert length_group_steps(12_460, 8) == 50 and length_group_steps(12_460, 64) == 48
    assert length_group_steps(200, 8) == 6 and length_group_steps(3, 8) == 1
    clock = StepClock(block_steps=10)
    # Steps 1-10 take 5 s each (warm-up, compiling), step 11 takes 3 s, steps 12-25 take 0.5 s.
    clock.times = [5.0 * step for step in range(1, 11)] + [53.0] + [53 + 0.5 * step for step in range(1, 15)]
    assert clock.timed_steps() == 10  # steps 11-20; 21-25 are not a whole block
    assert clock.steady_steps_per_second() == pytest.approx(10 / (57.5 - 50))
    clock.times = clock.times[:19]
    assert clock.timed_steps() == 0 and clock.steady_steps_per_second() is None


def test_no_code_from_a_model_directory_runs_whatever_the_user_answers(tmp_path, tiny_model_dir, monkeypatch):
    import builtins
    import sys

    from stages.finetune import check_target_modules
    from stages.params import load_params

    marker = tmp_path / "code-ran"
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    (model / "evil.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    for name, classes in (("config.json", {"AutoConfig": "evil.Config", "AutoModelForSeq2SeqLM": "evil.Model"}),
                          ("tokenizer_config.json", {"AutoTokenizer": ["evil.Tokenizer", "evil.Tokenizer"]})):
        config = json.loads((model / name).read_text())
        (model / name).write_text(json.dumps({**config, "auto_map": classes}))
    # A terminal whose user answers "y" to "Do you wish to run the custom code?"
    monkeypatch.setattr(builtins, "input", lambda *args: "y")
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)

    directory, _ = model_directory(str(model), None)
    check_target_modules(load_params(REPO_ROOT / "params.yaml"), directory)
    load_tokenizer(directory)
    load_base_model(directory, torch.float32, CPU)
    assert not marker.exists()

    # A model type that only the directory's code defines is refused, not run.
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, "model_type": "evil-t5"}))
    with pytest.raises(UserError):
        load_base_model(directory, torch.float32, CPU)
    assert not marker.exists()
