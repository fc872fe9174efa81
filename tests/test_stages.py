"""The four stage scripts: each main() run in-process on the tiny model; bad params, paths and
inputs refused before any work; and the contract with a user's shell (one `error:` line, exit
code 2, 130 for Ctrl-C or 143 for SIGTERM, no traceback, nothing half-written), in real processes
where a process of its own is what is tested (a signal from outside, a limit on file sizes)."""

import importlib
import json
import os
import resource
import signal
import time
from pathlib import Path

import pytest
import yaml
from conftest import RENAMED, REPO_ROOT, SAMPLE_DIR, run_command, start_stage, write_renamed_csvs, write_samsum_shaped

from dialogsum_lora.data import load_source
from dialogsum_lora.errors import UserError
from dialogsum_lora.files import write_jsonl
from dialogsum_lora.params import set_key, set_params

STAGES = ("prepare", "baseline", "finetune", "evaluate")


@pytest.fixture
def stage_dir(tmp_path, tiny_model_dir, monkeypatch):
    """The working directory of a stage: the repository's params.yaml pointed at the tiny model
    and the sample data, with a short training run, and the sample data prepared."""
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    params["data"]["source"] = str(SAMPLE_DIR)
    params["model"]["name"] = str(tiny_model_dir)
    params["train"].update(num_train_epochs=2, logging_steps=2, save_steps=4)
    params["generate"].update(max_new_tokens=12)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    splits, _ = load_source(str(SAMPLE_DIR), None)
    for split, rows in splits.items():
        write_jsonl(tmp_path / f"data/prepared/{split}.jsonl", rows)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_main(stage: str) -> None:
    """A stage script's main(), in this process (in the current directory)."""
    importlib.import_module(f"stages.{stage}").main()


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1] if text.strip() else ""


@pytest.mark.slow
def test_every_stage_runs_in_process_and_writes_its_outputs(stage_dir, capsys, monkeypatch):
    from transformers import Seq2SeqTrainer

    # The Trainer's own fields, by their own names, with no code: another optimiser and schedule.
    trainer_fields = {"train.optim": "adafactor", "train.lr_scheduler_type": "cosine", "train.warmup_steps": 1}
    set_params(stage_dir / "params.yaml", {"train.dialogues": 16, **trainer_fields})  # of the 32: 2 batches an epoch
    optimisers = []
    create_optimizer = Seq2SeqTrainer.create_optimizer
    monkeypatch.setattr(
        Seq2SeqTrainer, "create_optimizer", lambda self: optimisers.append(create_optimizer(self)) or optimisers[-1]
    )
    for stage in STAGES:
        run_main(stage)
    assert [type(optimiser).__name__ for optimiser in optimisers] == ["Adafactor"]
    record = json.loads((stage_dir / "models/adapter/provenance.json").read_text())
    assert record["trainer"] == {
        "optim": "adafactor",
        "learning_rate": 0.001,
        "lr_scheduler_type": "cosine",
        "warmup_steps": 1,
        "weight_decay": 0.0,
        "torch_compile": False,
    }
    assert (
        "`optim=adafactor`, `learning_rate=0.001`, `lr_scheduler_type=cosine`, `warmup_steps=1`"
        in (stage_dir / "reports/report.md").read_text()
    )
    for results in ("reports/baseline", "reports/finetuned"):
        metrics = json.loads((stage_dir / results / "scores.json").read_text())
        assert metrics["num_dialogues"] == 8 and 0 <= metrics["rouge1"] <= 1
        assert len((stage_dir / results / "predictions.jsonl").read_text().splitlines()) == 8
    assert (stage_dir / "models/adapter/adapter_model.safetensors").is_file()
    assert json.loads((stage_dir / "reports/train/metrics.json").read_text())["step"] == 4  # 2 epochs of 2 batches
    training = json.loads((stage_dir / "models/adapter/provenance.json").read_text())["training"]
    assert (training["dialogues"], training["split_dialogues"]) == (16, 32)
    assert (stage_dir / "reports/plots/rouge.png").is_file()
    assert "(16 of its 32 dialogues, drawn from seed 42)" in (stage_dir / "reports/report.md").read_text()
    assert not (stage_dir / ".trainer").exists()
    assert "trained 4 steps" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["samsum", "renamed"])
