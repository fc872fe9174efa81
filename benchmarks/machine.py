"""The machine a benchmark ran on, and timing on it: the device, its bf16 peak, waiting for the GPU."""

import os
import platform
import re
from pathlib import Path

import torch

from dialogsum_lora.errors import UserError
from dialogsum_lora.modeling.base import pick_device

# Dense bf16 tensor-core peaks (no sparsity), matched against torch.cuda.get_device_name().
BF16_PEAK_FLOPS = [
    (r"H200", 989e12),
    (r"H100.*PCIe", 756e12),
    (r"H100.*(SXM|HBM3)", 989e12),  # the SXM part reports itself as "NVIDIA H100 80GB HBM3"
    (r"A100", 312e12),
    (r"\bL4\b", 121e12),  # not L40 / L40S
]


def choose_device(requested: str) -> torch.device:
    if requested == "auto":
        return pick_device()
    if requested == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: torch sees no CUDA GPU (is this the CPU build of torch?)")
    return torch.device(requested)


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so a timer measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bf16_peak_flops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for pattern, peak in BF16_PEAK_FLOPS if re.search(pattern, name)), None)


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
