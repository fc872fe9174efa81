"""Stage `finetune`: train a LoRA adapter on the training dialogues.

    python -m stages.finetune

Reads params `seed`, `processes`, `data.source`, `model`, `prompt`, `lora`, `train`
and `generate` (the last recorded with the adapter, for evaluate's settings); reads
data/prepared/{train,validation}.jsonl and the base model; writes the adapter
(safetensors), its tokenizer, provenance and model card to models/adapter/, and the loss
curves (dvclive: losses, validation ROUGE, which is generated as `evaluate` generates) to
reports/train/. A killed run resumes from its last complete
checkpoint when rerun with the same inputs (dialogsum_lora/checkpoints.py).
"""

import contextlib

from dialogsum_lora.errors import run_main
from dialogsum_lora.outputs import atomic_path, check_writable, require
from dialogsum_lora.params import load_params
from dialogsum_lora.paths import ADAPTER_DIR, CURVES_DIR, SPLIT_FILES, TIMING_DIR
from dialogsum_lora.records import read_jsonl


def main() -> None:
    # Params first: a mistake is reported before torch and the Trainer load (seconds).
    params = load_params()
    import torch

    from dialogsum_lora import distributed
    from dialogsum_lora.adapter import adapter_record, add_lora, check_target_modules, save_adapter
    from dialogsum_lora.checkpoints import checkpoint_directory, last_complete_checkpoint, remove_checkpoints
    from dialogsum_lora.modeling import (
        load_base_model, load_tokenizer, make_deterministic, model_directory, pick_device, pick_dtype,
    )
    from dialogsum_lora.provenance import Stopwatch, model_provenance
    from dialogsum_lora.training import (
        LossCurves, StepClock, build_training_examples, length_group_steps, make_trainer, training_speed,
    )
    from dialogsum_lora.validation_rouge import ValidationRouge

    # Inputs, checked (and the outputs' place) before any process starts work.
    model_dir, resolved = model_directory(params.model.name, params.model.revision)
    check_target_modules(params, model_dir)
    train_rows = read_jsonl(require(SPLIT_FILES["train"]))
    validation_rows = read_jsonl(require(SPLIT_FILES["validation"]))
    run_dir = checkpoint_directory(params)
    check_writable([TIMING_DIR / "finetune.json"], directories=(ADAPTER_DIR, CURVES_DIR, run_dir / "checkpoint"))
    distributed.relaunch_if_needed(params.processes, "stages.finetune")

    # The model (fp32 master weights: on a bf16 GPU the Trainer autocasts the matmuls) and the
    # examples, each prompt and summary tokenised once.
    make_deterministic(params.seed)
    device = pick_device()
    dtype = pick_dtype(device)
    tokenizer = load_tokenizer(model_dir)
    model = add_lora(load_base_model(model_dir, torch.float32, device), params)
    train_set, truncated = build_training_examples(train_rows, tokenizer, params)
    validation_set, _ = build_training_examples(validation_rows, tokenizer, params)
    if distributed.is_main_process():
        model.print_trainable_parameters()
        for key, limit in (("truncated_prompts", "max_source_tokens"), ("truncated_summaries", "max_target_tokens")):
            if truncated[key]:
                print(f"{truncated[key]} of {len(train_set)} training {key.removeprefix('truncated_')} are longer "
                      f"than prompt.{limit}={getattr(params.prompt, limit)} and are cut")

    # Work: train, resuming if a run with these inputs was killed. Rank 0 writes the curves beside
    # reports/train and moves them into place when training ends: a killed run leaves none there.
    checkpoint = last_complete_checkpoint(run_dir)
    clock = StepClock(length_group_steps(len(train_set), params.train.batch_size))
    curves = atomic_path(CURVES_DIR) if distributed.is_main_process() else contextlib.nullcontext()
    with curves as curves_dir:
        loss_curves = LossCurves(curves_dir) if curves_dir else None
        callbacks = [clock] + ([loss_curves] if loss_curves else [])
        if params.train.validation_rouge_dialogues != 0:
            callbacks.append(ValidationRouge(tokenizer, validation_rows, params, loss_curves.log if loss_curves else None))
        trainer = make_trainer(model, tokenizer, params, dtype, train_set, validation_set, run_dir, callbacks)
        if checkpoint and distributed.is_main_process():
            print(f"resuming from {checkpoint}")
        with Stopwatch("finetune") as stopwatch:
            result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    if not trainer.is_world_process_zero():
        return

    # Outputs: the adapter with what it was trained on, and the training speed (not an output).
    stopwatch.write(**training_speed(trainer, clock, checkpoint, train_set, params.train.batch_size, stopwatch.seconds))
    provenance = model_provenance(params, resolved, device, dtype)
    provenance["training"] = {"steps": trainer.state.global_step, "epochs": round(result.metrics["epoch"], 4), **truncated}
    provenance.update(adapter_record(params))  # how it was trained, and the settings to use it with
    save_adapter(model, tokenizer, provenance, ADAPTER_DIR)
    remove_checkpoints(run_dir)
    print(f"trained {trainer.state.global_step} steps ({result.metrics['epoch']:.2f} epochs), "
          f"final train loss {result.metrics['train_loss']:.4f}; adapter in {ADAPTER_DIR}")


if __name__ == "__main__":
    run_main(main)
