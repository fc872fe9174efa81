"""Training: the inference prompt in the training inputs, the steady speed, divergence caught."""

from types import SimpleNamespace

import pytest
import torch
from conftest import REPO_ROOT

from dialogsum_lora.errors import UserError
from dialogsum_lora.modeling.base import load_base_model, load_tokenizer
from dialogsum_lora.params import load_params
from dialogsum_lora.prompt import build_prompt
from dialogsum_lora.training.trainer import build_training_examples

CPU = torch.device("cpu")


def test_training_inputs_use_the_inference_prompt(tiny_model_dir):
    # The tutorial's bug: training on bare dialogues, then prompting at inference.
    from stages.finetune import Reads

    params = load_params(Reads, REPO_ROOT / "params.yaml")
    tokenizer = load_tokenizer(tiny_model_dir)
    row = {"id": "x", "dialogue": "#Person1#: Can I pay by card?\n#Person2#: Yes.", "summary": "Paying by card."}
    (example,), truncated = build_training_examples([row], tokenizer, params.prompt)
    prompt = build_prompt(params.prompt.template, row["dialogue"])
    assert prompt.startswith("Summarize the following conversation.") and row["dialogue"] in prompt
    assert example["input_ids"] == tokenizer(prompt, max_length=512, truncation=True).input_ids
    assert example["labels"] == tokenizer(text_target=row["summary"]).input_ids
    assert truncated == {"truncated_prompts": 0, "truncated_summaries": 0}


def test_a_decoder_only_model_trains_on_the_inference_prompt_then_the_summary_and_its_end(
    tiny_decoder_dir, tiny_model_dir
):
    # One sequence: the prompt exactly as inference tokenises it (encode_prompts, shots or not), then the summary and
    # the end token; the loss covers those alone.
    from dialogsum_lora.prompt import encode_prompts, summary_text
    from stages.finetune import Reads

    prompt = load_params(Reads, REPO_ROOT / "params.yaml").prompt.model_copy(update={"max_target_tokens": 12})
    tokenizer = load_tokenizer(tiny_decoder_dir)
    rows = [
        {"id": "a", "dialogue": "#Person1#: Can I pay by card?\n#Person2#: Yes.", "summary": "Paying by card."},
        {
            "id": "b",
            "dialogue": "#Person1#: Hi.",
            "summary": "#Person1# says hello to #Person2# in the morning, and #Person2# says hello back at noon.",
        },
    ]
    examples, truncated = build_training_examples(rows, tokenizer, prompt, decoder_only=True)
    inference, _ = encode_prompts(tokenizer, prompt, [row["dialogue"] for row in rows], decoder_only=True)
    eos = tokenizer.eos_token_id
    for example, prompt_ids, row in zip(examples, inference, rows):
        summary = example["input_ids"][len(prompt_ids) :]
        assert example["input_ids"][: len(prompt_ids)] == prompt_ids and eos not in prompt_ids
        words = tokenizer.decode(prompt_ids).split()
        assert words == build_prompt(prompt.template, row["dialogue"]).lower().replace("\n#", " #").split()
        assert example["labels"] == [-100] * len(prompt_ids) + summary and summary[-1] == eos
        assert len(example["attention_mask"]) == len(example["input_ids"])
    summary = [token for token in examples[0]["labels"] if token != -100]
    assert tokenizer.decode(summary, skip_special_tokens=True) == "paying by card."
    assert len(examples[1]["labels"]) - examples[1]["labels"].count(-100) == 12  # max_target_tokens, with its end
    assert truncated == {"truncated_prompts": 0, "truncated_summaries": 1}
    # The template's closing space begins the summary, as in the joined text; a tokenizer that ends each text with
    # its end token (the tiny T5's) ends no prompt with it.
    assert summary_text(prompt.template, "hi", "Paying.") == " Paying." and prompt.template.endswith(": ")
    t5_tokenizer = load_tokenizer(tiny_model_dir)
    (ids,), _ = encode_prompts(t5_tokenizer, prompt, [rows[0]["dialogue"]], decoder_only=True)
    assert ids == t5_tokenizer(build_prompt(prompt.template, rows[0]["dialogue"])).input_ids[:-1]


def test_steady_training_speed_times_whole_blocks_after_the_first():
    from dialogsum_lora.training.trainer import StepClock, length_group_steps

    assert length_group_steps(12_460, 8) == 50 and length_group_steps(12_460, 64) == 48
    assert length_group_steps(200, 8) == 6 and length_group_steps(3, 8) == 1
    clock = StepClock(block_steps=10)
    # Steps 1-10 take 5 s each (warm-up, compiling), step 11 takes 3 s, steps 12-25 take 0.5 s.
    clock.times = [5.0 * step for step in range(1, 11)] + [53.0] + [53 + 0.5 * step for step in range(1, 15)]
    assert clock.timed_steps() == 10  # steps 11-20; 21-25 are not a whole block
    assert clock.steady_steps_per_second() == pytest.approx(10 / (57.5 - 50))
    clock.times = clock.times[:19]
    assert clock.timed_steps() == 0 and clock.steady_steps_per_second() is None


