"""Checkpoints: one folder per (params read, training data); an incomplete one is never resumed."""

from conftest import REPO_ROOT


def test_checkpoints_are_kept_per_params_and_data_finetune_reads(tmp_path, monkeypatch):
    from dataclasses import replace

    from dialogsum_lora.checkpoints import TRAINING_DATA, checkpoint_directory
    from dialogsum_lora.params import load_params

    monkeypatch.chdir(tmp_path)
    for file in TRAINING_DATA:
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text('{"id": "a", "dialogue": "d", "summary": "s"}\n')
    params = load_params(REPO_ROOT / "params.yaml")
    first = checkpoint_directory(params)
    assert checkpoint_directory(params) == first
    assert checkpoint_directory(replace(params, generate=replace(params.generate, max_new_tokens=9))) == first  # not read
    assert checkpoint_directory(replace(params, train=replace(params.train, learning_rate=0.5))) != first
    TRAINING_DATA[0].write_text('{"id": "b", "dialogue": "d", "summary": "s"}\n')
    assert checkpoint_directory(params) != first


def test_a_checkpoint_killed_while_being_written_is_never_resumed(tmp_path):
    from dialogsum_lora.checkpoints import CHECKPOINT_COMPLETE, last_complete_checkpoint

    for step, complete in ((20, True), (40, True), (60, False)):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}/trainer_state.json").write_text("{}")
        if complete:
            (tmp_path / f"checkpoint-{step}" / CHECKPOINT_COMPLETE).touch()
    assert last_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-40"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-20", "checkpoint-40"]
    assert last_complete_checkpoint(tmp_path / "none") is None
