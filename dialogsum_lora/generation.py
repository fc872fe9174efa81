"""Summaries, by every path that generates: dialogues prompted, cut, and decoded in length-sorted batches with one
GenerationConfig; nothing of a model directory's generation_config.json is used."""

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from dialogsum_lora import distributed
from dialogsum_lora.modeling.base import is_decoder_only
from dialogsum_lora.params.prompt import PromptParams
from dialogsum_lora.prompt import encode_prompts


def validation_decoding(prompt: PromptParams) -> dict:
    """Validation ROUGE's decoding, its own so that trying another `generate` never retrains."""
    return {"max_new_tokens": prompt.max_target_tokens, "num_beams": 1}


def decoding_config(model, settings: dict):
    """The one GenerationConfig of every summary: `settings`, never sampled, one sequence, and the special tokens of
    config.json (load_base_model dropped generation_config.json: the rest is transformers' defaults)."""
    from transformers import GenerationConfig

    config = model.config
    eos, pad = config.eos_token_id, config.pad_token_id
    if pad is None:  # a decoder-only config without a padding token (Llama's, GPT-2's): its end token pads
        pad = eos if isinstance(eos, int) else eos[0]
    return GenerationConfig(
        **settings,
        do_sample=False,
        num_return_sequences=1,
        return_dict_in_generate=False,
        decoder_start_token_id=getattr(config, "decoder_start_token_id", None),
        eos_token_id=eos,
        pad_token_id=pad,
    )


@dataclass(frozen=True)
class Summaries:
    """Summaries in their dialogues' order, and which stopped at max_new_tokens before the model ended them."""

    texts: list[str]
    unfinished: list[bool]


@torch.inference_mode()
def generate_summaries(
    model, tokenizer, encoded: list[list[int]], settings: dict, batch_size: int, *, desc="generating", progress=True
) -> Summaries | None:
    """Each tokenised prompt's summary by decoding_config(model, settings): on rank 0 in order, None on other ranks."""
    # Longest first: each batch pads to similar lengths and an out-of-memory shows on the first.
    config = decoding_config(model, settings)
    # A decoder-only model continues its prompt: prompts pad on the left and the summary is what follows them.
    # An encoder-decoder's output starts with the decoder's start token.
    decoder_only = is_decoder_only(model)
    end_tokens = torch.tensor(config.eos_token_id).flatten()
    order = sorted(range(len(encoded)), key=lambda i: (-len(encoded[i]), i))
    mine = distributed.my_share(order)
    device = next(model.parameters()).device
    summaries: list[tuple[str, bool]] = []
    shown = progress and distributed.is_main_process()  # one bar, rank 0's
    with tqdm(total=len(mine), desc=desc, unit="dialogue", disable=not shown) as bar:
        for start in range(0, len(mine), batch_size):
            indices = mine[start : start + batch_size]
            batch = tokenizer.pad(
                {"input_ids": [encoded[i] for i in indices]},
                padding_side="left" if decoder_only else "right",
                return_tensors="pt",
            ).to(device)
            output = model.generate(**batch, generation_config=config)
            output = output[:, batch["input_ids"].shape[1] if decoder_only else 1 :]
            ended = torch.isin(output, end_tokens.to(output.device)).any(dim=1).tolist()
            texts = tokenizer.batch_decode(output, skip_special_tokens=True)
            summaries += [(text.strip(), not done) for text, done in zip(texts, ended)]
            bar.update(len(indices))
    gathered = distributed.gather_in_order(summaries, mine, len(encoded))  # one summary a prompt, checked
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
    """generate_summaries of the dialogues' prompts (after the `shots`, if any), and how many prompts were cut."""
    encoded, truncated = encode_prompts(tokenizer, prompt, dialogues, shots, decoder_only=is_decoder_only(model))
    return generate_summaries(model, tokenizer, encoded, settings, batch_size, desc=desc, progress=progress), truncated
