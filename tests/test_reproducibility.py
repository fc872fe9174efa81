"""Reruns are minimal, compiled training learns as eager training does, and results carry
their provenance: all on the tiny offline run. (Byte-identical reruns from a plain shell,
the run cache, sharing and comparing: test_readme.py, through the README's own recipes.)"""

import json

import pytest
import yaml
from conftest import dvc, stages_run
from test_stages import run_main, stage_dir  # noqa: F401 (a fixture)

from dialogsum_lora.commands.demo import TINY_MODEL_DIR
from dialogsum_lora.params import set_params
from dialogsum_lora.provenance import directory_hash

pytestmark = pytest.mark.slow


BASELINE_AND_EVALUATE, FINETUNE_AND_EVALUATE = {"baseline", "evaluate"}, {"finetune", "evaluate"}
ALL_THREE = {"baseline", "finetune", "evaluate"}

# The rerun matrix (../shared/docs/design.md): a change, and exactly the stages `dvc repro` reruns.
# A dict sets params; a string edits that file of the library (a comment appended: DVC hashes bytes).
RERUN_MATRIX = [
    ({"generate.max_new_tokens": 40}, BASELINE_AND_EVALUATE),
    ({"generate.num_beams": 2}, BASELINE_AND_EVALUATE),
    ({"analysis.resamples": 500}, BASELINE_AND_EVALUATE),  # the intervals of both
    ({"analysis.min_topic_dialogues": 2}, {"evaluate"}),  # the topics, evaluate's alone
    ({"baseline.shots": 2}, BASELINE_AND_EVALUATE),  # the baseline compared with, which the report names
    ({"lora.r": 8}, FINETUNE_AND_EVALUATE),
    ({"method": "ia3"}, FINETUNE_AND_EVALUATE),
    ({"method": "full"}, FINETUNE_AND_EVALUATE),
    # Another method's section retrains too: DVC's params are fixed per stage (README: the pipeline).
    ({"ia3.feedforward_modules": []}, FINETUNE_AND_EVALUATE),
    ({"full.learning_rate": 0.0001}, FINETUNE_AND_EVALUATE),
    ({"train.learning_rate": 0.02}, FINETUNE_AND_EVALUATE),
    ({"train.lr_scheduler_type": "cosine"}, FINETUNE_AND_EVALUATE),  # a Trainer field params.yaml passes through
    ({"train.validation_batch_size": 2}, FINETUNE_AND_EVALUATE),
    ({"train.keep": "lowest_loss"}, FINETUNE_AND_EVALUATE),
    ({"train.dialogues": 16}, FINETUNE_AND_EVALUATE),
    ({"train.pad_to_multiple_of": 64}, FINETUNE_AND_EVALUATE),  # dropout's masks are drawn for the padded shape
    ({"prompt.max_target_tokens": 64}, FINETUNE_AND_EVALUATE),
    ({"prompt.template": "Dialogue:\n{dialogue}\nWhat happened?"}, ALL_THREE),
    ({"prompt.max_source_tokens": 256}, ALL_THREE),
    ({"seed": 7}, FINETUNE_AND_EVALUATE),  # a seed sweep keeps one baseline: it has its own seed
    ({"baseline.seed": 7}, BASELINE_AND_EVALUATE),  # the shots and the baseline's intervals
    ({"model.name": "models/tiny-t5/."}, ALL_THREE),
    ({}, set()),
    # The wording of what people read: the stages that write it, never finetune.
    ("results/report.py", {"evaluate"}),
    ("results/plots.py", {"evaluate"}),
    ("results/cards.py", {"evaluate"}),
    ("results/run.py", {"evaluate"}),
    ("results/text.py", BASELINE_AND_EVALUATE),  # the console lines and p-values of both
    # A new decoding setting is its schema's line: no retraining.
    ("params/generate.py", BASELINE_AND_EVALUATE),
    ("params/analysis.py", BASELINE_AND_EVALUATE),
    ("params/methods.py", FINETUNE_AND_EVALUATE),  # the methods' schemas: what trains, and what evaluate loads
    ("generation.py", ALL_THREE),  # how summaries are made, validation ROUGE's too
    ("subsets.py", ALL_THREE),  # the seeded subsets: the shots, the training and validation dialogues
    # What computes what finetune writes retrains, and so does the ROUGE its validation curve is.
    ("training/trainer.py", FINETUNE_AND_EVALUATE),
    ("scoring/rouge.py", {"prepare", *ALL_THREE}),  # prepare refuses a summary ROUGE cannot score
]


def downstream(stages: set[str], pipeline: dict) -> set[str]:
    """`stages` and every stage that reads an output of one of them, transitively: what `dvc repro`
    runs once those have run (each writes new outputs)."""
    outputs = {
        name: [
            next(iter(out)) if isinstance(out, dict) else out
            for key in ("outs", "metrics", "plots")
            for out in spec.get(key, [])
        ]
        for name, spec in pipeline.items()
    }
    reruns = set(stages)
    while True:
        more = {
            name
            for name, spec in pipeline.items()
            if name not in reruns
            and any(
                str(dep).split("#")[0].strip() == out or str(dep).startswith(f"{out}/")
                for dep in spec.get("deps", [])
                for upstream in reruns
                for out in outputs[upstream]
            )
        }
        if not more:
            return reruns
        reruns |= more


@pytest.fixture(scope="module")
def matrix_workspace(reproduced, tmp_path_factory):
    """One copy of the reproduced demo for the whole matrix: each case changes it, then git restores it."""
    import shutil

    directory = tmp_path_factory.mktemp("matrix") / "repo"
    shutil.copytree(reproduced[0], directory, symlinks=True)
    return directory


