"""The one description of a run (base model, data, training, prompt, decoding): report.md's header and the model
cards' Training table are these rows, so the two can never describe a run differently."""

from dataclasses import dataclass
from pathlib import Path

from dialogsum_lora.evaluation import Shots
from dialogsum_lora.modeling.adapter import AdapterRecord
from dialogsum_lora.paths import BASELINE
from dialogsum_lora.provenance import DataSource
from dialogsum_lora.results.text import as_text, prompting_text

# What can be said of the data and base model the repository is made for; any other is named, with no claim.
KNOWN_DATASETS = {
    "knkarthick/dialogsum": {
        "name": "DialogSum",
        "license": "cc-by-nc-sa-4.0",
        "license_name": "CC BY-NC-SA 4.0",
        "language": "en",
    }
}
KNOWN_MODEL_LICENSES = {"google/flan-t5-base": "Apache 2.0"}
# What each `method` is called in titles, legends and the rows below.
METHOD_NAMES = {"lora": "LoRA fine-tuning", "ia3": "IA3 fine-tuning", "full": "full fine-tuning"}


@dataclass(frozen=True)
class Results:
    """What evaluate found for an adapter; `shots`: the baseline's (None: zero-shot)."""

    data: DataSource
    generate: dict
    baseline: dict
    finetuned: dict
    comparison: dict
    shots: Shots | None = None


def is_local(resolved: str) -> bool:
    """Whether a recorded version is a local directory's content hash (not a hub commit)."""
    return resolved.startswith("sha256:")


def base_model_text(record: AdapterRecord) -> str:
    name, resolved = record.model.name, record.model.resolved
    if not is_local(resolved):
        return f"[{name}](https://huggingface.co/{name}) (commit {resolved})"
    return f"the model in the local directory {as_text(name)} (not a hub model; its content: {resolved})"


def data_text(data: DataSource | None) -> str:
    if data is None:
        return "data this record does not name (the sha256 of each training split is in the adapter's provenance.json)"
    if is_local(data.resolved):
        return (
            f"the dialogues in the local directory {as_text(data.name)} (not a hub dataset; its content: "
            f"{data.resolved})"
        )
    known = KNOWN_DATASETS.get(data.name, {"name": data.name})
    return (
        f"{as_text(known['name'])} ([{data.name}](https://huggingface.co/datasets/{data.name}), commit {data.resolved})"
    )


def _modules(modules: list[str]) -> str:
    return ", ".join(as_text(module) for module in modules)


def _method_text(record: AdapterRecord) -> str:
    if record.method == "lora":
        lora = record.lora
        what = (
            f"a LoRA adapter of rank {lora.r}, alpha {lora.alpha:g}, dropout {lora.dropout:g}, on the "
            f"{_modules(lora.target_modules)} linear layers"
        )
    elif record.method == "ia3":
        ia3 = record.ia3
        outputs = [module for module in ia3.target_modules if module not in ia3.feedforward_modules]
        rescaled = [f"the outputs of the {_modules(outputs)} layers"] if outputs else []
        if ia3.feedforward_modules:
            rescaled.append(f"the inputs of the {_modules(ia3.feedforward_modules)} layers")
        what = f"an IA3 adapter: learned vectors rescale {' and '.join(rescaled)}"
    else:
        what = "every weight of the base model trained (no adapter)"
    trainable, total = record.parameters.trainable, record.parameters.total  # peft's count
    return f"{what}; {trainable:,} trainable parameters, {trainable / total:.2%} of the {total:,} in all"


def _kept_text(record: AdapterRecord) -> str:
    kept = record.training.kept
    weights = "the model" if record.method == "full" else "the adapter"
    if kept.rule == "last":
        return f"{weights} is the last step's"
    chosen = "the best validation ROUGE-1" if kept.rule == "best_rouge1" else "the lowest validation loss"
    return f"{weights} is step {kept.step:,}'s of {record.training.steps:,}, {chosen} ({kept.value:.4f})"


def describe_run(record: AdapterRecord, results: Results | None = None) -> list[tuple[str, str]]:
    """(what, markdown) rows of the adapter's record and of what evaluate found, if it has."""
    train, prompt, training, environment = record.train, record.prompt, record.training, record.environment
    subset = ""
    if training.dialogues != training.split_dialogues:
        subset = (
            f" ({training.dialogues:,} of its {training.split_dialogues:,} dialogues, drawn from seed {record.seed})"
        )
    when = f"every {train.validation_steps:,} steps" if train.validation_steps else "at the end of every epoch"
    scores = "a validation loss" if train.validation_rouge_dialogues == 0 else "a validation loss and ROUGE"
    trainer = ", ".join(f"`{key}={value}`" for key, value in record.trainer.items())
    rows = [
        ("base model", base_model_text(record)),
        (
            "data",
            f"the train split of {data_text(results.data if results else None)}{subset}; the validation split gives "
            f"{scores} {when} and after the last step",
        ),
        ("method", _method_text(record)),
        ("optimisation", f"{trainer}; batch {train.batch_size}, seed {record.seed}"),
        ("length", f"{training.steps:,} steps ({training.epochs:g} epochs); {_kept_text(record)}"),
        (
            "prompt",
            f"cut to {prompt.max_source_tokens} tokens ({training.truncated_prompts} training prompts were), "
            f"summaries to {prompt.max_target_tokens} ({training.truncated_summaries} were)",
        ),
    ]
    if results is not None:
        settings = ", ".join(f"{key} {value}" for key, value in results.generate.items())
        search = "greedy" if results.generate.get("num_beams") == 1 else "beam search"
        prompting = prompting_text(0)
        if (shots := results.shots) is not None and shots.ids:
            prompting = (
                f"{prompting_text(len(shots.ids))}: before each prompt, the training dialogues "
                f"{', '.join(as_text(shot) for shot in shots.ids)} with their summaries (drawn with seed {shots.seed})"
            )
        rows += [
            ("decoding", f"{search}: {settings}"),
            (BASELINE, f"the base model alone, {prompting}; the same prompt template and decoding"),
            ("intervals", f"95% bootstrap over test dialogues, {results.comparison['resamples']:,} resamples"),
        ]
    device = f"{as_text(environment.get('device', 'unknown'))}, {environment.get('dtype', 'unknown')}"
    if "frozen_dtype" in environment:
        device += f" (the frozen weights in {as_text(environment['frozen_dtype'])})"
    libraries = [
        f"{name} {environment[name]}" for name in ("python", "torch", "transformers", "peft") if name in environment
    ]
    return rows + [("device", device), ("libraries", ", ".join(libraries))]


def model_name(record: AdapterRecord, data: DataSource | None) -> str:
    """A short name for the finetuned model: base model, method, data (flan-t5-base-lora-dialogsum)."""
    source = data.name if data else "unknown-data"
    short = KNOWN_DATASETS[source]["name"] if source in KNOWN_DATASETS else Path(source).name
    return f"{Path(record.model.name).name}-{record.method}-{short}".lower()
