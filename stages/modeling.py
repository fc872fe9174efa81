"""Load the tokenizer, the base model and a LoRA adapter; choose device and dtype.

A hub model is first downloaded to the Hugging Face cache (config, safetensors
weights and tokenizer files only), so a hub id and a local directory load the
same way, from a directory checked beforehand. Weights load from safetensors
only and remote code is never trusted. A directory or a hub id that cannot be
loaded is one UserError that says what to do.
"""

import functools
import json
import logging
import os
import warnings
from pathlib import Path

import torch

from stages.errors import UserError
from stages.hub import local_directory, offline_unless_reachable
from stages.provenance import directory_hash


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


# What a model directory may contribute: config, safetensors weights, tokenizer files.
# Nothing else is downloaded from the hub: no pickled weights, no code.
MODEL_FILES = ["*.json", "*.safetensors", "*.model", "*.txt"]
TOKENIZER_FILE = "tokenizer.json"


def model_directory(name: str, revision: str | None) -> tuple[Path, str]:
    """A local directory holding model `name` (a directory, or a hub id downloaded to the
    Hugging Face cache), checked as check_model_directory does, and the exact version:
    the hub commit, or a content hash of the local directory."""
    directory = local_directory(name, revision, "model.name", "google/flan-t5-base")
    if directory is not None:
        check_model_directory(directory)
        return directory, directory_hash(directory)
    offline_unless_reachable()
    from huggingface_hub import snapshot_download

    try:
        snapshot = Path(snapshot_download(name, revision=revision, allow_patterns=MODEL_FILES))
    except Exception as error:  # the hub raises many types; all mean the same to a user
        raise UserError(
            f"could not load model {name!r} (revision {revision}; no local directory of that name either): "
            f"{type(error).__name__}: {error}. "
            "If it is a hub id, check the name, the revision and your network (or HF_TOKEN for a private model); "
            "to run offline, set model.name to a local directory, e.g. one made by "
            "`python -m stages.tiny_model DIR` (see `make demo`)"
        ) from None
    check_model_directory(snapshot, what=f"model {name!r}")
    return snapshot, snapshot.name  # the cache names a snapshot by its commit


def check_model_directory(directory: Path, what: str | None = None) -> None:
    """Refuse a model directory that would load badly: no config, no tokenizer (transformers
    would build an empty default one), no safetensors weights, or a corrupt file."""
    what = what or f"model directory {directory}"
    if not (directory / "config.json").is_file():
        raise UserError(f"{what} has no config.json: save the model with save_pretrained()")
    read_json_file(directory / "config.json")
    check_tokenizer_files(directory, what)
    weights = sorted(directory.glob("*.safetensors"))
    if not weights:
        raise UserError(
            f"{what} holds no .safetensors weights (pickled .bin weights are never loaded): save the model "
            "with save_pretrained() (safetensors is the default), or build the tiny one with "
            f"`python -m stages.tiny_model {directory}`"
        )
    for file in weights:
        check_safetensors(file)


def check_tokenizer_files(directory: Path, what: str) -> None:
    """Refuse a directory without a tokenizer: transformers would build an empty default one."""
    if not (directory / TOKENIZER_FILE).is_file():
        raise UserError(
            f"{what} has no {TOKENIZER_FILE}: save the model's (fast) tokenizer beside it with "
            "tokenizer.save_pretrained(), or every summary would come out empty"
        )
    read_json_file(directory / TOKENIZER_FILE)


def check_safetensors(file: Path) -> None:
    """Refuse a truncated or corrupt safetensors file before any library loads it."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(file), "pt"):
            pass
    except (SafetensorError, OSError) as error:
        raise UserError(f"{file} is not a complete safetensors file ({error}): save or download it again") from None


def read_json_file(file: Path):
    """A JSON file of a model or adapter directory; one that is not JSON is a UserError naming it."""
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise UserError(f"{file} is not valid JSON ({error})") from None


@functools.cache
def silence_known_warnings() -> None:
    """Silence the library warnings a user can do nothing about, explained here once.

    transformers 5's T5Config always says the embeddings are tied (the checkpoint's
    choice is kept in scale_decoder_outputs), so loading flan-t5, whose lm_head is
    its own, warns that the two differ, and PEFT warns again when the adapter is
    merged. PEFT calls a method that transformers 5 deprecated.
    """
    logging.getLogger("transformers.modeling_utils").addFilter(
        lambda record: "to tie shared.weight to lm_head.weight" not in record.getMessage()
    )
    warnings.filterwarnings("ignore", "Input and output embeddings are no longer tied after merging", UserWarning)
    warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning)


def load_tokenizer(directory: Path):
    """The (fast) tokenizer saved in `directory`."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(directory, trust_remote_code=False)
    except (OSError, ValueError) as error:
        raise UserError(f"could not load the tokenizer in {directory}: {error}") from None


