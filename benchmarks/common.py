"""What both benchmarks share: DialogSum's lengths, flan-t5-base's architecture, the machine.

No side effects on import (benchmarks.throughput turns off progress bars for
itself; this module must not do that to the pipeline benchmark's stages).
"""

import math
import os
import platform
from pathlib import Path

import numpy as np
import torch

from stages.modeling import ATTENTION
from stages.tiny_model import untie_lm_head

FLAN_T5_BASE_CONFIG = Path(__file__).resolve().parent / "flan-t5-base.json"

# DialogSum's training split in flan-t5 tokens (prompted dialogue; summary), roughly.
TRAINING_DIALOGUES = 12_460
SOURCE_TOKENS_MEAN, SOURCE_TOKENS_P95 = 216, 400
TARGET_TOKENS_MEAN, TARGET_TOKENS_P95 = 30, 55


def lognormal_lengths(rng: np.random.Generator, count: int, mean: float, p95: float, maximum: int) -> np.ndarray:
    """`count` lengths from the lognormal with this mean and 95th percentile, cut to [2, maximum].

    mean = exp(mu + sigma^2 / 2) and p95 = exp(mu + 1.645 sigma) give sigma as
    the smaller root of sigma^2 / 2 - 1.645 sigma + ln(p95 / mean) = 0.
    """
    z95 = 1.6449
    sigma = z95 - math.sqrt(z95**2 - 2 * math.log(p95 / mean))
    mu = math.log(mean) - sigma**2 / 2
    return np.clip(np.exp(rng.normal(mu, sigma, count)).round().astype(int), 2, maximum)


def random_flan_t5_base():
    """flan-t5-base's architecture with random weights, lm_head untied as in the real checkpoint."""
    from transformers import T5Config, T5ForConditionalGeneration

    config = T5Config.from_json_file(FLAN_T5_BASE_CONFIG)
    model = T5ForConditionalGeneration(config)
    model.set_attn_implementation(ATTENTION)  # as the stages load models
    return untie_lm_head(model)  # the real checkpoint's lm_head is its own


def cpu_name() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "cpu"
    return next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), "cpu")


def machine(device: torch.device, load_before: float) -> dict:
    """The device, CPU count, load before the run and library versions, for a benchmark's JSON."""
    import peft
    import transformers

    return {
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name(),
        "bf16_supported": device.type == "cuda" and torch.cuda.is_bf16_supported(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_before": load_before,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
    }