@pytest.mark.parametrize(
    "change, expected", RERUN_MATRIX, ids=lambda case: str(case) if isinstance(case, (str, dict)) else ""
)
def test_the_rerun_matrix(matrix_workspace, change, expected):
    import yaml
    from dvc.repo import Repo

    from dialogsum_lora.commands.demo import git

    workspace = matrix_workspace
    try:
        if isinstance(change, str):
            with (workspace / "dialogsum_lora" / change).open("a", encoding="utf-8") as handle:
                handle.write("\n# edited: the wording, or the code, changes\n")
        elif change:
            set_params(workspace / "params.yaml", change)
        with Repo(str(workspace)) as repo:  # in-process: `dvc status --json` is this dict, after an import
            status = repo.status()
        changed = {
            stage.rsplit(":", 1)[-1]  # a stage's key is `path/dvc.yaml:name` when the cwd is elsewhere
            for stage, changes in status.items()
            if any("changed deps" in c for c in changes if isinstance(c, dict))
        }
        pipeline = yaml.safe_load((workspace / "dvc.yaml").read_text())["stages"]
        assert downstream(changed, pipeline) == expected
    finally:
        git(workspace, "checkout", "--", ".")
    with Repo(str(workspace)) as repo:
        assert repo.status() == {}  # put back: the next case starts from the committed pipeline


def test_compiled_training_learns_as_eager_training_does(stage_dir):
    # In this process (DVC adds nothing here). Every prompt and summary cut to one length, so that
    # every batch has the same shape and torch.compile compiles one training graph and one
    # validation graph, instead of compiling again as shapes change. Five epochs (20 steps),
    # trained eagerly, then compiled.
    from dialogsum_lora.commands.demo import OFFLINE_PARAMS

    set_params(
        stage_dir / "params.yaml",
        {
            **{key: OFFLINE_PARAMS[key] for key in ("lora.target_modules", "train.learning_rate")},
            "prompt.max_source_tokens": 64,
            "prompt.max_target_tokens": 16,
            "train.num_train_epochs": 5,
            "train.validation_steps": 4,
        },
    )
    run_main("finetune")
    training = json.loads((stage_dir / "models/adapter/provenance.json").read_text())["training"]
    assert training["truncated_prompts"] == training["truncated_summaries"] == 32  # all cut: one shape
    eager = json.loads((stage_dir / "reports/train/metrics.json").read_text())
    eval_curve = (stage_dir / "reports/train/plots/metrics/eval/loss.tsv").read_text().splitlines()
    first_eval_loss = float(eval_curve[1].split("\t")[1])
    # aot_eager: dynamo's graphs and AOTAutograd's backward, as inductor gets them, run by torch's own
    # kernels. Inductor's C++ code generation (two minutes here on an empty kernel cache) is torch's:
    # what this proves is that the Trainer's compiled model trains, validates and is saved through the
    # project's callbacks as the eager one is. Inductor itself runs in benchmarks/gpu.sh's compiled run.
    set_params(stage_dir / "params.yaml", {"train.torch_compile": True, "train.torch_compile_backend": "aot_eager"})
    run_main("finetune")
    compiled = json.loads((stage_dir / "reports/train/metrics.json").read_text())
    assert compiled["step"] == eager["step"] == 20
    # Compiled kernels round differently and draw other dropout masks: close, not equal.
    assert compiled["eval"]["loss"] == pytest.approx(eager["eval"]["loss"], rel=0.05)
    assert compiled["eval"]["loss"] < first_eval_loss - 0.2
    timing = json.loads((stage_dir / "reports/timing/finetune.json").read_text())
    assert timing["steps"] == eager["step"] and timing["steady_samples_per_second"] > 0


def test_comments_and_unread_files_rerun_nothing(workspace):
    params = workspace / "params.yaml"
    params.write_text("# a new comment\n" + params.read_text())
    (workspace / "README.md").write_text("edited\n")
    assert stages_run(dvc(workspace, "repro")) == set()


def test_provenance_is_recorded_but_not_compared(workspace):
    directory = workspace  # a copy: dvc runs there
    tiny_hash = directory_hash(directory / TINY_MODEL_DIR)
    adapter = json.loads((directory / "models/adapter/provenance.json").read_text())
    baseline = json.loads((directory / "reports/baseline/provenance.json").read_text())
    finetuned = json.loads((directory / "reports/finetuned/provenance.json").read_text())
    stats = json.loads((directory / "reports/data_stats.json").read_text())
    for record in (adapter, baseline, finetuned):
        assert record["model"]["resolved"] == tiny_hash
        assert {"python", "torch", "transformers", "peft", "datasets", "dvc"} <= set(record["environment"])
        assert record["environment"]["dtype"] == "float32"
    # The decoding each system was generated with is recorded beside its results; the adapter records none.
    params = yaml.safe_load((directory / "params.yaml").read_text())
    assert baseline["generate"] == finetuned["generate"] == params["generate"] and "generate" not in adapter
    assert adapter["lora"] == {**params["lora"], "alpha": float(params["lora"]["alpha"])}
    assert finetuned["adapter"]["resolved"] == directory_hash(directory / "models/adapter")
    assert stats["source"]["resolved"] == directory_hash(directory / "data/sample")
    timing = json.loads((directory / "reports/timing/finetune.json").read_text())
    assert timing["samples_per_second"] > 0 and timing["steps"] == 60
    # Wall times change every run: outside DVC, so dvc.lock stays identical.
    assert "timing" not in (directory / "dvc.lock").read_text()
    shown = json.loads(dvc(directory, "metrics", "show", "--json"))
    assert "rouge1" in json.dumps(shown) and "wall_seconds" not in json.dumps(shown)
    assert "environment" not in json.dumps(shown)
