"""The one prompt template, used for zero-shot, training inputs and evaluation; tokenising it."""

from collections import Counter


def build_prompt(template: str, dialogue: str) -> str:
    """Return the model input for one dialogue (`template` holds `{dialogue}`)."""
    return template.format(dialogue=dialogue)


def encode(tokenizer, texts: list[str], max_tokens: int) -> tuple[list[list[int]], int]:
    """Token ids of each text, cut to `max_tokens` by the tokenizer's own truncation,
    and how many texts were longer than that.

    One pass of the tokenizer gives both: with return_overflowing_tokens, a text
    that does not fit comes back as several rows, the first being the cut one.
    """
    encoded = tokenizer(texts, max_length=max_tokens, truncation=True, return_overflowing_tokens=True)
    owners = encoded["overflow_to_sample_mapping"]
    first_rows = [ids for row, ids in enumerate(encoded["input_ids"]) if row == 0 or owners[row] != owners[row - 1]]
    truncated = sum(rows > 1 for rows in Counter(owners).values())
    return first_rows, truncated
