"""What the benchmarks read of params.yaml: what finetune trains with, to time it and size its data."""

from dialogsum_lora.params import Seed, StageParams
from dialogsum_lora.params.lora import LoraParams
from dialogsum_lora.params.prompt import PromptParams
from dialogsum_lora.params.train import TrainParams


class Reads(StageParams):
    seed: Seed
    prompt: PromptParams
    lora: LoraParams
    train: TrainParams
