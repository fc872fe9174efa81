"""Load the tokenizer, the base model and a LoRA adapter; choose device and dtype.

Weights load from safetensors only and remote code is never trusted. A local
directory or a hub id that cannot be loaded is one UserError that says what to
do.
"""

import os
from pathlib import Path

import torch

from stages.errors import UserError
from stages.hub import offline_unless_reachable


# With DialogSum's varying lengths, bf16 "sdpa" attention trained 4x slower and
# generated 1.3x slower than eager attention on an H200 (BENCHMARKS.md).
ATTENTION = "eager"


def make_deterministic(seed: int) -> None:
    """Seed python, numpy and torch, and ask torch for deterministic kernels.

    On the CPU this makes a rerun bit-identical (same machine, same library
    versions, same thread count). On a GPU cuBLAS needs a fixed workspace
    (CUBLAS_WORKSPACE_CONFIG, set here before CUDA starts) and ops without a
    deterministic kernel only warn, so GPU reruns are reproducible but not
    guaranteed bit-identical.
    """
    from transformers import set_seed

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    set_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False


def pick_device() -> torch.device:
    """This process's GPU (by LOCAL_RANK under torchrun) if there is one, else the CPU."""
    if torch.cuda.is_available():
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def pick_dtype(device: torch.device) -> torch.dtype:
    """bf16 on GPUs that support it, fp32 otherwise (T5 overflows in fp16)."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def _check_source(name: str) -> None:
    path = Path(name)
    if path.is_dir():
        if not any(path.glob("*.safetensors")):
            raise UserError(
                f"model directory {name} holds no .safetensors weights: save the model with "
                "save_pretrained() (safetensors is the default), or build the tiny one with "
                f"`python -m stages.tiny_model {name}`"
            )
    elif path.exists() or name.startswith((".", "/")) or name.count("/") > 1:
        raise UserError(
            f"model.name {name!r} is not a directory: point it at a model directory or a hub id "
            "such as google/flan-t5-base"
        )
    else:
        offline_unless_reachable()


def _hub_error(what: str, name: str, revision: str | None, error: Exception) -> UserError:
    return UserError(
        f"could not load {what} {name!r} (revision {revision}; no local directory of that name either): "
        f"{type(error).__name__}: {error}. "
        "If it is a hub id, check the name and your network (or HF_TOKEN for a private model); "
        "to run offline, set model.name to a local directory, e.g. one made by "
        "`python -m stages.tiny_model DIR` (see `make demo`)"
    )


def load_tokenizer(name: str, revision: str | None):
    """The tokenizer of model `name` (a local directory or a hub id)."""
    from transformers import AutoTokenizer

    _check_source(name)
    try:
        return AutoTokenizer.from_pretrained(name, revision=revision, trust_remote_code=False)
    except (OSError, ValueError) as error:
        raise _hub_error("the tokenizer of", name, revision, error) from None


def load_base_model(name: str, revision: str | None, dtype: torch.dtype, device: torch.device):
    """The seq2seq base model `name` in `dtype` on `device`, in eval mode."""
    from transformers import AutoModelForSeq2SeqLM

    _check_source(name)
    try:
        model = AutoModelForSeq2SeqLM.from_pretrained(
            name,
            revision=revision,
            dtype=dtype,
            attn_implementation=ATTENTION,
            use_safetensors=True,
            trust_remote_code=False,
        )
    except (OSError, ValueError) as error:
        raise _hub_error("model", name, revision, error) from None
    return model.to(device).eval()


def load_adapter(base_model, adapter_dir: Path):
    """Wrap `base_model` with the LoRA adapter saved in `adapter_dir`, in eval mode."""
    from peft import PeftModel

    if not (adapter_dir / "adapter_config.json").exists():
        raise UserError(f"no LoRA adapter in {adapter_dir}: run `dvc repro finetune` (or `dvc pull`) first")
    try:
        model = PeftModel.from_pretrained(base_model, adapter_dir, is_trainable=False)
    except (RuntimeError, ValueError, KeyError) as error:
        raise UserError(
            f"the adapter in {adapter_dir} does not fit model {base_model.name_or_path!r}: {error}. "
            "Retrain it (`dvc repro finetune`) or set model.name to the model it was trained on"
        ) from None
    return model.eval()
