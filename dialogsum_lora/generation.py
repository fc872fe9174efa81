"""Summaries: dialogues prompted, cut, and decoded in length-sorted batches with one decoding
configuration.

Every path that generates goes through `summarise_dialogues`: `baseline` (base model),
`evaluate` (base model + adapter), validation ROUGE inside `finetune`, and
`dialogsum-summarise`, so a summary depends on the model, the prompt and the decoding
settings alone. The settings reach `model.generate` as one `transformers.GenerationConfig`
(decoding_config); nothing of a model directory's generation_config.json is used.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from dialogsum_lora import distributed
from dialogsum_lora.params.prompt import PromptParams
from dialogsum_lora.prompt import encode_prompts


def validation_decoding(prompt: PromptParams) -> dict:
    """The decoding of validation ROUGE while training (GenerationConfig arguments), its own so that trying
    another `generate` never retrains: greedy, at most prompt.max_target_tokens new tokens."""
    return {"max_new_tokens": prompt.max_target_tokens, "num_beams": 1}


def decoding_config(model, settings: dict):
    """The one GenerationConfig a summary is generated with: `settings` (GenerationConfig arguments:
    generate's, or validation ROUGE's), never sampled, one sequence per prompt, and the start, end
    and padding tokens of the model's config.json. What generate fills in from the model's own
    generation config is transformers' defaults alone: load_base_model replaced the one a model
    directory's generation_config.json gave (more sequences, sampling, another start token)."""
    from transformers import GenerationConfig

    return GenerationConfig(
        **settings,
        do_sample=False,
        num_return_sequences=1,
        return_dict_in_generate=False,
        decoder_start_token_id=model.config.decoder_start_token_id,
        eos_token_id=model.config.eos_token_id,
        pad_token_id=model.config.pad_token_id,
    )


@dataclass(frozen=True)
class Summaries:
    """Summaries in their dialogues' order, and which of them stopped at max_new_tokens before
    the model ended them (cut short, not finished)."""

    texts: list[str]
    unfinished: list[bool]


@torch.inference_mode()
def generate_summaries(
    model,
    tokenizer,
    encoded: list[list[int]],
    settings: dict,
    batch_size: int,
    *,
    desc: str = "generating",
    progress: bool = True,
) -> Summaries | None:
    """Summarise each tokenised prompt with decoding_config(model, settings), returning the summaries in the
    prompts' order.

    Prompts are sorted longest first so each batch pads to similar lengths (and an
    out-of-memory shows up on the first batch). Under several processes each takes every N-th
    prompt of that order and rank 0 gets all the summaries back; the other ranks get None. A
    progress bar (rank 0's) shows unless `progress` is False.
    """
    config = decoding_config(model, settings)
    order = sorted(range(len(encoded)), key=lambda i: (-len(encoded[i]), i))
    mine = distributed.my_share(order)
    device = next(model.parameters()).device
    summaries: list[tuple[str, bool]] = []
    shown = progress and distributed.is_main_process()  # one progress bar, rank 0's
    with tqdm(total=len(mine), desc=desc, unit="dialogue", disable=not shown) as bar:
        for start in range(0, len(mine), batch_size):
            indices = mine[start : start + batch_size]
            batch = tokenizer.pad({"input_ids": [encoded[i] for i in indices]}, return_tensors="pt").to(device)
            output = model.generate(**batch, generation_config=config)
            if not isinstance(output, torch.Tensor) or output.shape[0] != len(
                indices
            ):  # one summary per prompt, by construction
                raise RuntimeError(
                    f"generate returned {getattr(output, 'shape', type(output))} for {len(indices)} prompts"
                )
            ended = (output[:, 1:] == config.eos_token_id).any(dim=1).tolist()  # column 0: the decoder's start
            texts = [text.strip() for text in tokenizer.batch_decode(output, skip_special_tokens=True)]
            summaries += [(text, not done) for text, done in zip(texts, ended)]
            bar.update(len(indices))
    gathered = distributed.gather_in_order(summaries, mine, len(encoded))
    if gathered is None:
        return None
    return Summaries([text for text, _ in gathered], [unfinished for _, unfinished in gathered])


def summarise_dialogues(
    model,
    tokenizer,
    dialogues: list[str],
    prompt: PromptParams,
    settings: dict,
    batch_size: int,
    *,
    desc: str,
    progress: bool = True,
    shots: Sequence[dict] = (),
) -> tuple[Summaries | None, int]:
    """Each dialogue's summary (as generate_summaries returns them) from its prompt (after the
    `shots`, training rows, when there are some: the few-shot baseline's), cut to
    prompt.max_source_tokens, and how many prompts were cut. The one way every stage and
    command turns dialogues into summaries."""
    # Long dialogues are cut to max_source_tokens: count them, rather than hide it.
    encoded, truncated = encode_prompts(tokenizer, prompt, dialogues, shots)
    return generate_summaries(model, tokenizer, encoded, settings, batch_size, desc=desc, progress=progress), truncated
