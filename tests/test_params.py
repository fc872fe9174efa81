"""params.yaml: one typed schema per section, each key with its type, bounds and help; every mistake
one line naming the key, the value and what is allowed; read as DVC reads it; set by key with
its comments kept."""

import copy
import importlib

import pytest
import yaml
from conftest import REPO_ROOT
from pydantic import create_model

from dialogsum_lora.errors import UserError
from dialogsum_lora.params import (
    METHODS,
    SECTIONS,
    Method,
    Processes,
    Seed,
    StageParams,
    load_params,
    set_key,
    set_params,
)

STAGES = ("prepare", "baseline", "finetune", "evaluate")
SCALARS = {"seed": Seed, "processes": Processes, "method": Method}  # the top-level keys that are no section


def section_schemas() -> dict[str, type]:
    """Each section of params.yaml that is a mapping, and its schema (params/<section>.py; the method sections'
    in params/methods.py)."""
    from dialogsum_lora.params import methods

    schemas = {}
    for section in SECTIONS:
        if section in SCALARS:
            continue
        if section in METHODS:
            schemas[section] = {"lora": methods.LoraParams, "ia3": methods.IA3Params, "full": methods.FullParams}[
                section
            ]
            continue
        module = importlib.import_module(f"dialogsum_lora.params.{section}")
        (schema,) = [
            value
            for name, value in vars(module).items()
            if name.endswith("Params") and value.__module__ == module.__name__
        ]
        schemas[section] = schema
    return schemas


# Every section, as no stage reads them: to check the committed params.yaml whole.
Everything = create_model(
    "Everything",
    __base__=StageParams,
    **{key: (kind, ...) for key, kind in SCALARS.items()},
    **{section: (schema, ...) for section, schema in section_schemas().items()},
)


def write(tmp_path, raw):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture
def raw():
    return yaml.safe_load((REPO_ROOT / "params.yaml").read_text())


def test_the_committed_params_are_valid_and_every_key_has_its_help():
    params = load_params(Everything, REPO_ROOT / "params.yaml")
    assert list(yaml.safe_load((REPO_ROOT / "params.yaml").read_text())) == list(SECTIONS)
    for section, schema in section_schemas().items():
        assert getattr(params, section) is not None
        for key, field in schema.model_fields.items():
            assert field.description and field.description.strip(), f"{section}.{key}"


def test_every_section_is_read_by_a_stage_so_every_mistake_is_met():
    read = {name for stage in STAGES for name in importlib.import_module(f"stages.{stage}").Reads.model_fields}
    assert read == set(SECTIONS)


def test_every_number_has_finite_bounds_that_nan_and_infinities_are_outside():
    for section, schema in section_schemas().items():
        for key, field in schema.model_fields.items():
            if field.annotation in (int, float, int | None, float | None):
                sides = {type(constraint).__name__ for constraint in field.metadata}
                assert sides & {"Ge", "Gt"} and sides & {"Le", "Lt"}, f"{section}.{key}"


def test_set_params_changes_the_values_and_keeps_the_comments(tmp_path):
    path = tmp_path / "params.yaml"
    original = (REPO_ROOT / "params.yaml").read_text()
    path.write_text(original)
    set_params(
        path, {"lora.r": 8, "lora.target_modules": ["q", "k"], "model.revision": None, "data.source": "data/sample"}
    )
    params = load_params(Everything, path)
    assert (params.lora.r, params.lora.target_modules, params.data.source) == (8, ["q", "k"], "data/sample")
    written = path.read_text()
    comments = [line.split("#", 1)[1] for line in original.splitlines() if "#" in line and "{dialogue}" not in line]
    assert all(comment in written for comment in comments)
    assert "target_modules: [q, k]" in written and "revision: null" in written
    set_params(path, {"train.optim": "adafactor"})  # a key the section lacks is added, as `dvc exp run -S` does
    assert load_params(Everything, path).train.optim == "adafactor"
    with pytest.raises(KeyError, match="lorra"):
        set_params(path, {"lorra.r": 8})


def _with(raw, dotted, value):
    changed = copy.deepcopy(raw)
    set_key(changed, dotted, value)
    return changed


def refused(tmp_path, raw) -> str:
    with pytest.raises(UserError) as error:
        load_params(Everything, write(tmp_path, raw))
    message = str(error.value)
    assert "\n" not in message and message.startswith(str(tmp_path / "params.yaml"))
    return message