def test_a_samsum_shaped_or_renamed_column_dataset_runs_every_stage(stage_dir, dataset):
    """SAMSum's shape (id, dialogue, summary; one reference) by DialogSum's names; a CSV of other names with two
    reference columns by data.splits and data.columns (conftest.RENAMED)."""
    sample = load_source(str(SAMPLE_DIR), None)[0]
    if dataset == "samsum":
        source, references, settings = stage_dir / "samsum", 1, {"data.source": str(stage_dir / "samsum")}
        write_samsum_shaped(source)
    else:  # docs/pipeline.md's settings, as written
        source, references, settings = stage_dir / RENAMED["source"], 2, {f"data.{k}": v for k, v in RENAMED.items()}
        write_renamed_csvs(source)
    set_params(stage_dir / "params.yaml", {**settings, "train.max_steps": 2})
    for stage in STAGES:
        run_main(stage)
    predictions = [
        json.loads(line) for line in (stage_dir / "reports/finetuned/predictions.jsonl").read_text().splitlines()
    ]
    assert [row["references"] for row in predictions] == [row["references"][:references] for row in sample["test"]]
    scores = json.loads((stage_dir / "reports/finetuned/scores.json").read_text())
    assert scores["num_dialogues"] == 8 and 0 <= scores["rouge1"] <= 1
    assert json.loads((stage_dir / "reports/data_stats.json").read_text())["source"]["name"] == settings["data.source"]
    assert f"{source.name} (" in (stage_dir / "reports/report.md").read_text().replace("\\-", "-")  # it names the data


@pytest.mark.slow
def test_a_bart_base_runs_every_stage(stage_dir):
    """BART, the other seq2seq family: a tiny random one with the tiny T5's tokenizer, LoRA on peft's default layers."""
    from transformers import BartConfig, BartForConditionalGeneration

    from dialogsum_lora.modeling.tiny import build_tokenizer

    tokenizer = build_tokenizer()
    sizes = {"d_model": 32, "encoder_ffn_dim": 64, "decoder_ffn_dim": 64, "max_position_embeddings": 1024}
    layers = {"encoder_layers": 1, "decoder_layers": 1, "encoder_attention_heads": 2, "decoder_attention_heads": 2}
    ids = {"pad_token_id": 0, "eos_token_id": 1, "bos_token_id": None, "decoder_start_token_id": 1}
    model = BartForConditionalGeneration(BartConfig(vocab_size=len(tokenizer), **sizes, **layers, **ids))
    tokenizer.save_pretrained(stage_dir / "tiny-bart")
    model.save_pretrained(stage_dir / "tiny-bart")
    set_params(
        stage_dir / "params.yaml", {"model.name": "tiny-bart", "lora.target_modules": None, "train.max_steps": 2}
    )
    for stage in STAGES:
        run_main(stage)
    record = json.loads((stage_dir / "models/adapter/provenance.json").read_text())
    assert record["decoder_only"] is False and record["lora"]["target_modules"] == ["q_proj", "v_proj"]
    assert json.loads((stage_dir / "reports/finetuned/scores.json").read_text())["num_dialogues"] == 8


