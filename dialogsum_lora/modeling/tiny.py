"""A tiny random T5 with flan-t5's architecture, or a tiny decoder-only Llama, for offline runs and tests
(`dialogsum-tiny-model [--decoder-only] DIR`).

flan-t5-base's design (gated-gelu, relative attention, untied lm_head, pad=0 / eos=1 / unk=2, decoder starts with
pad), or a Llama built as Qwen2.5-0.5B is (rotary, grouped-query attention, SwiGLU, tied embeddings; no q/k/v
biases), at a few hundred thousand parameters, with a fixed-vocabulary WordPiece tokenizer: common words whole,
anything else spelt out, so every ASCII text round-trips (lower-cased). Same files every run.
"""

import string
from pathlib import Path

import torch

from dialogsum_lora.files import atomic_path

SPECIAL_TOKENS = ["<pad>", "</s>", "<unk>"]  # ids 0, 1, 2 as in T5
# Everyday words of the sample dialogues: whole, they keep prompts short and the demo quick.
WORDS = """
#person1# #person2# #person3# the a an and or but to of in on at for with from by about as into
is are was were be been will would can could should may might must do does did have has had not no yes
i you he she it we they me him her us them my your his its our their this that these those there here
what when where who why how which if then so than too very just also only more most some any all
one two three four five ten first next last new old good bad big small long little right left
please thank thanks hello hi sorry well okay ok oh let like want need know think see look get got go
going come came take make made give tell told say said ask asked help try call buy pay find keep
time day week month year today tomorrow yesterday morning night hour minute money price cost dollars
room home house office school work job car bus train ticket food dinner lunch book card phone
person1 person2 talks tells asks wants agrees suggests decides explains helps invites because
accepts account actually add after afternoon airport allergic allows already ankle anniversary anything
apartment appointment arrives available away back badly bakery bar basic basil bed bedroom before beginner
better birthday bit black blue booked booking books borrow boss both bought branch bread breakfast brighton
bring brings broken brown bunch buys cabin cafe calling calls camping canada case cash cast cat central
certainly chair charts cheaper check checked checkout chicken chooses church classes clock closed closes
coffee cold colleagues colours common complains connection cooking correct costs course curry customer cut dad
days decide delayed delivery denominator dentist deposit design designer designs dessert directions divide
doctor doesn dog don done double down drink drinks due each eight eleven else email end engineer essay evening
every everything exchange excuse express extend extends extra far faster feel fever few fifteen fifty figma
fill fine finish fireplace fit flat flights fluids foot football forty free friday fringe full garlic gets
gives glass graphic great grilled group groups grow gym half heating hiking hold holiday homework hotel
hundred hurts ice iced idea ill illustrator impressive include included includes including infection instead
insurance interest internet interview interviewed iron jeans june keeps kettle kilos kitchen label laptop
large late later lead leave library light likes list ll logos looking lots lovely making market maybe measure
medium meet memberships mild minimum minutes model monday monthly mostly mountain mountains move mr much
mushroom music name navy near nearby newer nice nights nine noon note nothing now number nuts off offers older
once ones online open opens order orders out outside pack package pair pan parents parking parts pass past
patel pays pepperoni per percent perfect person pharmacy photoshop pizza plan plants platform playing pool
portfolio portugal position possible prefer present probably problem project put quarter queen question
questions quite rain rate ray re receive refund reminder rent repair report reservation rest restarting return
romantic router routes running salad sam same saturday savings says science seat seats send sends set seven
shall shoes shop showing since sister sit size sleeping smaller software sold something soon sore sounds soup
spanish spilled sprained stall standard start stay steak still stopped street strict student summer sunday
sundays support sure sweater swollen table takes tank tea team technician terrace test thinks third thirty
throat thursday tickets toes together tom tomatoes tonight trim trouble tuesday turn twelfths twelve twenty
twice umbrella under until up use ve vegetable viral wait walk walking wash water way weakness weather website
wednesday weekend weekends weeks weight welcome whether while window withdrawals within without won wool
worked working works yearly years
""".split()
CHARACTERS = list(string.ascii_lowercase + string.digits + string.punctuation)
# T5Config's defaults are flan-t5's for the rest: pad 0, eos 1, 32 relative-attention buckets up to 128, dropout 0.1.
CONFIG = dict(
    d_model=64,
    d_kv=16,
    d_ff=128,
    num_layers=2,
    num_heads=4,
    feed_forward_proj="gated-gelu",
    tie_word_embeddings=False,
    decoder_start_token_id=0,
)
# Qwen2.5-0.5B's shape at T5's scale above; no start token, the end token as in T5. A Llama, not a Qwen2: transformers
# loads a qwen2 directory's tokenizer as Qwen2's byte-level BPE, whatever its tokenizer.json says.
DECODER_ONLY_CONFIG = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    tie_word_embeddings=True,
    # Near T5's scale (d_model^-0.5 = 0.125): at Llama's 0.02 this width's logits are flat, and the demo's LoRA on
    # q_proj, v_proj learns next to nothing (validation ROUGE-1 0.02 against 0.11 after its 60 steps).
    initializer_range=0.1,
    pad_token_id=0,
    eos_token_id=1,
    bos_token_id=None,
)


def build_tokenizer(end_token: bool = True):
    """A T5-style fast tokenizer over a fixed vocabulary (no training, so no randomness); `end_token`: it ends each
    text with </s>, as T5's does (a decoder-only model's prompt must not end)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    pieces = list(dict.fromkeys(SPECIAL_TOKENS + WORDS + CHARACTERS + [f"##{c}" for c in CHARACTERS]))
    tokenizer = Tokenizer(models.WordPiece({piece: i for i, piece in enumerate(pieces)}, unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    # Split off punctuation so "time," is the word "time" and a ","; keeps the speaker tags whole.
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(r"#person\d#|[^\w#]", behavior="isolated")]
    )
    tokenizer.decoder = decoders.WordPiece()
    if end_token:
        tokenizer.post_processor = processors.TemplateProcessing(
            single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)]
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", model_max_length=512
    )


def untie_lm_head(model):
    """Give a T5 built from a config its own random lm_head, as flan-t5 has (transformers 5 ties it regardless)."""
    model.lm_head.weight = torch.nn.Parameter(torch.randn_like(model.shared.weight) * model.config.d_model**-0.5)
    model.all_tied_weights_keys.pop("lm_head.weight", None)
    return model


def write_tiny_model(directory: Path, decoder_only: bool = False) -> None:
    """Write the tokenizer, config and safetensors weights to `directory`."""
    from transformers import LlamaConfig, LlamaForCausalLM, T5Config, T5ForConditionalGeneration
    from transformers.utils.logging import disable_progress_bar

    disable_progress_bar()  # a tiny model's one shard
    tokenizer = build_tokenizer(end_token=not decoder_only)
    torch.manual_seed(0)  # the same weights every run
    if decoder_only:
        model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), **DECODER_ONLY_CONFIG))
    else:
        model = untie_lm_head(T5ForConditionalGeneration(T5Config(vocab_size=len(tokenizer), **CONFIG)))

    with atomic_path(directory, new=True) as temporary:
        tokenizer.save_pretrained(temporary)
        model.save_pretrained(temporary)
