"""The benchmarks run end to end on the tiny model, as files or modules, and report consistent figures."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT

pytestmark = pytest.mark.slow  # each runs a benchmark script: not the package's edit loop (`make check`)


def test_tiny_benchmark_reports_both_settings(tmp_path):
    report = tmp_path / "throughput.json"
    # Run as a file, the way its usage line shows (`python -m benchmarks.throughput` is tested below).
    command = [
        sys.executable,
        "benchmarks/throughput.py",
        "--model",
        "tiny",
        "--device",
        "cpu",
        "--steps",
        "3",
        "--warmup-steps",
        "1",
        "--examples",
        "400",
        "--dialogues",
        "8",
        "--max-new-tokens",
        "16",
        "--gen-batch-size",
        "4",
        "8",
        "--json",
        str(report),
    ]
    run = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]

    figures = json.loads(report.read_text())
    tutorial = figures["training"]["tutorial"]
    (project,) = figures["training"]["project"]
    assert tutorial["samples_per_s"] > 0 and project["samples_per_s"] > 0
    assert tutorial["batch_size"] == project["batch_size"] == 8
    assert not tutorial["length_grouped"] and project["length_grouped"]
    assert tutorial["dtype"] == project["dtype"] == "float32"  # on the CPU
    for key in ("samples_per_s", "tokens_per_s"):
        assert project["vs_tutorial"][key] == pytest.approx(project[key] / tutorial[key])

    # The stage's own Trainer: one length-sorted block (400 // (8 x 4) = 12 batches) of warm-up,
    # then whole blocks timed.
    (trainer,) = figures["training"]["stage_trainer"]
    assert trainer["batch_size"] == 8 and trainer["warmup_steps"] == 12 and trainer["steps"] == 12
    assert not trainer["compiled"] and trainer["samples_per_s"] > 0
    assert trainer["vs_tutorial"]["samples_per_s"] == pytest.approx(
        trainer["samples_per_s"] / tutorial["samples_per_s"]
    )

    single, batched = figures["generation"]["one_at_a_time"], figures["generation"]["batched"]
    assert single["batch_size"] == 1 and single["dialogues"] == 8 and single["dialogues_per_s"] > 0
    assert [result["batch_size"] for result in batched] == [4, 8] and all(r["dialogues"] == 8 for r in batched)
    for result in batched:
        assert result["vs_one_at_a_time"]["dialogues_per_s"] == pytest.approx(
            result["dialogues_per_s"] / single["dialogues_per_s"]
        )
        assert 1 <= result["mean_new_tokens"] <= 16
    assert figures["machine"]["torch"] and figures["machine"]["cpu_count"] >= 1
    assert "Traceback" not in run.stderr and "{'loss'" not in run.stdout


def test_methods_benchmark_trains_each_method_in_its_own_process_on_the_same_batches(tmp_path):
    report = tmp_path / "methods.json"
    command = [
        sys.executable,
        "benchmarks/methods.py",
        "--model",
        "tiny",
        "--device",
        "cpu",
        "--steps",
        "2",
        "--warmup-steps",
        "1",
        "--threads",
        "1",
        "--checkpointing",
        "--methods",
        "lora,ia3,full",
        "--json",
        str(report),
    ]
    run = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(report.read_text())["settings"]["checkpointing"] and "checkpointing on" in run.stdout
    methods = json.loads(report.read_text())["methods"]
    assert list(methods) == ["lora", "ia3", "full"]
    full, lora, ia3 = methods["full"], methods["lora"], methods["ia3"]
    assert full["parameters"]["trainable"] == full["parameters"]["total"]
    assert 0 < ia3["parameters"]["trainable"] < lora["parameters"]["trainable"] < full["parameters"]["trainable"]
    assert (lora["learning_rate"], full["learning_rate"]) == (1e-3, 1e-5)  # train.learning_rate, full.learning_rate
    for figures in methods.values():
        assert figures["activation_checkpointing"]  # each method's model, in its own process
        # The same batches for each: the same samples and tokens timed.
        assert (figures["steps"], figures["mean_source_tokens"]) == (2, lora["mean_source_tokens"])
        assert len(figures["step_seconds"]) == 2 and figures["median_step_seconds"] > 0
        assert figures["peak_memory_mib"] >= figures["memory_before_training_mib"] > 0
        assert figures["training_added_mib"] == pytest.approx(
            figures["peak_memory_mib"] - figures["memory_before_training_mib"], abs=0.11
        )
    assert (
        run.stdout.count(" s/step ") == 3 and "x1.00 time (the same batches), x1.00 peak" in run.stdout
    )  # LoRA against itself


def test_the_base_sizes_have_the_published_checkpoints_parameter_counts():
    import torch

    from benchmarks.synthetic import DECODER_ONLY_SIZES, FLAN_T5_SIZES, random_decoder_only, random_flan_t5

    counts = {}
    for sizes, build in ((FLAN_T5_SIZES, random_flan_t5), (DECODER_ONLY_SIZES, random_decoder_only)):
        for size in sizes:
            with torch.device("meta"):  # the shapes alone: no memory, no random weights drawn
                counts[size] = build(size).num_parameters()  # a tied weight once
    # google/flan-t5-{small,base,large,xl}'s safetensors, lm_head untied; Qwen/Qwen2.5-{0.5B,1.5B}'s, tied.
    assert counts == {
        "flan-t5-small": 76_961_152,
        "flan-t5-base": 247_577_856,
        "flan-t5-large": 783_150_080,
        "flan-t5-xl": 2_849_757_184,
        "qwen2.5-0.5b": 494_032_768,
        "qwen2.5-1.5b": 1_543_714_304,
    }


def test_a_decoder_only_batch_is_each_prompt_then_its_summary_with_the_loss_on_the_summary():
    import numpy as np

    from benchmarks.training_speed import collate

    batch = collate([np.array([5, 6, 7]), np.array([8])], [np.array([9, 1]), np.array([10, 11, 1])], 0, True)
    assert batch["input_ids"].tolist() == [[5, 6, 7, 9, 1], [8, 10, 11, 1, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]]
    assert batch["labels"].tolist() == [[-100, -100, -100, 9, 1], [-100, 10, 11, 1, -100]]


def test_synthetic_data_has_dialogsum_token_lengths_and_the_hub_layout(tmp_path, tiny_model_dir):
    import numpy as np

    from benchmarks.synthetic import synthetic_splits, write_splits
    from dialogsum_lora.data import load_source
    from dialogsum_lora.modeling.base import load_tokenizer
    from dialogsum_lora.prompt import build_prompt, encode

    tokenizer = load_tokenizer(tiny_model_dir)
    template = "Summarize the following conversation.\n\n{dialogue}\n\nSummary: "
    splits = synthetic_splits(tokenizer, template, {"train": 2000, "validation": 5, "test": 7}, seed=0)
    write_splits(splits, tmp_path)
    loaded = load_source(str(tmp_path), None)[0]
    assert [len(loaded[split]) for split in ("train", "validation", "test")] == [2000, 5, 7]
    assert all(len(row["references"]) == 3 for row in loaded["test"])

    prompts, cut = encode(tokenizer, [build_prompt(template, row["dialogue"]) for row in loaded["train"]], 512)
    lengths = [len(ids) for ids in prompts]
    summaries = [len(ids) for ids in tokenizer([row["summary"] for row in loaded["train"]]).input_ids]
    # DialogSum in flan-t5 tokens: prompts ~216 mean, ~400 p95 (cut at 512); summaries ~30 and ~55.
    assert np.mean(lengths) == pytest.approx(216, rel=0.05) and np.percentile(lengths, 95) == pytest.approx(
        400, rel=0.05
    )
    assert np.mean(summaries) == pytest.approx(30, rel=0.05) and np.percentile(summaries, 95) == pytest.approx(
        55, rel=0.08
    )
    assert cut == 0 and max(lengths) <= 512
    # Importing the pipeline benchmark must not switch off the stages' progress bars in this process.
    assert "TQDM_DISABLE" not in os.environ


def test_gpu_script_refuses_bad_input_before_running_anything(tmp_path):
    script = REPO_ROOT / "benchmarks/gpu.sh"
    usage = subprocess.run(["bash", str(script)], capture_output=True, text=True)
    assert usage.returncode != 0 and "usage: benchmarks/gpu.sh OUT_DIR" in usage.stderr
    unknown = subprocess.run(
        ["bash", str(script), str(tmp_path / "out"), "pipeline", "pipelines"], capture_output=True, text=True
    )
    assert unknown.returncode == 2 and "error: unknown run 'pipelines'" in unknown.stderr
    assert "speed-compiled" in unknown.stderr and not (tmp_path / "out").exists()
    out = tmp_path / "out"
    bad_wheels = subprocess.run(
        ["bash", str(script), str(out)], env={**os.environ, "WHEELS": str(tmp_path)}, capture_output=True, text=True
    )
    assert bad_wheels.returncode == 2
    assert f"error: could not install the wheels in {tmp_path}" in bad_wheels.stderr
    assert "== pipeline" not in bad_wheels.stdout and list(out.iterdir()) == []


def results_table(path, dialogues: int, row) -> object:
    """A results table in the published layout: three rows a dialogue, `row(dialogue, reference)` each."""
    lines = ["human_baseline_summaries,original_model_summaries,peft_model_summaries"]
    lines += [row(dialogue, reference) for dialogue in range(dialogues) for reference in range(3)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_rouge_benchmark_times_both_tokenizers_on_a_results_table(tmp_path):
    table = results_table(
        tmp_path / "results.csv",
        2,
        lambda dialogue, reference: (
            f"Person{reference} is running late again.,#Person1# calls {dialogue} times.,"
            f"The meetings were cancelled by {dialogue}."
        ),
    )
    command = [sys.executable, "-m", "benchmarks.rouge", "--csv", str(table), "--repeats", "1"]
    run = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["original_model_summaries", "peft_model_summaries"]
    assert all("2 dialogues, 6 references" in line and "every score identical" in line for line in lines)
    missing = subprocess.run(
        [*command[:3], "--csv", str(tmp_path / "none.csv")], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert missing.returncode == 2 and "none.csv not found" in missing.stderr


def test_analysis_benchmark_prints_what_intervals_comparison_and_topics_add(tmp_path):
    table = results_table(
        tmp_path / "results.csv",
        4,
        lambda dialogue, reference: (
            f"Person{reference} is late.,#Person1# calls {dialogue} times.,Person{dialogue} is late again."
        ),
    )
    command = [sys.executable, "benchmarks/analysis.py", "--csv", str(table), "--repeats", "1", "--resamples", "50"]
    run = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "4 dialogues x 3 references, 50 resamples" in run.stdout
    before = float(run.stdout.split("(before):")[1].split()[0])
    after = float(run.stdout.split("(after):")[1].split()[0])
    added = float(run.stdout.split("added to evaluate:")[1].split()[0])
    assert before >= 0 and after >= 0 and added == pytest.approx(after - before, abs=0.002)  # figures, not limits


STUB_PYTHON = """#!/bin/sh
# Stands in for python in gpu.sh: `python -` prints versions; `python -m benchmarks.X ... --json FILE`
# writes FILE with its arguments, and the throughput run fails.
if [ "$1" = "-" ]; then cat > /dev/null; echo "stub versions"; exit 0; fi
if [ "$1" = "-c" ]; then exec python3 "$@"; fi  # gpu.sh's machine.json
json=""; previous=""
for argument in "$@"; do [ "$previous" = "--json" ] && json=$argument; previous=$argument; done
echo "ran: $*"
[ -n "$json" ] && printf '{"arguments": "%s"}' "$*" > "$json"
case "$*" in *benchmarks.throughput*) exit 1 ;; esac
"""


def test_gpu_script_runs_each_benchmark_into_the_out_folder_and_reports_failures(tmp_path):
    stub = tmp_path / "bin/python"
    stub.parent.mkdir()
    stub.write_text(STUB_PYTHON)
    stub.chmod(0o755)
    environment = {
        **os.environ,
        "PATH": f"{stub.parent}{os.pathsep}{os.environ['PATH']}",
        "MODEL": "tiny",
        "COMMIT": "abc123",
    }
    environment.pop("FAST", None)
    script = str(REPO_ROOT / "benchmarks/gpu.sh")

    # By default, what the GPU issue asks for, most important first, then the summary of it.
    issue = subprocess.run(["bash", script, "out"], cwd=tmp_path, env=environment, capture_output=True, text=True)
    assert issue.returncode == 0, issue.stderr
    runs = [
        "speed-eager",
        "speed-compiled",
        "losses-eager",
        "losses-fast",
        "repro-fast",
        "speed-bf16",
        "speed-bucketed",
        "speed-graphs",
        "repro",
    ]
    out = tmp_path / "out"  # relative to where the script was called, not the repository
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["machine.txt", "machine.json", *(f"{name}.{kind}" for name in runs for kind in ("json", "log"))]
    )
    assert [
        line.split(":")[0].removeprefix("== ")
        for line in issue.stdout.splitlines()
        if line.startswith("== ") and ": exit 0 after" in line
    ] == runs
    assert f"ran: -m benchmarks.speed_report {out}" in issue.stdout  # after the runs
    arguments = {name: json.loads((out / f"{name}.json").read_text())["arguments"] for name in runs}
    fast = "--set train.frozen_dtype=bfloat16 --set train.pad_to_multiple_of=64 --set train.torch_compile=true"
    assert "--stages prepare finetune --train-steps 150 --profile 5 --json" in arguments["speed-eager"]
    assert f"--profile 5 {fast} --json" in arguments["speed-compiled"]
    assert "--train-steps 100 --no-dropout --set train.logging_steps=1" in arguments["losses-eager"]
    assert fast in arguments["losses-fast"] and "--no-dropout" in arguments["losses-fast"]
    assert f"--whole {fast} --json" in arguments["repro-fast"] and "--whole --json" in arguments["repro"]
    assert f"{fast} --set train.torch_compile_mode=reduce-overhead" in arguments["speed-graphs"]
    assert json.loads((out / "machine.json").read_text())["commit"] == "abc123"
    assert (out / "machine.txt").read_text().splitlines()[-1] == "stub versions"

    # The earlier comparisons by name; a run that fails does not stop the next.
    every = subprocess.run(
        ["bash", script, "every", "pipeline", "throughput", "pipeline-compiled", "methods"],
        cwd=tmp_path,
        env={**environment, "FAST": "train.torch_compile=true"},
        capture_output=True,
        text=True,
    )
    assert every.returncode == 1, every.stderr  # the throughput run failed; the next one still ran
    assert "== throughput: exit 1" in every.stdout and "== pipeline-compiled: exit 0" in every.stdout
    assert "== methods: exit 0" in every.stdout and "speed_report" not in every.stdout  # nothing of speed to sum up
    out = tmp_path / "every"
    assert sorted(p.name for p in out.iterdir()) == [
        "machine.json",
        "machine.txt",
        "methods.json",
        "methods.log",
        "pipeline-compiled.json",
        "pipeline-compiled.log",
        "pipeline.json",
        "pipeline.log",
        "throughput.json",
        "throughput.log",
    ]
    arguments = {
        name: json.loads((out / f"{name}.json").read_text())["arguments"]
        for name in ("pipeline", "throughput", "pipeline-compiled", "methods")
    }
    assert arguments["pipeline"].startswith("-m benchmarks.pipeline --model tiny --json")
    assert "--train-batch-size 8 64 --compile --gen-batch-size 64 256" in arguments["throughput"]
    assert "--set train.torch_compile=true" in arguments["pipeline-compiled"]
    assert arguments["methods"].startswith("-m benchmarks.methods --model tiny --batch-size 8")
    assert json.loads((out / "machine.json").read_text())["fast"] == "train.torch_compile=true"

    # A copy without git's history (as a device machine may get it): the commit is unknown, the file still JSON.
    copy = tmp_path / "copy/benchmarks/gpu.sh"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(Path(script).read_bytes())
    bare = {key: value for key, value in environment.items() if key != "COMMIT"}
    untracked = subprocess.run(
        ["bash", str(copy), str(tmp_path / "bare"), "speed-eager"],
        cwd=tmp_path,
        env=bare,
        capture_output=True,
        text=True,
    )
    assert untracked.returncode == 0, untracked.stderr
    assert json.loads((tmp_path / "bare/machine.json").read_text())["commit"] == "unknown"

    # FAST is split on spaces and never globbed; a blank one sets nothing.
    for fast, expected in (
        ("train.torch_compile=true  *", "--profile 5 --set train.torch_compile=true --set * --json"),
        (" ", "--profile 5 --json"),
    ):
        one = subprocess.run(
            ["bash", script, "one", "speed-compiled"],
            cwd=tmp_path,
            env={**environment, "FAST": fast},
            capture_output=True,
            text=True,
        )
        assert one.returncode == 0, one.stderr
        assert sorted(p.name for p in (tmp_path / "one").iterdir()) == [
            "machine.json",
            "machine.txt",
            "speed-compiled.json",
            "speed-compiled.log",
        ]
        assert expected in json.loads((tmp_path / "one/speed-compiled.json").read_text())["arguments"]


def pipeline_benchmark(tmp_path, name: str, *arguments: str) -> dict:
    """benchmarks.pipeline on the tiny model and 200 training dialogues, in tmp_path/name; its JSON."""
    report = tmp_path / f"{name}.json"
    command = [
        sys.executable,
        "-m",
        "benchmarks.pipeline",
        "--model",
        "tiny",
        "--train-dialogues",
        "200",
        "--validation-dialogues",
        "8",
        "--test-dialogues",
        "8",
        *arguments,
        "--json",
        str(report),
        "--dir",
        str(tmp_path / name),
    ]
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    run = subprocess.run(command, cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return json.loads(report.read_text())


def test_speed_runs_profile_the_stage_compare_losses_step_by_step_and_sum_up_in_one_results_file(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    # One run with the options of gpu.sh's speed- runs (timed steps, then profiled ones) and of its losses-
    # runs (no dropout, every step's loss logged, no validation ROUGE): each option is the same code either way.
    eager = pipeline_benchmark(
        tmp_path,
        "losses-eager",
        *("--stages", "prepare", "finetune", "--train-steps", "12", "--profile", "2", "--no-dropout"),
        *("--set", "train.logging_steps=1", "--set", "train.validation_rouge_dialogues=0"),
    )
    speed = json.loads(json.dumps(eager))  # its own copy: eager's losses are rewritten below
    whole = pipeline_benchmark(tmp_path, "repro", "--whole")
    # A losses- run of another setting, for the report: losses-eager's own with that setting's override and
    # each loss moved by fp32 rounding. (That padding moves no loss beyond it is test_training_speed.py's,
    # in one process.)
    padded = json.loads(json.dumps(eager))
    padded["settings"]["overrides"]["train.pad_to_multiple_of"] = 64
    padded["train_losses"] = [[step, loss * (1 + 1e-7)] for step, loss in eager["train_losses"]]

    # Only the stages named ran; the profiled steps came after the 12 timed ones.
    assert list(speed["measured_seconds"]) == ["prepare", "finetune"] and "baseline" not in speed["timing"]
    assert speed["timing"]["finetune"]["steps"] == 14 and speed["profile"]["profiled_steps"] == [13, 14]
    assert speed["profile"]["cpu_operators_per_step"] > 0 and speed["profile"]["wall_ms_per_step"] > 0
    assert speed["profile"]["kernels_per_step"] == 0  # no GPU here
    # Without dropout, anywhere; every step's loss logged; each --set in its params.yaml.
    config = json.loads((tmp_path / "losses-eager/models/tiny-t5/config.json").read_text())
    params = yaml.safe_load((tmp_path / "losses-eager/params.yaml").read_text())
    assert config["dropout_rate"] == 0.0 and params["lora"]["dropout"] == 0.0
    assert (params["train"]["logging_steps"], params["train"]["validation_rouge_dialogues"]) == (1, 0)
    assert eager["settings"]["overrides"]["train.logging_steps"] == 1
    assert [step for step, _ in eager["train_losses"]] == list(range(1, 15)) and not eager["settings"]["dropout"]
    # A run cut short is projected to the whole epoch at its steady speed, and still validated once, after
    # its last step; the stages it skipped are not.
    finetune, measured, projected = eager["timing"]["finetune"], eager["measured_seconds"], eager["projected_seconds"]
    assert finetune["steps"] == 14 and eager["settings"]["full_steps"] == 25  # 200 dialogues / batch 8
    steps_per_second = finetune["steady_samples_per_second"] / 8
    assert projected["finetune"] == pytest.approx(measured["finetune"] + (25 - 14) / steps_per_second)
    assert projected["prepare"] == measured["prepare"] and list(projected) == ["prepare", "finetune"]
    assert eager["projected_total_seconds"] == pytest.approx(sum(projected.values()))
    curve = (tmp_path / "losses-eager/reports/train/plots/metrics/eval/loss.tsv").read_text().splitlines()
    assert [row.split("\t")[0] for row in curve[1:]] == ["14"]
    # --whole runs every stage and trains every step: nothing projected.
    assert list(whole["measured_seconds"]) == ["prepare", "baseline", "finetune", "evaluate"]
    assert whole["timing"]["baseline"]["dialogues_per_second"] > 0
    assert whole["settings"]["train_steps"] == whole["settings"]["full_steps"] == 25
    assert whole["projected_seconds"] == whole["measured_seconds"] and whole["timing"]["finetune"]["steps"] == 25

    for name, figures in (("speed-eager", speed), ("losses-eager", eager), ("repro", whole)):
        (out / f"{name}.json").write_text(json.dumps(figures))
    # 50 steps are compared: the 14 logged here are too few for the report, which says so.
    (out / "losses-padded.json").write_text(json.dumps(padded))
    short = subprocess.run(
        [sys.executable, "-m", "benchmarks.speed_report", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert short.returncode == 2 and "logged 14 common steps of the first 50" in short.stderr
    assert "Traceback" not in short.stderr
    for figures in (eager, padded):  # the same 14 steps again, as if 50 had run
        figures["train_losses"] = [
            [step + 14 * repeat, loss] for repeat in range(4) for step, loss in figures["train_losses"]
        ]
    (out / "losses-eager.json").write_text(json.dumps(eager))
    (out / "losses-padded.json").write_text(json.dumps(padded))
    (out / "machine.json").write_text(json.dumps({"date": "2026-12-03", "commit": "abc123"}))
    report = subprocess.run(
        [sys.executable, "-m", "benchmarks.speed_report", str(out), "--results-dir", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert report.returncode == 0, report.stderr
    [results_file] = [path for path in tmp_path.glob("*-2026-12-03.json")]
    results = json.loads(results_file.read_text())
    assert results["commit"] == "abc123" and results["device"] == speed["machine"]["device_name"]
    assert results["train_batch_size"] == 8
    assert results["train_samples_per_second"] == whole["timing"]["finetune"]["steady_samples_per_second"]
    assert results["repro_seconds"] == pytest.approx(whole["measured_total_seconds"], abs=0.06)
    generation = {stage: whole["timing"][stage]["wall_seconds"] for stage in ("baseline", "evaluate")}
    assert (
        results["repro"]["repro"]["generate_seconds"] == generation and results["repro"]["repro"]["test_dialogues"] == 8
    )
    assert results["generate_500_seconds"] is None  # 8 test dialogues here, not DialogSum's 500
    assert results["repro"]["repro"]["loss_check"] == "committed params" and results["settings"] == {}
    assert (
        results["losses"]["losses-padded"]["within_bf16_tolerance"]
        and results["losses"]["losses-padded"]["steps"] == 50
    )
    assert results["speed"]["speed-eager"]["profile"] == speed["profile"]
    assert "losses-padded" in report.stdout and "whole pipeline" in report.stdout


def test_speed_report_refuses_what_it_cannot_sum_up_in_one_line(tmp_path):
    command = [sys.executable, "-m", "benchmarks.speed_report", str(tmp_path)]

    def report(files: dict[str, dict]) -> subprocess.CompletedProcess:
        for path in tmp_path.glob("*.json"):
            path.unlink()
        for name, figures in files.items():
            (tmp_path / f"{name}.json").write_text(json.dumps(figures))
        run = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
        assert run.returncode == 2 and run.stderr.startswith("error: ") and "Traceback" not in run.stderr, run.stderr
        return run

    assert "holds no speed-*, losses-* or repro*" in report({}).stderr
    finetune = {
        "steps": 100,
        "samples_per_second": 50.0,
        "steady_samples_per_second": 52.0,
        "steady_steps": 50,
        "peak_memory_mib": 4000.0,
    }
    run = {
        "machine": {"device_name": "NVIDIA H200", "torch": "2.13.0"},
        "settings": {
            "train_steps": 100,
            "full_steps": 1558,
            "overrides": {},
            "train_batch_size": 8,
            "dialogues": {"train": 12460, "validation": 500, "test": 500},
        },
        "measured_seconds": {"prepare": 1.0, "baseline": 2.0, "finetune": 3.0, "evaluate": 4.0},
        "measured_total_seconds": 10.0,
        "timing": {"finetune": finetune, "baseline": {"wall_seconds": 2.0}, "evaluate": {"wall_seconds": 2.0}},
    }
    # A whole run that trained 100 of its 1,558 steps (projected, or train.max_steps set).
    assert "trained 100 of 1558 steps" in report({"repro": run}).stderr
    # A speed run that did not reach finetune; a loss of 0; loss runs without the eager one to compare with.
    assert "missing key timing.finetune" in report({"speed-eager": {**run, "timing": {}}}).stderr
    zero = report({"losses-eager": {**run, "train_losses": [[1, 0.0]]}, "losses-fast": run}).stderr
    assert "losses-eager logged a training loss of 0.0 at step 1" in zero
    assert "no losses-eager.json" in report({"losses-fast": run}).stderr
    assert not list(tmp_path.glob("nvidia-*.json"))