@pytest.mark.parametrize(
    "stage, change, facts",
    [
        ("finetune", {"lora.rank": 8}, ("params.yaml", "unknown key lora.rank", "target_modules")),
        ("finetune", {"lora.r": 0}, ("params.yaml", "lora.r", "0", "greater than or equal to 1")),
        ("finetune", {"lora.dropout": 1.5}, ("params.yaml", "lora.dropout", "1.5", "less than 1")),
        ("finetune", {"train.learning_rate": float("nan")}, ("params.yaml", "train.learning_rate", "nan")),
        ("finetune", {"lora.target_modules": ["q", "query"]}, ("lora.target_modules", "'query'")),
        ("finetune", {"method": "adapter"}, ("params.yaml", "method", "'adapter'", "'lora', 'ia3' or 'full'")),
        (
            "finetune",
            {"ia3.feedforward_modules": ["wi"]},
            ("params.yaml", "ia3.feedforward_modules", "'wi'", "ia3.target_modules"),
        ),
        (
            "finetune",
            {"method": "ia3", "ia3.target_modules": ["k", "query"], "ia3.feedforward_modules": []},
            ("ia3.target_modules", "'query'"),
        ),
        ("finetune", {"full.learning_rate": float("inf")}, ("params.yaml", "full.learning_rate", "inf", "finite")),
        ("finetune", {"train.dialogues": 33}, ("params.yaml", "train.dialogues is 33", "has 32")),
        (
            "finetune",
            {"train.keep": "best_rouge1", "train.validation_rouge_dialogues": 0},
            ("train.keep", "best_rouge1"),
        ),
        ("finetune", {"train.optim": "adamx"}, ("params.yaml", "train.optim", "'adamx'", "adafactor")),
        ("finetune", {"train.seed": 1}, ("params.yaml", "train.seed", "params.yaml seed")),
        (
            "finetune",
            {"method": "full", "train.frozen_dtype": "bfloat16"},
            ("train.frozen_dtype is bfloat16", "method full"),
        ),
        ("finetune", {"train.frozen_dtype": "bf16"}, ("params.yaml", "train.frozen_dtype", "'bf16'", "'bfloat16'")),
        (
            "finetune",
            {"train.pad_to_multiple_of": 0},
            ("params.yaml", "train.pad_to_multiple_of", "0", "greater than or equal to 1"),
        ),
        (
            "baseline",
            {"generate.max_new_tokens": 0},
            ("params.yaml", "generate.max_new_tokens", "0", "greater than or equal to 1"),
        ),
        # A setting transformers would ignore: one beam, and a length penalty that only beams use.
        (
            "baseline",
            {"generate.num_beams": 1, "generate.length_penalty": 2.0},
            ("params.yaml", "generate", "length_penalty"),
        ),
        (
            "baseline",
            {"generate.no_repeat_ngram_size": -1},
            ("params.yaml", "generate.no_repeat_ngram_size", "-1", "greater than or equal to 0"),
        ),
        ("baseline", {"prompt.template": "Summarise this."}, ("params.yaml", "prompt.template", "{dialogue}")),
        ("baseline", {"baseline.shots": 33}, ("params.yaml", "baseline.shots is 33", "has 32")),
        # Three of the sample's dialogues with their summaries fill the 512 tokens (the tiny tokenizer spells out
        # words).
        ("baseline", {"baseline.shots": 3}, ("params.yaml", "baseline.shots is 3", "prompt.max_source_tokens (512)")),
        (
            "baseline",
            {"model.name": "./models/missing"},
            ("model.name", "'./models/missing'", "neither a directory nor a hub id"),
        ),
        # owner/name could be a hub id too: the message covers both readings, and says the run is offline.
        ("baseline", {"model.name": "models/missing"}, ("'models/missing'", "HF_HUB_OFFLINE", "no local directory")),
        ("evaluate", {}, ("reports/baseline/scores.json", "dvc repro")),
        (
            "prepare",
            {"data.source": "data/x/missing"},
            ("data.source", "'data/x/missing'", "neither a directory nor a hub id"),
        ),
        ("prepare", {"data.source": "data/missing"}, ("'data/missing'", "HF_HUB_OFFLINE", "no local directory")),
    ],
)
def test_bad_params_and_paths_are_one_clear_error_before_any_work(stage_dir, stage, change, facts):
    params = yaml.safe_load((stage_dir / "params.yaml").read_text())
    for dotted, value in change.items():
        if dotted == "lora.rank":  # a typo: a key that is not there
            params["lora"]["rank"] = value
        else:
            set_key(params, dotted, value)
    (stage_dir / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(UserError) as error:
        run_main(stage)
    for fact in facts:
        assert fact in str(error.value), (fact, str(error.value))
    written = [path for path in [*stage_dir.glob("models/**/*"), *stage_dir.glob("reports/**/*")] if path.is_file()]
    assert not [path for path in written if not path.name.endswith(".lock")]


def test_a_few_shot_baseline_prompts_with_the_same_seeded_training_dialogues_and_reruns_identically(stage_dir):
    from dialogsum_lora.files import read_jsonl
    from dialogsum_lora.modeling.base import load_tokenizer
    from dialogsum_lora.params import load_params
    from dialogsum_lora.prompt import build_prompt, shots_prefix
    from dialogsum_lora.subsets import seeded_subset

    results = [
        stage_dir / f"reports/baseline/{name}" for name in ("scores.json", "predictions.jsonl", "provenance.json")
    ]
    run_main("baseline")
    zero_shot = [row["prediction"] for row in read_jsonl(results[1])]
    set_params(stage_dir / "params.yaml", {"baseline.shots": 2})
    run_main("baseline")
    first = [path.read_bytes() for path in results]
    train = read_jsonl(stage_dir / "data/prepared/train.jsonl")
    shots = seeded_subset(train, 2, 42)
    assert seeded_subset(train, 2, 42) == shots != seeded_subset(train, 2, 7)  # drawn from seed
    assert json.loads(results[2].read_text())["shots"] == {"ids": [row["id"] for row in shots], "seed": 42}
    assert [row["prediction"] for row in read_jsonl(results[1])] != zero_shot
    # The prompts cut are those whose whole text, shots first, is longer than prompt.max_source_tokens.
    params = load_params(importlib.import_module("stages.baseline").Reads)
    prompt, tokenizer = params.prompt, load_tokenizer(Path(params.model.name))
    lengths = [
        len(tokenizer(shots_prefix(prompt.template, shots) + build_prompt(prompt.template, row["dialogue"])).input_ids)
        for row in read_jsonl(stage_dir / "data/prepared/test.jsonl")
    ]
    cut = sum(length > prompt.max_source_tokens for length in lengths)
    assert json.loads(results[0].read_text())["truncated_prompts"] == cut > 0
    run_main("baseline")
    assert [path.read_bytes() for path in results] == first  # rerun: byte-identical


# Runs a stage as dvc.yaml does, then says whether torch was imported by the time it ended.
IMPORTS_TORCH = """
import runpy, sys
try:
    runpy.run_module("stages.{stage}", run_name="__main__")
finally:
    print("torch imported:", "torch" in sys.modules)
"""


@pytest.mark.parametrize(
    "stage, change, key",
    [
        ("prepare", {"data.source": ""}, "data.source"),
        ("baseline", {"generate.num_beams": 0}, "generate.num_beams"),
        ("baseline", {"baseline.shots": 33}, "baseline.shots"),  # more than the training split has
        ("finetune", {"lora.r": 0}, "lora.r"),
        ("evaluate", {"analysis.resamples": 0}, "analysis.resamples"),
    ],
)
def test_a_bad_param_ends_every_stage_in_one_line_before_torch_is_imported(stage_dir, stage, change, key):
    import subprocess
    import sys

    from dialogsum_lora.commands.demo import offline_environment

    set_params(stage_dir / "params.yaml", change)
    run = subprocess.run(
        [sys.executable, "-c", IMPORTS_TORCH.format(stage=stage)],
        cwd=stage_dir,
        env=offline_environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and run.stderr.startswith("error: params.yaml: ")
    assert key in run.stderr and str(next(iter(change.values()))) in run.stderr
    assert run.stdout.strip() == "torch imported: False"


def test_evaluate_without_an_adapter_is_refused(stage_dir):
    for stage in ("baseline",):
        run_main(stage)
    with pytest.raises(UserError, match="no trained adapter or model in models/adapter: run `dvc repro finetune`"):
        run_main("evaluate")
    assert not (stage_dir / "reports/finetuned").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    "damaged, content, message",
    [
        (
            "reports/baseline/predictions.jsonl",
            None,
            "reports/baseline/predictions.jsonl does not hold the test dialogues in order",
        ),
        ("reports/baseline/scores.json", '{"rouge1": "high"}', "reports/baseline/scores.json: rouge1: .*'high'"),
        (
            "reports/baseline/scores.json",
            '{"rouge1": 7}',
            "reports/baseline/scores.json: rouge1: .*less than or equal to 1, got 7",
        ),
        ("reports/baseline/scores.json", None, "reports/baseline/scores.json: missing key best_reference"),
        (
            "reports/train/plots/metrics/eval/loss.tsv",
            "step\tloss\n4\tlow\n",
            "eval/loss.tsv is not a dvclive metric file",
        ),
        ("models/adapter/provenance.json", '{"model": {"resolved": "sha256:another"}}', "provenance.json: missing key"),
        ("reports/data_stats.json", '{"source": {"name": 3}}', "reports/data_stats.json source: name"),
        ("reports/data_stats.json", "[]", "reports/data_stats.json source: .*got None"),
    ],
)
def test_evaluate_checks_every_input_before_writing_anything(workspace, monkeypatch, damaged, content, message):
    path = workspace / damaged
    if content is None and path.suffix == ".jsonl":  # the predictions of a different order of dialogues
        path.write_text("".join(reversed(path.read_text().splitlines(keepends=True))))
    elif content is None:  # the scores without their best-of-references half, which the report shows
        metrics = json.loads(path.read_text())
        path.write_text(json.dumps({key: value for key, value in metrics.items() if key != "best_reference"}))
    else:
        path.write_text(content)
    outputs = {p: p.read_bytes() for p in (workspace / "reports").rglob("*") if p.is_file() and p != path}
    monkeypatch.chdir(workspace)
    with pytest.raises(UserError, match=message):
        run_main("evaluate")
    assert {p: p.read_bytes() for p in (workspace / "reports").rglob("*") if p.is_file() and p != path} == outputs


def small_disk(limit: int):
    """A process's start that lets no file grow past `limit` bytes: writing more fails as on a full disk (EFBIG)."""

    def start():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return start


@pytest.mark.slow
def test_a_full_disk_is_one_line_naming_the_file_and_leaves_no_output(stage_dir):
    rows = [
        {"id": f"t{i}", "dialogue": "#Person1#: Hello there, how are you?", "references": ["A greeting."] * 3}
        for i in range(40)
    ]
    (stage_dir / "data/prepared/test.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))

    run = start_stage(stage_dir, "baseline", preexec_fn=small_disk(2048))  # more than 2 KiB fails
    _, stderr = run.communicate(timeout=300)
    assert run.returncode == 2 and "Traceback" not in stderr
    assert last_line(stderr).startswith("error: cannot write reports/baseline/predictions.jsonl: ")
    assert "File too large" in last_line(stderr)
    assert not (stage_dir / "reports/baseline").exists() or not any((stage_dir / "reports/baseline").iterdir())


@pytest.mark.slow
def test_a_full_disk_while_saving_a_checkpoint_is_one_line(stage_dir):
    run = start_stage(stage_dir, "finetune", preexec_fn=small_disk(100_000))  # smaller than a checkpoint's weights
    _, stderr = run.communicate(timeout=300)
    assert run.returncode == 2 and "Traceback" not in stderr
    assert last_line(stderr).startswith("error: a write failed, the disk may be full or read-only: ")
    assert not (stage_dir / "models/adapter").exists()


def test_each_stage_relaunches_itself_for_its_processes(stage_dir, monkeypatch):
    # Which module each stage hands to torchrun, once its params and inputs are checked (evaluate's, which
    # needs an adapter, is test_distributed.py's, run for real).
    from dialogsum_lora import distributed

    class Relaunched(Exception):
        pass

    def relaunch(processes, module):
        raise Relaunched(processes, module)

    monkeypatch.setattr(distributed, "relaunch_if_needed", relaunch)
    set_params(stage_dir / "params.yaml", {"processes": 2})
    for stage in ("baseline", "finetune"):
        with pytest.raises(Relaunched) as relaunched:
            run_main(stage)
        assert relaunched.value.args == (2, f"stages.{stage}")


@pytest.mark.slow
def test_ctrl_c_ends_training_with_one_line_and_nothing_written(stage_dir):
    set_params(stage_dir / "params.yaml", {"train.num_train_epochs": 1000, "train.save_steps": 5})
    # As a terminal runs its foreground job: Ctrl-C not ignored, even if this test's own runner ignores it
    # (as a shell's background job does), which the stage would inherit.
    run = start_stage(stage_dir, "finetune", preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    while not list(stage_dir.glob(".trainer/*/checkpoint-5/checkpoint_complete")):
        assert run.poll() is None, run.communicate()[1][-3000:]
        time.sleep(0.1)
    run.send_signal(signal.SIGINT)  # what Ctrl-C at a terminal sends
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 130 and "Traceback" not in stderr
    assert last_line(stderr).startswith("error: interrupted (Ctrl-C)")
    assert not (stage_dir / "models/adapter").exists()
    assert not (stage_dir / "reports/train").exists() and not list(stage_dir.glob("reports/.train.*"))


@pytest.mark.slow
def test_sigterm_ends_training_with_one_line_and_nothing_written(stage_dir, monkeypatch, capsys):
    # In this process (errors.run_main's own SIGTERM handler; run_command puts the runner's back): a
    # scheduler ending the job after the first checkpoint.
    from dialogsum_lora.training import trainer

    set_params(stage_dir / "params.yaml", {"train.num_train_epochs": 1000, "train.save_steps": 5})
    mark = trainer.MarkCompleteCheckpoints.on_save

    def then_terminated(self, args, state, control, **kwargs):
        mark(self, args, state, control, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(trainer.MarkCompleteCheckpoints, "on_save", then_terminated)
    code, _, stderr = run_command(lambda _: run_main("finetune"), [], capsys)
    assert code == 143 and "Traceback" not in stderr
    assert last_line(stderr).startswith("error: terminated (SIGTERM)")
    assert list(stage_dir.glob(".trainer/*/checkpoint-5/checkpoint_complete"))
    assert not (stage_dir / "models/adapter").exists()
    assert not (stage_dir / "reports/train").exists() and not list(stage_dir.glob("reports/.train.*"))


def test_train_compile_without_a_working_compiler_is_one_line_before_any_work(stage_dir, monkeypatch, capsys):
    from torch._inductor import config

    set_params(stage_dir / "params.yaml", {"train.torch_compile": True})
    monkeypatch.setattr(config.cpp, "cxx", (str(stage_dir / "no-such-compiler"),))  # where inductor looks for one
    code, _, stderr = run_command(lambda _: run_main("finetune"), [], capsys)
    assert code == 2 and "Traceback" not in stderr and stderr.count("\n") == 1
    assert "train.torch_compile" in stderr and "C++ compiler" in stderr
    assert not (stage_dir / ".trainer").exists() and not (stage_dir / "models").exists()


@pytest.mark.slow
def test_bf16_frozen_weights_change_nothing_on_a_cpu_and_on_a_bf16_device_train_an_fp32_adapter(stage_dir, monkeypatch):
    from safetensors import safe_open

    adapter, record_file = (
        stage_dir / "models/adapter/adapter_model.safetensors",
        stage_dir / "models/adapter/provenance.json",
    )
    run_main("finetune")
    fp32 = adapter.read_bytes()
    # A CPU computes in fp32: the frozen weights stay fp32 whatever train.frozen_dtype says.
    set_params(stage_dir / "params.yaml", {"train.frozen_dtype": "bfloat16"})
    run_main("finetune")
    assert adapter.read_bytes() == fp32 and "frozen_dtype" not in json.loads(record_file.read_text())["environment"]

    # As on a GPU with bf16 (this CPU autocasts in bf16 as well): the base in bf16, validation ROUGE
    # and the best validation's adapter kept, saved in fp32.
    monkeypatch.setattr("dialogsum_lora.modeling.base.pick_dtype", lambda device: __import__("torch").bfloat16)
    set_params(
        stage_dir / "params.yaml",
        {"train.validation_steps": 4, "train.validation_rouge_dialogues": 4, "train.keep": "best_rouge1"},
    )
    run_main("finetune")
    record = json.loads(record_file.read_text())
    assert (record["environment"]["dtype"], record["environment"]["frozen_dtype"]) == ("bfloat16", "bfloat16")
    assert record["train"]["frozen_dtype"] == "bfloat16" and record["training"]["kept"]["rule"] == "best_rouge1"
    with safe_open(str(adapter), "pt") as weights:
        assert {weights.get_slice(name).get_dtype() for name in weights.keys()} == {"F32"}
    assert adapter.read_bytes() != fp32
    curve = (stage_dir / "reports/train/plots/metrics/eval/rouge1.tsv").read_text().splitlines()
    assert [row.split("\t")[0] for row in curve[1:]] == ["4", "8"]