@pytest.mark.parametrize(
    "dotted, value, facts",
    [
        # (the key, the value as written, what is allowed)
        ("lora.r", 0, ("lora.r", "0", "greater than or equal to 1")),
        ("lora.r", "8", ("lora.r", "'8'", "int")),
        ("lora.r", True, ("lora.r", "True", "int")),
        ("lora.r", 10**30, ("lora.r", str(10**30), "less than or equal to 1024")),
        ("lora.dropout", 1.0, ("lora.dropout", "1.0", "less than 1")),
        ("lora.alpha", float("nan"), ("lora.alpha", "nan", "finite")),
        ("lora.target_modules", "q", ("lora.target_modules", "'q'", "list")),
        ("lora.target_modules", [], ("lora.target_modules", "[]", "at least 1 item")),
        ("lora.target_modules", ["q", " "], ("lora.target_modules[1]", "empty")),
        ("ia3.target_modules", None, ("ia3.feedforward_modules", "both be null")),  # feedforward_modules: [wo]
        ("train.batch_size", 0, ("train.batch_size", "0", "greater than or equal to 1")),
        ("train.validation_steps", 0, ("train.validation_steps", "0", "greater than or equal to 1")),
        ("train.keep", "best", ("train.keep", "'best'", "'best_rouge1'", "'lowest_loss'")),
        ("generate.max_new_tokens", 0, ("generate.max_new_tokens", "0", "greater than or equal to 1")),
        ("generate.num_beams", 10**6, ("generate.num_beams", "1000000", "less than or equal to 64")),
        ("prompt.max_source_tokens", 2**31, ("prompt.max_source_tokens", "2147483648", "less than or equal to 8192")),
        ("baseline.shots", -1, ("baseline.shots", "-1", "greater than or equal to 0")),
        ("baseline.shots", 65, ("baseline.shots", "65", "less than or equal to 64")),
        ("baseline.shots", 1.5, ("baseline.shots", "1.5", "int")),
        ("baseline.shots", True, ("baseline.shots", "True", "int")),
        ("baseline.shots", float("nan"), ("baseline.shots", "nan", "int")),
        ("seed", -1, ("seed", "-1", "greater than or equal to 0")),
        ("processes", 0, ("processes", "0", "greater than or equal to 1")),
        ("prompt.template", "Summarise: {text}", ("prompt.template", "{text}", "{dialogue}")),
        ("prompt.template", "Summarise.", ("prompt.template", "'Summarise.'", "{dialogue}")),
        ("prompt.template", "{{dialogue}} is escaped", ("prompt.template", "{dialogue}")),
        ("prompt.template", "{dialogue} {other}", ("prompt.template", "{other}")),
        ("prompt.template", "{dialogue!r}", ("prompt.template", "{dialogue!r}")),
        ("prompt.template", "{dialogue:>80}", ("prompt.template", "{dialogue:>80}")),
        ("prompt.template", "{dialogue.upper}", ("prompt.template", "{dialogue.upper}")),
        ("prompt.template", "{dialogue[0]}", ("prompt.template", "{dialogue[0]}")),
        ("prompt.template", "{}", ("prompt.template", "{}")),
        ("prompt.template", "{dialogue} {", ("prompt.template", "brace")),
        ("model.name", None, ("model.name", "None", "str")),
        ("data.source", "", ("data.source", "empty")),
        ("data.splits", {"train": "tr", "validation": "dev"}, ("missing key data.splits.test",)),
        ("data.columns", {"id": "i", "dialogue": "d", "summary": [], "topic": None}, ("data.columns.summary", "[]")),
        ("data.columns", {"id": "i", "dialogue": "d", "summary": 5, "topic": None}, ("data.columns.summary", "5")),
        (
            "data.columns",
            {"id": "i", "dialog": "d", "summary": "s", "topic": None},
            ("unknown key data.columns.dialog",),
        ),
    ],
)
def test_a_bad_value_is_one_line_naming_the_key_the_value_and_what_is_allowed(tmp_path, raw, dotted, value, facts):
    message = refused(tmp_path, _with(raw, dotted, value))
    for fact in facts:
        assert fact in message, (fact, message)


def test_unknown_and_missing_keys_are_named_with_what_is_allowed(tmp_path, raw):
    typo = copy.deepcopy(raw)
    typo["lora"]["rank"] = typo["lora"].pop("r")
    message = refused(tmp_path, typo)
    assert "unknown key lora.rank" in message and "target_modules" in message  # what the section allows
    typo["lora"].pop("rank")
    assert "missing key lora.r" in refused(tmp_path, typo)
    message = refused(tmp_path, {**raw, "optimizer": {}})
    assert "optimizer" in message and "lora" in message
    assert "lora" in refused(tmp_path, {**raw, "lora": [1, 2]})


