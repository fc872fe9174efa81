"""params.yaml `generate`: how baseline, evaluate and dialogsum-summarise decode a summary. Every key but
batch_size is a `transformers.GenerationConfig` argument and reaches `model.generate` as it is."""

import logging

from dialogsum_lora.errors import UserError
from dialogsum_lora.schema import Record, setting


class GenerateParams(Record):
    max_new_tokens: int = setting("Longest summary generated, in tokens.", ge=1, le=2048)
    num_beams: int = setting("1 is greedy decoding; more is beam search.", ge=1, le=64)
    length_penalty: float = setting(
        "Beam search only: the exponent of the length the beam scores are divided by; "
        "above 1 favours longer summaries, below 1 shorter; 1 with one beam.",
        ge=-10,
        le=10,
    )
    no_repeat_ngram_size: int = setting(
        "No n-gram of this many tokens appears twice in a summary; 0 for no limit.", ge=0, le=32
    )
    batch_size: int = setting("Dialogues generated together (not a GenerationConfig argument).", ge=1, le=4096)

    def decoding(self) -> dict:
        """The GenerationConfig arguments: every key but batch_size."""
        return self.model_dump(exclude={"batch_size"})

    def check(self, where: str = "params.yaml: generate") -> None:
        """Refuse settings transformers would reject or ignore (say length_penalty with one beam), before any
        model loads; `where` names where they came from."""
        from transformers import GenerationConfig

        # transformers also logs what it raises here: the error line says it once.
        logger = logging.getLogger("transformers.generation.configuration_utils")
        level = logger.level
        logger.setLevel(logging.ERROR)
        try:
            GenerationConfig(**self.decoding(), do_sample=False).validate(strict=True)
        except ValueError as error:
            # Its advice on a model's generation_config.json does not apply: none is ever used.
            finding = " ".join(str(error).split()).split(" If you're using a pretrained model")[0]
            raise UserError(f"{where}: {finding}") from None
        finally:
            logger.setLevel(level)
