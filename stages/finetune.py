"""Stage `finetune`: train what params.yaml's `method` says (a LoRA or IA3 adapter, or every weight)
on the training dialogues.

    python -m stages.finetune

Reads the params `Reads` names (dvc.yaml lists the same), data/prepared/{train,validation}.jsonl
and the base model; writes the weights trained (the adapter, or the whole model; safetensors), its
tokenizer and the record of how it was trained (provenance.json) to models/adapter/, and the
curves (dvclive: losses, validation ROUGE) to reports/train/. It reads no decoding settings and writes no text for
people beyond its console lines, so neither retrains it. A killed run resumes from its last complete
checkpoint when rerun with the same inputs (dialogsum_lora/training/trainer.py: checkpoints).
"""

import contextlib
import shutil
import time

from dialogsum_lora.errors import run_main
from dialogsum_lora.files import atomic_path, read_jsonl, require
from dialogsum_lora.params import METHODS, Method, Processes, Seed, StageParams, load_params
from dialogsum_lora.params.methods import FullParams, IA3Params, LoraParams
from dialogsum_lora.params.model import ModelParams
from dialogsum_lora.params.prompt import PromptParams
from dialogsum_lora.params.train import TrainParams, check_batch_split, check_trainer_settings
from dialogsum_lora.paths import ADAPTER_DIR, CURVES_DIR, SPLIT_FILES


class Reads(StageParams):  # as dvc.yaml lists them
    seed: Seed
    processes: Processes
    method: Method
    model: ModelParams
    prompt: PromptParams
    lora: LoraParams
    ia3: IA3Params
    full: FullParams
    train: TrainParams