def test_an_unknown_key_inside_a_mapping_value_is_one_line():
    from dialogsum_lora.evaluation import Metrics
    from dialogsum_lora.schema import parse

    with pytest.raises(UserError) as error:
        parse(Metrics, {"ci95": {"rouge1": {"low": 0.1, "high": 0.2, "bogus": 1}}}, "scores.json")
    assert "scores.json: unknown key ci95.rouge1.bogus" in str(error.value)


def test_a_stage_checks_the_sections_it_reads_and_no_other(tmp_path, raw):
    prepare, finetune = (importlib.import_module(f"stages.{stage}").Reads for stage in ("prepare", "finetune"))
    path = write(tmp_path, _with(raw, "lora.r", 0))
    assert load_params(prepare, path).data.source == raw["data"]["source"]  # prepare reads data alone
    with pytest.raises(UserError, match="lora.r"):
        load_params(finetune, path)


def test_a_literal_brace_is_allowed_beside_the_dialogue(tmp_path, raw):
    params = load_params(
        Everything, write(tmp_path, _with(raw, "prompt.template", "Summarise {{briefly}}:\n{dialogue}\n{dialogue}"))
    )
    assert params.prompt.template.format(dialogue="x") == "Summarise {briefly}:\nx\nx"


def test_integers_are_accepted_where_floats_are_expected(tmp_path, raw):
    params = load_params(Everything, write(tmp_path, _with(raw, "lora.alpha", 16)))
    assert params.lora.alpha == 16.0 and isinstance(params.lora.alpha, float)


@pytest.mark.parametrize(
    "settings, facts",
    [
        # A Seq2SeqTrainingArguments field the Trainer takes, by its own name: no code, no schema line.
        ({"optim": "adafactor", "lr_scheduler_type": "cosine", "warmup_steps": 10, "gradient_checkpointing": True}, ()),
        # The Trainer's types, and its own checks of the values.
        ({"optim": "adamx"}, ("params.yaml", "train.optim", "'adamx'", "adafactor")),
        ({"lr_scheduler_type": "cosinus"}, ("train.lr_scheduler_type", "'cosinus'", "cosine")),
        ({"warmup_steps": "ten"}, ("train.warmup_steps", "'ten'", "number")),
        ({"weight_decay": float("nan")}, ("train.weight_decay", "nan")),
        ({"learning_rate": float("inf")}, ("train.learning_rate", "inf")),
        ({"adam_beta1": float("nan")}, ("train.adam_beta1", "nan", "finite")),
        # Bounds where a value would train nothing or fail after the model loads.
        ({"learning_rate": 0}, ("train.learning_rate", "0", "greater than 0")),
        ({"num_train_epochs": 0}, ("train.num_train_epochs", "0", "greater than 0")),
        ({"gradient_accumulation_steps": 0}, ("train.gradient_accumulation_steps", "0", "greater than or equal to 1")),
        ({"save_steps": 0}, ("train.save_steps", "0", "greater than 0")),
        # A compile setting that would compile with torch_compile false.
        ({"torch_compile_mode": "reduce-overhead"}, ("train.torch_compile_mode", "train.torch_compile is false")),
        ({"torch_compile": "no"}, ("train.torch_compile", "'no'", "bool")),
        # What the stage sets itself is refused, with where the setting lives.
        ({"seed": 7}, ("train.seed", "params.yaml seed")),
        ({"output_dir": "elsewhere"}, ("train.output_dir", "dvc.yaml")),
        ({"per_device_train_batch_size": 4}, ("train.per_device_train_batch_size", "train.batch_size")),
        ({"eval_steps": 10}, ("train.eval_steps", "train.validation_steps")),
        ({"load_best_model_at_end": True}, ("train.load_best_model_at_end", "train.keep")),
        ({"fp16": True}, ("train.fp16", "fp16")),
        ({"lerning_rate": 0.1}, ("train.lerning_rate", "Seq2SeqTrainingArguments", "batch_size")),
    ],
)
def test_trainer_fields_pass_through_checked_by_the_trainers_own_types(raw, settings, facts):
    from dialogsum_lora.params.train import TrainParams, check_trainer_settings

    train = TrainParams(**{**raw["train"], **settings})
    if not facts:
        check_trainer_settings(train)
        assert train.trainer_settings().items() >= settings.items()
        return
    with pytest.raises(UserError) as error:
        check_trainer_settings(train)
    message = str(error.value)
    assert "\n" not in message
    for fact in facts:
        assert fact in message, (fact, message)


