"""Generation: length-sorted batches give what one dialogue at a time gives."""

import pytest
import torch

from dialogsum_lora.generation import generate_summaries
from dialogsum_lora.modeling.base import load_base_model, load_tokenizer

CPU = torch.device("cpu")


@pytest.mark.parametrize("base", ["tiny_model_dir", "tiny_decoder_dir"])
def test_batched_length_sorted_generation_matches_one_at_a_time(base, request):
    # A decoder-only model's prompts pad on the left: padded on the right, the shorter ones would be continued
    # after their padding.
    directory = request.getfixturevalue(base)
    tokenizer = load_tokenizer(directory)
    model = load_base_model(directory, torch.float32, CPU)
    prompts = ["a short one", "a much longer prompt with many more words in it than the others", "middle sized prompt"]
    encoded = tokenizer(prompts).input_ids
    settings = dict(max_new_tokens=8, num_beams=1)
    one_by_one = [generate_summaries(model, tokenizer, [ids], settings, batch_size=1).texts[0] for ids in encoded]
    batched = generate_summaries(model, tokenizer, encoded, settings, batch_size=3).texts
    assert batched == one_by_one
    assert all(batched)


def test_a_decoder_only_models_summary_is_the_continuation_of_its_prompt_alone(tiny_decoder_dir):
    tokenizer = load_tokenizer(tiny_decoder_dir)
    model = load_base_model(tiny_decoder_dir, torch.float32, CPU)
    prompt = tokenizer("#person1#: hello, how are you? #person2#: fine, thanks. summary:").input_ids
    (summary,) = generate_summaries(model, tokenizer, [prompt], {"max_new_tokens": 6, "num_beams": 1}, 1).texts
    output = model.generate(torch.tensor([prompt]), max_new_tokens=6, do_sample=False)[0].tolist()
    assert output[: len(prompt)] == prompt and len(output) == len(prompt) + 6
    assert summary == tokenizer.decode(output[len(prompt) :], skip_special_tokens=True).strip() != ""


def test_every_decoding_setting_of_params_yaml_reaches_generate_as_one_config(tiny_model_dir, monkeypatch):
    # Each key of `generate` but batch_size is a GenerationConfig argument, passed as it is: a new
    # setting needs no code here.
    import yaml
    from conftest import REPO_ROOT

    from dialogsum_lora.params.generate import GenerateParams

    settings = (
        GenerateParams(**yaml.safe_load((REPO_ROOT / "params.yaml").read_text())["generate"])
        .model_copy(update={"max_new_tokens": 6, "num_beams": 2, "length_penalty": 0.5, "no_repeat_ngram_size": 2})
        .decoding()
    )
    tokenizer = load_tokenizer(tiny_model_dir)
    model = load_base_model(tiny_model_dir, torch.float32, CPU)
    seen = []
    generate = type(model).generate
    monkeypatch.setattr(
        type(model),
        "generate",
        lambda self, **kwargs: seen.append(kwargs["generation_config"]) or generate(self, **kwargs),
    )
    generate_summaries(model, tokenizer, [tokenizer("a prompt").input_ids], settings, batch_size=1)
    (config,) = seen
    assert {key: getattr(config, key) for key in settings} == settings and set(settings) >= {
        "length_penalty",
        "no_repeat_ngram_size",
    }
    assert (config.do_sample, config.num_return_sequences) == (False, 1)


def test_no_repeat_ngram_size_stops_repeats_that_greedy_decoding_makes(tiny_model_dir):
    tokenizer = load_tokenizer(tiny_model_dir)
    model = load_base_model(tiny_model_dir, torch.float32, CPU)
    prompt = tokenizer("#person1#: hello, how are you? #person2#: fine, thanks.").input_ids

    def tokens(no_repeat: int) -> list[int]:
        (summary,) = generate_summaries(
            model,
            tokenizer,
            [prompt],
            {"max_new_tokens": 40, "num_beams": 1, "no_repeat_ngram_size": no_repeat},
            batch_size=1,
        ).texts
        return tokenizer(summary, add_special_tokens=False).input_ids

    repeated = tokens(0)
    assert len(set(repeated)) < len(repeated)  # the random tiny model repeats itself
    unique = tokens(1)
    assert len(set(unique)) == len(unique)


def test_a_model_directorys_generation_config_changes_no_summary(tiny_model_dir, tmp_path):
    # Anything transformers accepts there: more sequences, sampling, another start token, longer
    # minimum lengths, a dict output. Generation uses the project's settings alone, one summary a prompt.
    import json
    import shutil

    hostile = tmp_path / "model"
    shutil.copytree(tiny_model_dir, hostile)
    config = json.loads((hostile / "generation_config.json").read_text())
    (hostile / "generation_config.json").write_text(
        json.dumps(
            {
                **config,
                "num_return_sequences": 2,
                "num_beams": 2,
                "return_dict_in_generate": True,
                "do_sample": True,
                "decoder_start_token_id": 5,
                "min_new_tokens": 7,
                "bad_words_ids": [[5]],
                "forced_bos_token_id": 6,
            }
        )
    )
    tokenizer = load_tokenizer(tiny_model_dir)
    prompts = tokenizer(["a short one", "a much longer prompt with many more words", "middle sized prompt"]).input_ids
    settings = {"max_new_tokens": 8, "num_beams": 1}
    clean = generate_summaries(
        load_base_model(tiny_model_dir, torch.float32, CPU), tokenizer, prompts, settings, batch_size=2
    )
    odd = generate_summaries(load_base_model(hostile, torch.float32, CPU), tokenizer, prompts, settings, batch_size=2)
    assert odd == clean and len(odd.texts) == 3


@pytest.mark.parametrize("base", ["tiny_model_dir", "tiny_decoder_dir"])
def test_summaries_that_stop_at_max_new_tokens_are_told_apart_from_finished_ones(base, request):
    # The random tiny models never end a summary of their own: each stops at max_new_tokens, cut short.
    directory = request.getfixturevalue(base)
    tokenizer = load_tokenizer(directory)
    model = load_base_model(directory, torch.float32, CPU)
    prompts = tokenizer(["a short one", "a much longer prompt with many more words"]).input_ids
    generated = generate_summaries(model, tokenizer, prompts, {"max_new_tokens": 5, "num_beams": 1}, batch_size=2)
    assert generated.unfinished == [True, True]
    eos = model.config.eos_token_id
    ended = generate_summaries(
        model,
        tokenizer,
        prompts,
        {"max_new_tokens": 5, "num_beams": 1, "forced_eos_token_id": eos, "min_new_tokens": 0},
        batch_size=2,
    )
    assert ended.unfinished == [False, False]  # an end token at the last step: finished, not cut
