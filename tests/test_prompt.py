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


SHOTS = [
    {"id": "t1", "dialogue": "#Person1#: the a", "summary": "an and."},
    {"id": "t2", "dialogue": "#Person1#: or but", "summary": "the end."},
]


def test_each_shot_is_the_template_with_its_dialogue_then_its_summary_in_order():
    from dialogsum_lora.prompt import build_prompt, shots_prefix

    template = "Dialogue: {dialogue}\nSummary: "
    assert shots_prefix(template, SHOTS) == (
        "Dialogue: #Person1#: the a\nSummary: an and.\n\nDialogue: #Person1#: or but\nSummary: the end.\n\n"
    )
    assert shots_prefix(template, SHOTS[::-1]).startswith(build_prompt(template, SHOTS[1]["dialogue"]) + "the end.")
    assert shots_prefix(template, []) == ""


def test_few_shot_prompts_keep_the_shots_whole_and_cut_and_count_as_zero_shot_prompts(tiny_model_dir):
    from dialogsum_lora.params.prompt import PromptParams
    from dialogsum_lora.prompt import build_prompt, encode, encode_prompts, shots_prefix

    tokenizer = load_tokenizer(tiny_model_dir)
    template = "Summarise: {dialogue} Summary: "
    dialogues = ["the", "the a an and or but the a an and or but the a an and or but"]
    prompts = [build_prompt(template, dialogue) for dialogue in dialogues]
    shot_ids = tokenizer(shots_prefix(template, SHOTS), add_special_tokens=False).input_ids
    whole = [len(tokenizer(shots_prefix(template, SHOTS) + text).input_ids) for text in prompts]
    # Room for both: the ids are those of the whole text, tokenised at once.
    prompt = PromptParams(template=template, max_source_tokens=max(whole), max_target_tokens=8)
    ids, cut = encode_prompts(tokenizer, prompt, dialogues, SHOTS)
    assert ids == tokenizer([shots_prefix(template, SHOTS) + text for text in prompts]).input_ids and cut == 0
    # Room for the short one alone: the long one keeps every shot and loses its own end, as
    # zero-shot cuts a prompt to the tokens left; it is counted, the short one is not.
    limit = whole[0] + 3
    ids, cut = encode_prompts(tokenizer, prompt.model_copy(update={"max_source_tokens": limit}), dialogues, SHOTS)
    own, _ = encode(tokenizer, prompts, limit - len(shot_ids))
    assert ids == [shot_ids + own_ids for own_ids in own] and cut == 1
    assert len(ids[1]) == limit and ids[1][-1] == tokenizer.eos_token_id
    # No shots: exactly the zero-shot encoding.
    assert encode_prompts(tokenizer, prompt, dialogues) == encode(tokenizer, prompts, prompt.max_source_tokens)


def test_shots_that_leave_no_room_for_a_dialogue_are_refused(tiny_model_dir):
    from dialogsum_lora.params.prompt import PromptParams
    from dialogsum_lora.prompt import build_prompt, shot_tokens

    tokenizer = load_tokenizer(tiny_model_dir)
    template = "Summarise: {dialogue} Summary: "
    taken = len(
        shot_tokens(tokenizer, PromptParams(template=template, max_source_tokens=512, max_target_tokens=8), SHOTS)
    )
    taken += len(tokenizer(build_prompt(template, "")).input_ids)
    # One token over the shots and the template's own: a one-token dialogue fits whole.
    shot_tokens(tokenizer, PromptParams(template=template, max_source_tokens=taken + 1, max_target_tokens=8), SHOTS)
    with pytest.raises(UserError) as error:
        shot_tokens(tokenizer, PromptParams(template=template, max_source_tokens=taken, max_target_tokens=8), SHOTS)
    for fact in ("baseline.shots is 2", f"prompt.max_source_tokens ({taken})"):
        assert fact in str(error.value)


def test_the_shots_go_after_a_start_token_the_tokenizer_puts_first(tiny_model_dir):
    from tokenizers.processors import TemplateProcessing

    from dialogsum_lora.params.prompt import PromptParams
    from dialogsum_lora.prompt import encode_prompts, shots_prefix

    tokenizer = load_tokenizer(tiny_model_dir)  # as BART's does: a start token, the text, an end token
    tokenizer.backend_tokenizer.post_processor = TemplateProcessing(
        single="<pad> $A </s>", special_tokens=[("<pad>", tokenizer.pad_token_id), ("</s>", tokenizer.eos_token_id)]
    )
    template = "Summarise: {dialogue} Summary: "
    ids, _ = encode_prompts(
        tokenizer, PromptParams(template=template, max_source_tokens=512, max_target_tokens=8), ["the a"], SHOTS
    )
    assert ids == tokenizer([shots_prefix(template, SHOTS) + template.format(dialogue="the a")]).input_ids
    assert ids[0][0] == tokenizer.pad_token_id and ids[0].count(tokenizer.pad_token_id) == 1