def test_a_diverging_run_stops_with_a_clear_error_and_saves_no_adapter(tmp_path, tiny_model_dir):
    from dialogsum_lora.modeling.adapter import save_adapter
    from dialogsum_lora.training.trainer import StopOnDivergence

    with pytest.raises(
        UserError,
        match=r"training diverged: the training loss is nan at step 7; lower the learning rate "
        r"\(now 0.5; train.learning_rate",
    ):
        StopOnDivergence().on_log(
            SimpleNamespace(learning_rate=0.5), SimpleNamespace(global_step=7), None, logs={"loss": float("nan")}
        )
    StopOnDivergence().on_log(
        SimpleNamespace(learning_rate=0.5), SimpleNamespace(global_step=8), None, logs={"loss": 1.5}
    )

    from peft import LoraConfig, get_peft_model

    model = get_peft_model(load_base_model(tiny_model_dir, torch.float32, CPU), LoraConfig(r=2, target_modules=["q"]))
    next(p for p in model.parameters() if p.requires_grad).data.fill_(float("inf"))
    with pytest.raises(
        UserError, match="training diverged: the trained weights are not all finite; lower the learning rate"
    ):
        save_adapter(model, None, {}, tmp_path / "adapter")
    assert not (tmp_path / "adapter").exists()


def test_the_adapter_kept_is_the_first_best_validations_and_a_resumed_run_keeps_it(tmp_path, tiny_model_dir):
    from peft import get_peft_model_state_dict

    from dialogsum_lora.params.methods import LoraParams
    from dialogsum_lora.training.trainer import KeepBest, trainable_model

    model = trainable_model(
        load_base_model(tiny_model_dir, torch.float32, CPU),
        "lora",
        LoraParams(r=2, alpha=4.0, dropout=0.0, target_modules=["q"]),
    )
    arguments = SimpleNamespace(output_dir=str(tmp_path))

    def validate(keep, step, rouge1, loss):
        with torch.no_grad():  # the adapter as training left it at `step`
            for name, weight in model.named_parameters():
                if "lora_" in name:
                    weight.fill_(step)
        keep.on_evaluate(
            arguments,
            SimpleNamespace(global_step=step),
            None,
            model=model,
            metrics={"eval_loss": loss, "eval_rouge1": rouge1},
        )

    def save(keep, step):
        (tmp_path / f"checkpoint-{step}").mkdir()
        keep.on_save(arguments, SimpleNamespace(global_step=step), None)

    by_rouge, by_loss = KeepBest("best_rouge1"), KeepBest("lowest_loss")
    for step, rouge1, loss in ((10, 0.20, 3.0), (20, 0.25, 2.5), (30, 0.25, 2.0), (40, 0.18, 2.2)):
        for keep in (by_rouge, by_loss):
            validate(keep, step, rouge1, loss)
        if step == 30:
            save(by_rouge, step)
    assert (by_rouge.kept.step, by_rouge.kept.value) == (20, 0.25)  # a tie keeps the first
    assert (by_loss.kept.step, by_loss.kept.value) == (30, 2.0)

    # A run killed after checkpoint-30 resumes with the adapter kept up to then: step 20's.
    resumed = KeepBest("best_rouge1", tmp_path / "checkpoint-30")
    validate(resumed, 40, 0.18, 2.2)
    assert resumed.restore(model) == by_rouge.kept
    weights = get_peft_model_state_dict(model)
    assert weights and all(torch.equal(weight, torch.full_like(weight, 20)) for weight in weights.values())


def test_a_training_subset_is_seeded_in_split_order_and_nested_and_never_larger_than_the_split():
    from dialogsum_lora.params.train import TrainParams
    from dialogsum_lora.subsets import seeded_subset

    rows = [{"id": str(i)} for i in range(100)]
    subsets = {size: seeded_subset(rows, size, seed=3) for size in (10, 40, 99)}
    for size, subset in subsets.items():
        ids = [int(row["id"]) for row in subset]
        assert len(ids) == len(set(ids)) == size and ids == sorted(ids)  # in the split's order
    assert {r["id"] for r in subsets[10]} < {r["id"] for r in subsets[40]} < {r["id"] for r in subsets[99]}  # nested
    assert seeded_subset(rows, 10, seed=3) == subsets[10] and seeded_subset(rows, 10, seed=4) != subsets[10]
    assert seeded_subset(rows, None, seed=3) == rows and seeded_subset(rows, 500, seed=3) == rows

    from stages.finetune import Reads

    params = load_params(Reads, REPO_ROOT / "params.yaml").train
    train = TrainParams(**{**params.model_dump(), "dialogues": 101})
    train.check(101)
    with pytest.raises(UserError) as error:
        train.check(100)
    assert "train.dialogues is 101" in str(error.value) and "has 100" in str(error.value)
