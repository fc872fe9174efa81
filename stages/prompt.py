"""The one prompt template, used for zero-shot, training inputs and evaluation."""


def build_prompt(template: str, dialogue: str) -> str:
    """Return the model input for one dialogue (`template` holds `{dialogue}`)."""
    return template.format(dialogue=dialogue)


def count_truncated(tokenizer, prompts: list[str], max_tokens: int) -> int:
    """How many prompts are longer than `max_tokens` tokens (and so get cut)."""
    return sum(len(ids) > max_tokens for ids in tokenizer(prompts)["input_ids"])
