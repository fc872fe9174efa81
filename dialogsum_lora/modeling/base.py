"""Find, check and load the base model (a local directory, or a hub id downloaded to the cache: safetensors only,
never remote code), seq2seq (T5, BART) or decoder-only (Llama, Qwen, GPT-2) as its config says, and its tokenizer;
choose device and dtype; seed."""

import logging
import os
import warnings
from pathlib import Path

import torch

from dialogsum_lora.errors import UserError
from dialogsum_lora.files import read_json, write_json
from dialogsum_lora.hub import hub_failure, local_directory, offline_unless_reachable
from dialogsum_lora.provenance import directory_hash

# Eager attention trained and generated faster than "sdpa" on DialogSum's lengths (BENCHMARKS.md: H200, bf16).
ATTENTION = "eager"

# Library warnings a user can do nothing about. transformers 5's T5Config always says the embeddings are tied, so
# loading flan-t5 (its own lm_head) warns that they differ, and PEFT warns again on merging; PEFT calls a method
# transformers 5 deprecated.
logging.getLogger("transformers.modeling_utils").addFilter(
    lambda record: "to tie shared.weight to lm_head.weight" not in record.getMessage()
)
warnings.filterwarnings("ignore", "Input and output embeddings are no longer tied after merging", UserWarning)
warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning)


def make_deterministic(seed: int) -> None:
    """Seed python, numpy and torch and ask for deterministic kernels: a CPU rerun is bit-identical (same machine,
    versions, threads); on a GPU, ops without a deterministic kernel only warn."""
    from transformers import set_seed

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS's, before CUDA starts
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
    return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float32


# All a model directory may contribute (from the hub, nothing else: no pickled weights, no code).
MODEL_FILES = ["*.json", "*.safetensors", "*.model", "*.txt"]
TOKENIZER_FILE = "tokenizer.json"


def model_directory(name: str, revision: str | None) -> tuple[Path, str]:
    """A checked local directory of model `name` (a directory, or a hub id downloaded to the cache), and its exact
    version: the hub commit, or a content hash of the local directory."""
    directory = local_directory(name, revision, "model.name", "google/flan-t5-base")
    if directory is not None:
        check_model_directory(directory)
        return directory, directory_hash(directory)
    offline = offline_unless_reachable()
    from huggingface_hub import snapshot_download

    try:
        snapshot = Path(snapshot_download(name, revision=revision, allow_patterns=MODEL_FILES))
    except Exception as error:  # the hub raises many types; all mean it did not give the model
        raise UserError(
            f"{hub_failure(f'model {name!r}', revision, offline, error)}; and there is no local directory of that "
            "name. If it is a hub id, check the name, the revision and your network (or HF_TOKEN for a private "
            "model); to run offline, set model.name to a local directory, e.g. one made by `dialogsum-tiny-model DIR` "
            "(see `make demo`)"
        ) from None
    check_model_directory(snapshot, what=f"model {name!r}")
    return snapshot, snapshot.name  # the cache names a snapshot by its commit


def check_model_directory(directory: Path, what: str | None = None) -> None:
    """Refuse a model directory without a config, a tokenizer (transformers would build an empty default one)
    or safetensors weights (pickled weights are never loaded)."""
    what = what or f"model directory {directory}"
    if not (directory / "config.json").exists():
        raise UserError(f"{what} has no config.json: save the model with save_pretrained()")
    if not (directory / TOKENIZER_FILE).exists():
        raise UserError(
            f"{what} has no {TOKENIZER_FILE}: save the model's (fast) tokenizer beside it with "
            "tokenizer.save_pretrained(), or every summary would come out empty"
        )
    if not any(directory.glob("*.safetensors")):
        raise UserError(
            f"{what} holds no .safetensors weights (pickled .bin weights are never loaded): save the model "
            "with save_pretrained() (safetensors is the default), or build the tiny one with "
            f"`dialogsum-tiny-model {directory}`"
        )


def load_tokenizer(directory: Path):
    """The (fast) tokenizer in `directory` (checked by check_model_directory or check_adapter); one without a padding
    token (Llama's, GPT-2's) pads with its end token, which the attention mask and the loss skip."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(directory, trust_remote_code=False)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    # Training batches pad on the right whatever the tokenizer was saved with (a model with absolute positions, as
    # GPT-2's, counts them from the first token); generation pads a decoder-only model's prompts on the left.
    tokenizer.padding_side = "right"
    return tokenizer


def is_decoder_only(model_or_config) -> bool:
    """Whether a model (or its config) is a decoder-only causal LM rather than an encoder-decoder."""
    return not getattr(model_or_config, "config", model_or_config).is_encoder_decoder


def model_class(config):
    """transformers' Auto class for `config`: seq2seq for an encoder-decoder, else a causal LM."""
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    return AutoModelForCausalLM if is_decoder_only(config) else AutoModelForSeq2SeqLM


def save_tokenizer(tokenizer, directory: Path) -> None:
    """Save `tokenizer` without the load options transformers 5 writes into tokenizer_config.json: whether the run
    was offline must not change the saved files (nor so dvc.lock)."""
    tokenizer.save_pretrained(directory)
    config = read_json(directory / "tokenizer_config.json")
    for option in ("local_files_only", "is_local"):
        config.pop(option, None)
    write_json(directory / "tokenizer_config.json", config)


def load_base_model(directory: Path, dtype: torch.dtype, device: torch.device):
    """The model in `directory` (model_class), in `dtype` on `device`, in eval mode; refused if the checkpoint lacks a
    weight (transformers would start it at random and only warn). Its generation config is transformers' defaults,
    never the directory's: summaries are decoded with generation.decoding_config alone."""
    from transformers import AutoConfig, GenerationConfig
    from transformers.utils.logging import disable_progress_bar

    # From here on, no bars for loading and saving shards (a hub download, before this, keeps its own); the
    # Trainer's and generation's bars are tqdm's, and stay.
    disable_progress_bar()
    config = AutoConfig.from_pretrained(directory, trust_remote_code=False)
    model, report = model_class(config).from_pretrained(
        directory,
        config=config,
        dtype=dtype,
        attn_implementation=ATTENTION,
        use_safetensors=True,
        trust_remote_code=False,
        output_loading_info=True,
    )
    missing = sorted(report["missing_keys"]) + sorted(report["mismatched_keys"])
    if missing:
        raise UserError(
            f"the weights in {directory} lack {len(missing)} the model needs (first: {missing[0]}): "
            "save or download the model again"
        )
    model.generation_config = GenerationConfig()
    return model.to(device).eval()