def save_tokenizer(tokenizer, directory: Path) -> None:
    """Save `tokenizer` to `directory` as it was, without how this run happened to load it.

    transformers 5 writes its load options into tokenizer_config.json; whether the
    run was offline must not change the saved files (nor so dvc.lock).
    """
    tokenizer.save_pretrained(directory)
    config_file = directory / "tokenizer_config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    for option in ("local_files_only", "is_local"):
        config.pop(option, None)
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def load_config(directory: Path):
    """The model config in `directory` (no weights)."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(directory, trust_remote_code=False)
    except (OSError, ValueError) as error:
        raise UserError(f"could not read the config in {directory}: {error}") from None


def load_base_model(directory: Path, dtype: torch.dtype, device: torch.device):
    """The seq2seq model in `directory`, in `dtype` on `device`, in eval mode."""
    from transformers import AutoModelForSeq2SeqLM

    silence_known_warnings()
    try:
        model = AutoModelForSeq2SeqLM.from_pretrained(
            directory, dtype=dtype, attn_implementation=ATTENTION, use_safetensors=True, trust_remote_code=False
        )
    except (OSError, ValueError) as error:
        raise UserError(f"could not load the model in {directory}: {error}") from None
    return model.to(device).eval()


ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_BASE_RECORD = "provenance.json"


def check_adapter(adapter_dir: Path, base_resolved: str) -> None:
    """Refuse an adapter directory before loading it: missing, pickled weights only, no
    tokenizer, corrupt files, or trained on another base model than `base_resolved` (what
    model_directory gave)."""
    if not (adapter_dir / "adapter_config.json").is_file():
        raise UserError(f"no LoRA adapter in {adapter_dir}: run `dvc repro finetune` (or `dvc pull`) first")
    if not isinstance(read_json_file(adapter_dir / "adapter_config.json"), dict):
        raise UserError(f"{adapter_dir / 'adapter_config.json'} is not a JSON object")
    if not (adapter_dir / ADAPTER_WEIGHTS).is_file():
        found = ", ".join(sorted(p.name for p in adapter_dir.glob("adapter_model.*"))) or "none"
        raise UserError(
            f"{adapter_dir} has no {ADAPTER_WEIGHTS} (weights found: {found}); adapters load from "
            "safetensors only, never from a pickle: save it with save_pretrained(safe_serialization=True)"
        )
    check_safetensors(adapter_dir / ADAPTER_WEIGHTS)
    check_tokenizer_files(adapter_dir, f"the adapter in {adapter_dir}")
    if not (adapter_dir / ADAPTER_BASE_RECORD).is_file():
        raise UserError(
            f"{adapter_dir} has no {ADAPTER_BASE_RECORD}, so nothing says which base model it was trained on: "
            "retrain it with `dvc repro finetune`"
        )
    record = read_json_file(adapter_dir / ADAPTER_BASE_RECORD)
    trained_on = record.get("model", {}).get("resolved") if isinstance(record, dict) else None
    if trained_on != base_resolved:
        name = record.get("model", {}).get("name") if isinstance(record, dict) else None
        raise UserError(
            f"the adapter in {adapter_dir} was trained on another base model ({name!r}, {trained_on}) than "
            f"model.name gives ({base_resolved}): retrain it (`dvc repro finetune`) or set model.name to the "
            "model it was trained on"
        )


def load_adapter(base_model, adapter_dir: Path):
    """Wrap `base_model` with the LoRA adapter in `adapter_dir` (checked by check_adapter), in eval mode."""
    from peft import PeftModel

    try:
        model = PeftModel.from_pretrained(base_model, adapter_dir, is_trainable=False)
    except (RuntimeError, ValueError, KeyError) as error:
        raise UserError(
            f"the adapter in {adapter_dir} does not fit model {base_model.name_or_path!r}: {error}. "
            "Retrain it (`dvc repro finetune`) or set model.name to the model it was trained on"
        ) from None
    return model.eval()
