"""DialogSum-shaped synthetic data and models for the benchmarks: nothing is downloaded.

DialogSum's training split in flan-t5 tokens has prompts (template included)
of about 216 tokens on average, 400 at the 95th percentile, and summaries of
about 30 and 55. Lengths are drawn from the lognormal with that mean and 95th
percentile: as token ids at random (throughput.py), or as words that are one
token each of the tiny tokenizer, in the hub's layout (pipeline.py).
"""

import math
from pathlib import Path

import numpy as np

from dialogsum_lora.files import write_jsonl
from dialogsum_lora.modeling.base import ATTENTION
from dialogsum_lora.modeling.tiny import untie_lm_head
from dialogsum_lora.prompt import build_prompt

FLAN_T5_BASE_CONFIG = Path(__file__).resolve().parent / "flan-t5-base.json"
TRAINING_DIALOGUES, VALIDATION_DIALOGUES, TEST_DIALOGUES, REFERENCES = 12_460, 500, 500, 3
SOURCE_TOKENS_MEAN, SOURCE_TOKENS_P95 = 216, 400
TARGET_TOKENS_MEAN, TARGET_TOKENS_P95 = 30, 55
FIRST_ORDINARY_ID = 3  # below: pad, eos, unk


def lognormal_lengths(rng: np.random.Generator, count: int, mean: float, p95: float, maximum: int) -> np.ndarray:
    """`count` lengths from the lognormal with this mean and 95th percentile, cut to [2, maximum].

    mean = exp(mu + sigma^2 / 2) and p95 = exp(mu + 1.645 sigma) give sigma as
    the smaller root of sigma^2 / 2 - 1.645 sigma + ln(p95 / mean) = 0.
    """
    z95 = 1.6449
    sigma = z95 - math.sqrt(z95**2 - 2 * math.log(p95 / mean))
    mu = math.log(mean) - sigma**2 / 2
    return np.clip(np.exp(rng.normal(mu, sigma, count)).round().astype(int), 2, maximum)


def random_sequences(rng: np.random.Generator, lengths, id_limit: int, eos_id: int) -> list[np.ndarray]:
    """One sequence of random ordinary ids per length, each ending in eos as a tokenizer's output does."""
    sequences = []
    for length in lengths:
        ids = rng.integers(FIRST_ORDINARY_ID, id_limit, size=int(length))
        ids[-1] = eos_id
        sequences.append(ids)
    return sequences


# The flan-t5 sizes: flan-t5-base.json with the published configs' dimensions (77M, 248M, 783M and 2.85B parameters).
FLAN_T5_SIZES = {
    "flan-t5-small": {"d_model": 512, "d_ff": 1024, "num_layers": 8, "num_decoder_layers": 8, "num_heads": 6},
    "flan-t5-base": {},
    "flan-t5-large": {"d_model": 1024, "d_ff": 2816, "num_layers": 24, "num_decoder_layers": 24, "num_heads": 16},
    "flan-t5-xl": {"d_model": 2048, "d_ff": 5120, "num_layers": 24, "num_decoder_layers": 24, "num_heads": 32},
}


def random_flan_t5(size: str = "flan-t5-base"):
    """A flan-t5 size's architecture with random weights, lm_head untied as in the real checkpoints."""
    from transformers import T5Config, T5ForConditionalGeneration

    config = T5Config.from_json_file(FLAN_T5_BASE_CONFIG)
    config.update(FLAN_T5_SIZES[size])
    model = T5ForConditionalGeneration(config)
    model.set_attn_implementation(ATTENTION)  # as the stages load models
    return untie_lm_head(model)


# Decoder-only bases: Qwen2.5's published configs (494M and 1.54B parameters, embeddings tied), random weights.
DECODER_ONLY_SIZES = {
    "qwen2.5-0.5b": {"hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14},
    "qwen2.5-1.5b": {
        "hidden_size": 1536,
        "intermediate_size": 8960,
        "num_hidden_layers": 28,
        "num_attention_heads": 12,
    },
}
QWEN_VOCABULARY, QWEN_END = 151_936, 151_643


def random_decoder_only(size: str):
    """A Qwen2.5 size's architecture with random weights."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    dimensions = DECODER_ONLY_SIZES[size]
    config = Qwen2Config(
        vocab_size=QWEN_VOCABULARY, num_key_value_heads=2, tie_word_embeddings=True, eos_token_id=QWEN_END, **dimensions
    )
    model = Qwen2ForCausalLM(config)
    model.set_attn_implementation(ATTENTION)
    return model


def one_token_words(tokenizer) -> list[str]:
    """The tokenizer's whole-word entries that encode to exactly one token (before eos)."""
    words = [word for word in tokenizer.get_vocab() if word.isalpha() and len(word) > 1]
    return sorted(word for word in words if len(tokenizer(word, add_special_tokens=False).input_ids) == 1)


def synthetic_splits(tokenizer, template: str, sizes: dict[str, int], seed: int) -> dict[str, list[dict]]:
    """Rows in the hub's layout whose prompt and summary token counts follow DialogSum's.

    A prompt's length counts the template and eos, as finetune and generation
    see it; the test split has REFERENCES rows per dialogue, as the hub's has.
    Lengths are cut at the committed prompt.max_source_tokens and
    max_target_tokens (512, 128): longer DialogSum texts reach the model cut so.
    """
    rng = np.random.default_rng(seed)
    words = np.array(one_token_words(tokenizer))
    overhead = len(tokenizer(build_prompt(template, "")).input_ids)

    def text(tokens: int) -> str:
        return " ".join(rng.choice(words, size=max(1, tokens)))

    splits = {}
    for split, count in sizes.items():
        references = REFERENCES if split == "test" else 1
        prompt_lengths = lognormal_lengths(rng, count, SOURCE_TOKENS_MEAN, SOURCE_TOKENS_P95, 512)
        summary_lengths = lognormal_lengths(rng, count * references, TARGET_TOKENS_MEAN, TARGET_TOKENS_P95, 128)
        rows = []
        for number, prompt_length in enumerate(prompt_lengths):
            dialogue = text(int(prompt_length) - overhead)
            for reference in range(references):
                summary = text(int(summary_lengths[number * references + reference]) - 1)  # - eos
                rows.append({"id": f"{split}_{number}", "dialogue": dialogue, "summary": summary, "topic": "synthetic"})
        splits[split] = rows
    return splits


def write_splits(splits: dict[str, list[dict]], directory: Path) -> None:
    for split, rows in splits.items():
        write_jsonl(directory / f"{split}.jsonl", rows)
