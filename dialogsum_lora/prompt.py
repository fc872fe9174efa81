"""The one prompt template, used for zero-shot, training inputs and evaluation; tokenising it."""

from collections import Counter

from dialogsum_lora.errors import UserError


def build_prompt(template: str, dialogue: str) -> str:
    """Return the model input for one dialogue (`template` holds `{dialogue}`)."""
    return template.format(dialogue=dialogue)


def encode(tokenizer, texts: list[str], max_tokens: int, *, target: bool = False) -> tuple[list[list[int]], int]:
    """Token ids of each text (as labels if `target`), cut to `max_tokens` by the
    tokenizer's own truncation, and how many texts were longer than that.

    One pass of the tokenizer gives both: with return_overflowing_tokens, a text
    that does not fit comes back as several rows, the first being the cut one.
    """
    text_arguments = {"text_target": texts} if target else {"text": texts}
    encoded = tokenizer(**text_arguments, max_length=max_tokens, truncation=True, return_overflowing_tokens=True)
    if "overflow_to_sample_mapping" not in encoded:
        raise UserError(
            f"the tokenizer {type(tokenizer).__name__} is not a fast (Rust) tokenizer: save the model's "
            "tokenizer with the `tokenizers` library installed, so AutoTokenizer loads the fast one"
        )
    owners = encoded["overflow_to_sample_mapping"]
    first_rows = [ids for row, ids in enumerate(encoded["input_ids"]) if row == 0 or owners[row] != owners[row - 1]]
    truncated = sum(rows > 1 for rows in Counter(owners).values())
    return first_rows, truncated
