"""What baseline and evaluate read of params.yaml: the params a system's summaries of the test split
are made and scored with (dvc.yaml lists the same for both). Cheap to import: schemas only."""

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
