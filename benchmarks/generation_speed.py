"""Generation speed: the project's own generation loop (length-sorted batches) on token ids
with DialogSum's lengths, one dialogue at a time or in batches. Each returns its figures."""

import time

import numpy as np
import torch

from benchmarks.machine import synchronize
from dialogsum_lora.generation import generate_summaries


class TokenIdTokenizer:
    """Stands in for the tokenizer in generate_summaries, which gets token ids drawn at random.

    flan-t5-base has no tokenizer offline, and drawn ids keep the lengths exact,
    so both models go through the project's own generation loop (length sorting,
    batching, padding, model.generate) unchanged. It records how many tokens
    each output has (up to and including eos) instead of decoding text.
    """

    def __init__(self, pad_id: int, eos_id: int):
        self.pad_id, self.eos_id = pad_id, eos_id
        self.generated_lengths: list[int] = []

    def pad(self, features, padding_side: str, return_tensors: str):
        from transformers import BatchEncoding

        sequences = features["input_ids"]
        input_ids = torch.full((len(sequences), max(map(len, sequences))), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros_like(input_ids)
        for row, sequence in enumerate(sequences):
            place = (
                slice(None, len(sequence))
                if padding_side == "right"
                else slice(input_ids.shape[1] - len(sequence), None)
            )
            input_ids[row, place] = torch.tensor(sequence)
            attention_mask[row, place] = 1
        return BatchEncoding({"input_ids": input_ids, "attention_mask": attention_mask})

    def batch_decode(self, output: torch.Tensor, skip_special_tokens: bool) -> list[str]:
        for row in output.tolist():  # the new tokens alone (generate_summaries)
            self.generated_lengths.append(row.index(self.eos_id) + 1 if self.eos_id in row else len(row))
        return [""] * len(output)


def time_generation(model, tokenizer: TokenIdTokenizer, prompts, *, batch_size, max_new_tokens, device) -> dict:
    """Generate for every prompt (greedy) as the stages do, and return the dialogues per second."""
    tokenizer.generated_lengths.clear()
    synchronize(device)
    start = time.perf_counter()
    # The drawn lengths are already cut to prompt.max_source_tokens.
    generate_summaries(
        model,
        tokenizer,
        [list(prompt) for prompt in prompts],
        {"max_new_tokens": max_new_tokens, "num_beams": 1},
        batch_size,
        progress=False,
    )
    synchronize(device)
    seconds = time.perf_counter() - start
    return {
        "batch_size": batch_size,
        "dialogues": len(prompts),
        "seconds": seconds,
        "dialogues_per_s": len(prompts) / seconds,
        "mean_source_tokens": float(np.mean([len(p) for p in prompts])),
        "mean_new_tokens": float(np.mean(tokenizer.generated_lengths)),
    }
