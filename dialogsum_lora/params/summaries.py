"""What baseline and evaluate read of params.yaml: what a system's test summaries are made and scored with."""

from dialogsum_lora.params import Processes, StageParams
from dialogsum_lora.params.analysis import AnalysisParams
from dialogsum_lora.params.generate import GenerateParams
from dialogsum_lora.params.model import ModelParams
from dialogsum_lora.params.prompt import PromptParams


class SummaryParams(StageParams):
    processes: Processes
    model: ModelParams
    prompt: PromptParams
    generate: GenerateParams
    analysis: AnalysisParams