def test_the_global_batch_must_split_evenly_across_processes(raw):
    from dialogsum_lora.params.train import TrainParams, check_batch_split

    train = TrainParams(**raw["train"])
    check_batch_split(train, 2)
    with pytest.raises(UserError) as error:
        check_batch_split(train, 3)
    assert "train.batch_size" in str(error.value) and "(8)" in str(error.value) and "(3)" in str(error.value)
    # Accumulated steps share it too: 8 = 2 processes x 2 steps x 2 examples, but not x 3 steps.
    check_batch_split(TrainParams(**{**raw["train"], "gradient_accumulation_steps": 2}), 2)
    with pytest.raises(UserError) as error:
        check_batch_split(TrainParams(**{**raw["train"], "gradient_accumulation_steps": 3}), 2)
    assert "train.gradient_accumulation_steps (3)" in str(error.value)


def test_only_inductor_needs_the_c_compiler_check(raw):
    from dialogsum_lora.params.train import TrainParams

    cases = {
        (): False,
        (("torch_compile", False),): False,
        (("torch_compile", True),): True,
        (("torch_compile_mode", "reduce-overhead"),): True,
        (("torch_compile", True), ("torch_compile_backend", "inductor")): True,
        (("torch_compile", True), ("torch_compile_backend", "aot_eager")): False,
    }
    for settings, inductor in cases.items():
        train = {key: value for key, value in raw["train"].items() if not key.startswith("torch_compile")}
        assert TrainParams(**train, **dict(settings)).compiles_with_inductor() is inductor, settings


def test_every_field_the_stage_owns_is_one_of_the_trainers():
    import dataclasses

    from transformers import Seq2SeqTrainingArguments

    from dialogsum_lora.params.train import BOUNDS, OWNER

    fields = {field.name for field in dataclasses.fields(Seq2SeqTrainingArguments)}
    assert set(OWNER) - fields == set() and set(BOUNDS) - fields == set()  # a transformers upgrade shows here


def test_a_combination_the_trainers_own_checks_refuse_is_one_line_naming_the_key(raw, tmp_path):
    import torch

    from dialogsum_lora.params.train import TrainParams
    from dialogsum_lora.training.trainer import make_trainer

    train = TrainParams(**{**raw["train"], "dataloader_prefetch_factor": 2})  # without dataloader workers
    with pytest.raises(UserError) as error:
        make_trainer(None, None, train, 42, torch.float32, [{}] * 8, [], tmp_path, [])
    assert str(error.value).startswith("params.yaml: the Trainer refuses train.dataloader_prefetch_factor: ")


def test_the_adapter_kept_by_validation_rouge_needs_validation_rouge(raw):
    from dialogsum_lora.params.train import TrainParams

    TrainParams(**{**raw["train"], "keep": "lowest_loss", "validation_rouge_dialogues": 0}).check()
    with pytest.raises(UserError) as error:
        TrainParams(**{**raw["train"], "keep": "best_rouge1", "validation_rouge_dialogues": 0}).check()
    assert "train.keep is best_rouge1" in str(error.value) and "validation_rouge_dialogues is 0" in str(error.value)


@pytest.mark.parametrize(
    "replace, fact",
    [
        (("learning_rate: 0.001", "learning_rate: 1e-3"), None),  # a number in YAML 1.2, as DVC reads it
        (("seed: 42", "seed: 042"), None),  # 42, not octal 34: what dvc.lock records
        (("keep: last", "keep: no"), "train.keep"),
        (("seed: 42", "seed: 42\nseed: 7"), "DuplicateKeyError"),
    ],
)
def test_params_yaml_is_read_as_dvc_reads_it(tmp_path, replace, fact):
    text = (REPO_ROOT / "params.yaml").read_text()
    assert replace[0] in text
    (tmp_path / "params.yaml").write_text(text.replace(replace[0], replace[1], 1))
    if fact is None:
        params = load_params(Everything, tmp_path / "params.yaml")
        assert params.train.learning_rate == 0.001 and params.seed == 42
    else:
        with pytest.raises(UserError) as error:
            load_params(Everything, tmp_path / "params.yaml")
        assert fact in str(error.value) and "params.yaml" in str(error.value)


@pytest.mark.parametrize("content", [b"seed: 42\n\xff\xfe\n", b"- a list\n", b""])
def test_params_yaml_that_is_not_utf8_or_not_a_mapping_is_refused_at_once(tmp_path, content):
    path = tmp_path / "params.yaml"
    path.write_bytes(content)
    with pytest.raises(UserError) as error:
        load_params(Everything, path)
    assert str(path) in str(error.value)
