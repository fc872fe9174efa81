"""params.yaml: typed, every number in a finite range, the template checked, and set by key
with its comments kept."""

import copy
import dataclasses
import math

import pytest
import yaml

from dialogsum_lora.errors import UserError
from dialogsum_lora.params import load_params, parse_params, set_key, set_params

from conftest import REPO_ROOT


@pytest.fixture
def raw():
    return yaml.safe_load((REPO_ROOT / "params.yaml").read_text())


def test_the_committed_params_are_valid_and_every_key_is_documented():
    params = load_params(REPO_ROOT / "params.yaml")
    sections = [params] + [getattr(params, f.name) for f in dataclasses.fields(params) if dataclasses.is_dataclass(f.type)]
    for section in sections:
        for field in dataclasses.fields(section):
            assert field.metadata["help"].strip(), field.name


def test_set_params_changes_the_values_and_keeps_the_comments(tmp_path):
    path = tmp_path / "params.yaml"
    original = (REPO_ROOT / "params.yaml").read_text()
    path.write_text(original)
    set_params(path, {"lora.r": 8, "lora.target_modules": ["q", "k"], "model.revision": None, "data.source": "data/sample"})
    params = load_params(path)
    assert (params.lora.r, params.lora.target_modules, params.data.source) == (8, ["q", "k"], "data/sample")
    written = path.read_text()
    comments = [line.split("#", 1)[1] for line in original.splitlines() if "#" in line and "{dialogue}" not in line]
    assert all(comment in written for comment in comments)
    assert "target_modules: [q, k]" in written and "revision: null" in written
    with pytest.raises(KeyError, match="lora.rank is not a params key"):
        set_params(path, {"lora.rank": 8})


def _with(raw, dotted, value):
    changed = copy.deepcopy(raw)
    set_key(changed, dotted, value)
    return changed


@pytest.mark.parametrize(
    "dotted, value, message",
    [
        ("lora.r", 0, "lora.r must be in [1, 1024], got 0"),
        ("lora.r", "8", "lora.r must be int, got '8'"),
        ("lora.r", True, "lora.r must be int, got True"),
        ("lora.r", 10**30, "lora.r must be in [1, 1024], got 1000000000000000000000000000000"),
        ("lora.dropout", 1.0, "lora.dropout must be in [0, 1), got 1.0"),
        ("lora.alpha", float("nan"), "lora.alpha must be in (0, 4096], got nan"),
        ("lora.target_modules", "q", "lora.target_modules must be a list of str"),
        ("lora.target_modules", [], "lora.target_modules must not be empty, got []"),
        ("lora.target_modules", ["q", " "], "lora.target_modules must not be empty, got ['q', ' ']"),
        ("train.learning_rate", 0, "train.learning_rate must be in (0, 1], got 0"),
        ("train.learning_rate", float("inf"), "train.learning_rate must be in (0, 1], got inf"),
        ("train.learning_rate", float("-inf"), "train.learning_rate must be in (0, 1], got -inf"),
        ("train.epochs", float("nan"), "train.epochs must be in (0, 1000], got nan"),
        ("train.batch_size", 0, "train.batch_size must be in [1, 4096], got 0"),
        ("train.max_steps", 0, "train.max_steps must be in [1, 10000000], got 0"),
        ("generate.max_new_tokens", 0, "generate.max_new_tokens must be in [1, 2048], got 0"),
        ("generate.num_beams", 10**6, "generate.num_beams must be in [1, 64], got 1000000"),
        ("prompt.max_source_tokens", 2**31, "prompt.max_source_tokens must be in [1, 8192], got 2147483648"),
        ("seed", -1, "seed must be in [0, 4294967295], got -1"),
        ("processes", 0, "processes must be in [1, 64], got 0"),
        ("prompt.template", "Summarise: {text}", "may contain only the field {dialogue}, as is"),
        ("prompt.template", "Summarise.", "prompt.template must contain {dialogue}"),
        ("prompt.template", "{{dialogue}} is escaped", "prompt.template must contain {dialogue}"),
        ("prompt.template", "{dialogue} {other}", "may contain only the field {dialogue}, as is"),
        ("prompt.template", "{dialogue!r}", "got {dialogue!r} in"),
        ("prompt.template", "{dialogue:>80}", "got {dialogue:>80} in"),
        ("prompt.template", "{dialogue.upper}", "got {dialogue.upper} in"),
        ("prompt.template", "{dialogue[0]}", "got {dialogue[0]} in"),
        ("prompt.template", "{}", "got {} in"),
        ("prompt.template", "{dialogue} {", "prompt.template is not a valid template"),
        ("model.name", None, "model.name must be str, got None"),
        ("data.source", "", "data.source must not be empty"),
    ],
)
def test_bad_values_name_the_key_and_value(raw, dotted, value, message):
    with pytest.raises(UserError, match=None) as error:
        parse_params(_with(raw, dotted, value))
    assert message in str(error.value)


