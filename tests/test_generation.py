"""Generation: length-sorted batches give what one dialogue at a time gives."""

import torch

from dialogsum_lora.generation import generate_summaries
from dialogsum_lora.modeling.base import load_base_model, load_tokenizer

CPU = torch.device("cpu")


def test_batched_length_sorted_generation_matches_one_at_a_time(tiny_model_dir):
    tokenizer = load_tokenizer(tiny_model_dir)
    model = load_base_model(tiny_model_dir, torch.float32, CPU)
    prompts = ["a short one", "a much longer prompt with many more words in it than the others", "middle sized prompt"]
    encoded = tokenizer(prompts).input_ids
    settings = dict(max_new_tokens=8, num_beams=1)
    one_by_one = [generate_summaries(model, tokenizer, [ids], settings, batch_size=1)[0] for ids in encoded]
    batched = generate_summaries(model, tokenizer, encoded, settings, batch_size=3)
    assert batched == one_by_one
    assert all(batched)
