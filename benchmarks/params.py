"""What the benchmarks read of params.yaml: what finetune trains with, to time it and size its data."""

from dialogsum_lora.params import Method, Seed, StageParams
from dialogsum_lora.params.methods import FullParams, IA3Params, LoraParams
from dialogsum_lora.params.prompt import PromptParams
from dialogsum_lora.params.train import TrainParams


class Reads(StageParams):
    seed: Seed
    method: Method
    prompt: PromptParams
    lora: LoraParams
    ia3: IA3Params
    full: FullParams
    train: TrainParams
