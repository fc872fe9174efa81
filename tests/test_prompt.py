"""The prompt is tokenised once, cut as the tokenizer cuts, and the cut ones are counted."""

import pytest

from dialogsum_lora.errors import UserError
from dialogsum_lora.modeling.base import load_tokenizer


def test_one_tokenisation_cuts_as_the_tokenizer_does_and_counts_the_cut(tiny_model_dir):
    from dialogsum_lora.prompt import encode

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
    from dialogsum_lora.prompt import encode

    class SlowTokenizer:  # what a tokenizer without the Rust backend returns: no overflow mapping
        def __call__(self, **kwargs):
            return {"input_ids": [[5, 1]], "overflowing_tokens": [[]]}

    with pytest.raises(UserError, match="not a fast \\(Rust\\) tokenizer"):
        encode(SlowTokenizer(), ["hello"], 8)