def main() -> None:
    # Params first: a mistake is reported before torch and the Trainer load.
    params = load_params(Reads)
    params.train.check(method=params.method)
    check_trainer_settings(params.train)  # the Trainer's own fields, by its own types
    check_batch_split(params.train, params.processes)
    import torch

    from dialogsum_lora import distributed
    from dialogsum_lora.modeling import adapter, base
    from dialogsum_lora.provenance import model_provenance, write_timing
    from dialogsum_lora.subsets import seeded_subset
    from dialogsum_lora.training import trainer as training

    # Inputs, checked (and the outputs' place) before any process starts work.
    model_dir, resolved = base.model_directory(params.model.name, params.model.revision)
    training.check_target_modules(params.method, adapter.method_settings(params), model_dir, params.model.name)
    if params.train.compiles_with_inductor():
        training.check_compiler()
    split_rows = read_jsonl(require(SPLIT_FILES["train"]))
    params.train.check(len(split_rows))
    train_rows = seeded_subset(split_rows, params.train.dialogues, params.seed)
    validation_rows = read_jsonl(require(SPLIT_FILES["validation"]))
    run_dir = training.checkpoint_directory(params)
    distributed.relaunch_if_needed(params.processes, "stages.finetune")

    # The model (fp32 master weights: on a bf16 GPU the Trainer autocasts the matmuls; the frozen
    # base in bf16 there if train.frozen_dtype says so) and the examples, each prompt and summary
    # tokenised once.
    base.make_deterministic(params.seed)
    device = base.pick_device()
    dtype = base.pick_dtype(device)
    base_dtype = training.frozen_weights_dtype(params.train, params.method, dtype)
    tokenizer = base.load_tokenizer(model_dir)
    base_model = base.load_base_model(model_dir, base_dtype, device)
    model = training.trainable_model(base_model, params.method, adapter.method_settings(params))
    decoder_only = base.is_decoder_only(base_model)
    train_set, truncated = training.build_training_examples(
        train_rows, tokenizer, params.prompt, decoder_only=decoder_only
    )
    validation_set, _ = training.build_training_examples(
        validation_rows, tokenizer, params.prompt, decoder_only=decoder_only
    )
    if distributed.is_main_process():
        counts = adapter.parameter_counts(model)  # as the record and the card give them
        print(f"method {params.method}: {counts['trainable']:,} of the model's {counts['total']:,} parameters train")
        for key, limit in (("truncated_prompts", "max_source_tokens"), ("truncated_summaries", "max_target_tokens")):
            if truncated[key]:
                print(
                    f"{truncated[key]} of {len(train_set)} training {key.removeprefix('truncated_')} are longer "
                    f"than prompt.{limit}={getattr(params.prompt, limit)} and are cut"
                )

    # Work: train, resuming if a run with these inputs was killed. Rank 0 writes the curves.
    checkpoint = training.last_complete_checkpoint(run_dir)
    if distributed.is_main_process():  # what a killed run left under a temporary name beside its place
        for place in (CURVES_DIR, ADAPTER_DIR):
            for stale in place.parent.glob(f".{place.name}.*.tmp"):
                shutil.rmtree(stale)
    clock = training.StepClock(training.length_group_steps(len(train_set), params.train.batch_size))
    curves = atomic_path(CURVES_DIR) if distributed.is_main_process() else contextlib.nullcontext()
    with curves as curves_dir:
        loss_curves = training.LossCurves(curves_dir) if curves_dir else None
        callbacks = [clock] + ([loss_curves] if loss_curves else [])
        if params.train.validation_rouge_dialogues != 0:
            callbacks.append(
                training.ValidationRouge(
                    tokenizer,
                    validation_rows,
                    params.prompt,
                    params.train,
                    params.seed,
                    loss_curves.log if loss_curves else None,
                )
            )
        keep = training.KeepBest(params.train.keep, checkpoint) if params.train.keep != "last" else None
        callbacks += [keep] if keep else []
        trainer = training.make_trainer(
            model,
            tokenizer,
            adapter.training_params(params),
            params.seed,
            dtype,
            train_set,
            validation_set,
            run_dir,
            callbacks,
        )
        if checkpoint and distributed.is_main_process():
            print(f"resuming from {checkpoint}")
        start = time.perf_counter()
        result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
        seconds = time.perf_counter() - start
    if not trainer.is_world_process_zero():
        return

    # Outputs: the adapter kept with the record of how it was trained, and the training speed (not an output).
    kept = keep.restore(model) if keep else adapter.KeptStep(step=trainer.state.global_step, rule="last")
    write_timing("finetune", seconds, **training.training_speed(result, clock, train_set, params.train.batch_size))
    record = model_provenance(params.model, resolved, device, dtype) | {"decoder_only": decoder_only}
    if base_dtype != torch.float32:
        record["environment"]["frozen_dtype"] = str(base_dtype).removeprefix("torch.")
    record["training"] = {
        "steps": trainer.state.global_step,
        "epochs": round(result.metrics["epoch"], 4),
        "dialogues": len(train_rows),
        "split_dialogues": len(split_rows),
        **truncated,
        "kept": kept.model_dump(),
        "data": training.training_data_hashes(),
    }
    # What it read: seed, processes, method, prompt, the method's section, train.
    record.update(params.model_dump(exclude={"model", *(set(METHODS) - {params.method})}))
    record[params.method].update(training.adapted_modules(model, params.method, adapter.method_settings(params)))
    record["trainer"] = training.arguments_used(trainer.args, params.train.trainer_settings())
    adapter.save_adapter(model, tokenizer, record, ADAPTER_DIR)
    training.remove_checkpoints(run_dir)  # once the adapter is in place
    logged = next((entry for entry in reversed(trainer.state.log_history) if "loss" in entry), None)
    loss = (
        f"training loss {logged['loss']:.4f} at step {logged['step']}, the last logged"
        if logged
        else "no training loss logged"
    )
    score = f", validation {kept.rule.split('_')[1]} {kept.value:.4f}" if kept.value is not None else ""
    print(
        f"trained {trainer.state.global_step} steps ({result.metrics['epoch']:.2f} epochs); {loss}; "
        f"step {kept.step}'s weights kept (train.keep: {kept.rule}{score}) in {ADAPTER_DIR}"
    )


if __name__ == "__main__":
    run_main(main)
