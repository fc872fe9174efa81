"""The one prompt template (zero-shot and few-shot prompts, training inputs, evaluation), and tokenising it."""

from collections import Counter
from collections.abc import Sequence

from dialogsum_lora.errors import UserError
from dialogsum_lora.params.prompt import PromptParams


def build_prompt(template: str, dialogue: str) -> str:
    """The model input for one dialogue."""
    return template.format(dialogue=dialogue)


def shots_prefix(template: str, shots: Sequence[dict]) -> str:
    """The text a few-shot prompt starts with: each shot (a training row) as its prompt, its summary and a blank
    line, so that it reads as a dialogue the model has already summarised; "" for none."""
    return "".join(build_prompt(template, shot["dialogue"]) + shot["summary"] + "\n\n" for shot in shots)


def shot_tokens(tokenizer, prompt: PromptParams, shots: Sequence[dict]) -> list[int]:
    """The shots' token ids, which every prompt keeps whole; a UserError if they leave no room in
    prompt.max_source_tokens for a one-token dialogue (a stage calls it before the model loads)."""
    ids = tokenizer(shots_prefix(prompt.template, shots), add_special_tokens=False)["input_ids"]
    template_tokens = len(tokenizer(build_prompt(prompt.template, ""))["input_ids"])
    if len(ids) + template_tokens >= prompt.max_source_tokens:
        raise UserError(
            f"params.yaml: baseline.shots is {len(shots)}, but those shots take {len(ids):,} tokens and the template "
            f"{template_tokens} more, which leaves no room for a dialogue in prompt.max_source_tokens "
            f"({prompt.max_source_tokens}): lower baseline.shots, or raise prompt.max_source_tokens (finetune reads it "
            "too: it retrains)"
        )
    return ids


def encode_prompts(
    tokenizer, prompt: PromptParams, dialogues: list[str], shots: Sequence[dict] = (), *, decoder_only: bool = False
) -> tuple[list[list[int]], int]:
    """Each dialogue's prompt as token ids, at most prompt.max_source_tokens, and how many were cut.

    Shots are kept whole, where the text begins (after any start token), and the dialogue's prompt is cut to the
    tokens they leave: cutting the whole text would cut the dialogue first, or leave a shot in pieces.

    A decoder-only model continues its prompt, so the prompt stops where its text does: the whitespace the template
    ends with begins the summary instead (summary_text), tokenised as in the joined text (a BPE tokenizer would
    leave a lone space token), and no end token follows it (a tokenizer may append one)."""
    prompts = [build_prompt(prompt.template, dialogue) for dialogue in dialogues]
    if decoder_only:
        prompts = [text.rstrip() for text in prompts]
    shot_ids = shot_tokens(tokenizer, prompt, shots) if shots else []
    encoded, truncated = encode(tokenizer, prompts, prompt.max_source_tokens - len(shot_ids))
    if decoder_only:
        encoded = [ids[:-1] if ids[-1:] == [tokenizer.eos_token_id] else ids for ids in encoded]
    if not shots:
        return encoded, truncated
    start = tokenizer("x")["input_ids"].index(tokenizer("x", add_special_tokens=False)["input_ids"][0])
    return [ids[:start] + shot_ids + ids[start:] for ids in encoded], truncated


def summary_text(template: str, dialogue: str, summary: str) -> str:
    """What a decoder-only model learns to write after its prompt (encode_prompts): the whitespace the prompt's text
    ends with, then the summary."""
    text = build_prompt(template, dialogue)
    return text[len(text.rstrip()) :] + summary


def encode(
    tokenizer, texts: list[str], max_tokens: int, *, target: bool = False, special: bool = True
) -> tuple[list[list[int]], int]:
    """Token ids of each text (as labels if `target`; with the tokenizer's start and end tokens if `special`), cut to
    `max_tokens`, and how many were longer.
    With return_overflowing_tokens a text that does not fit comes back as several rows, the cut one first."""
    text_arguments = {"text_target": texts} if target else {"text": texts}
    encoded = tokenizer(
        **text_arguments,
        add_special_tokens=special,
        max_length=max_tokens,
        truncation=True,
        return_overflowing_tokens=True,
    )
    owners = encoded["overflow_to_sample_mapping"]
    first_rows = [ids for row, ids in enumerate(encoded["input_ids"]) if row == 0 or owners[row] != owners[row - 1]]
    truncated = sum(rows > 1 for rows in Counter(owners).values())
    return first_rows, truncated