def test_unknown_and_missing_keys_are_named(raw):
    typo = copy.deepcopy(raw)
    typo["lora"]["rank"] = typo["lora"].pop("r")
    with pytest.raises(UserError) as error:
        parse_params(typo)
    assert "unknown key lora.rank" in str(error.value)

    typo["lora"].pop("rank")
    with pytest.raises(UserError) as error:
        parse_params(typo)
    assert "missing key lora.r" in str(error.value)

    extra_section = {**raw, "optimizer": {}}
    with pytest.raises(UserError) as error:
        parse_params(extra_section)
    assert "unknown key optimizer" in str(error.value)


def test_every_number_has_a_finite_range(raw):
    from dialogsum_lora.params import Params

    def numeric_fields(cls):
        for field in dataclasses.fields(cls):
            if dataclasses.is_dataclass(field.type):
                yield from numeric_fields(field.type)
            elif field.type in (int, float, int | None):
                yield field

    fields = list(numeric_fields(Params))
    assert len(fields) == 19
    for field in fields:
        within = field.metadata["within"]
        assert within is not None, field.name
        assert math.isfinite(within.low) and math.isfinite(within.high), field.name
        assert math.nan not in within and math.inf not in within and -math.inf not in within


def test_a_literal_brace_is_allowed_beside_the_dialogue(raw):
    params = parse_params(_with(raw, "prompt.template", "Summarise {{briefly}}:\n{dialogue}\n{dialogue}"))
    assert params.prompt.template.format(dialogue="x") == "Summarise {briefly}:\nx\nx"


def test_integers_are_accepted_where_floats_are_expected(raw):
    params = parse_params(_with(raw, "train.learning_rate", 1))
    assert params.train.learning_rate == 1.0 and isinstance(params.train.learning_rate, float)


def test_batch_must_split_evenly_across_processes(tmp_path):
    import yaml

    from dialogsum_lora.errors import UserError
    from dialogsum_lora.params import parse_params

    from conftest import REPO_ROOT

    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    raw["processes"] = 3
    with pytest.raises(UserError, match=r"train.batch_size \(8\) must be a multiple of processes \(3\)"):
        parse_params(raw)


@pytest.mark.parametrize(
    "replace, message",
    [
        (("learning_rate: 0.001", "learning_rate: 1e-3"), None),  # a number in YAML 1.2, as DVC reads it
        (("seed: 42", "seed: 042"), None),  # 42, not octal 34: what dvc.lock records
        (("compile: false", "compile: no"), "train.compile must be bool, got 'no'"),
        (("seed: 42", "seed: 42\nseed: 7"), "is not valid YAML: DuplicateKeyError"),
        (("seed: 42", "seed: " + "9" * 5000), "is not valid YAML: ValueError: Exceeds the limit"),
        (("seed: 42", "seed: 42\nextra: " + "[" * 2000 + "]" * 2000), "is not valid YAML: RecursionError"),
    ],
)
def test_params_yaml_is_read_as_dvc_reads_it(tmp_path, replace, message):
    text = (REPO_ROOT / "params.yaml").read_text()
    assert replace[0] in text
    (tmp_path / "params.yaml").write_text(text.replace(replace[0], replace[1], 1))
    if message is None:
        params = load_params(tmp_path / "params.yaml")
        assert params.train.learning_rate == 0.001 and params.seed == 42
    else:
        with pytest.raises(UserError) as error:
            load_params(tmp_path / "params.yaml")
        assert message in str(error.value)


def test_params_yaml_that_is_not_a_regular_file_is_refused_at_once(tmp_path):
    import os

    os.mkfifo(tmp_path / "params.yaml")  # reading it would wait forever
    with pytest.raises(UserError, match="is not a regular file"):
        load_params(tmp_path / "params.yaml")
