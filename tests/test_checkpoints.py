"""Checkpoints: one folder per (params read, training data); an incomplete one is never resumed."""

from conftest import REPO_ROOT


def test_checkpoints_are_kept_per_params_and_data_finetune_reads(tmp_path, monkeypatch):
    from dialogsum_lora.params import load_params
    from dialogsum_lora.training.trainer import TRAINING_DATA, checkpoint_directory
    from stages.finetune import Reads

    monkeypatch.chdir(tmp_path)
    for file in TRAINING_DATA:
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text('{"id": "a", "dialogue": "d", "summary": "s"}\n')
    params = load_params(Reads, REPO_ROOT / "params.yaml")
    first = checkpoint_directory(params)
    assert checkpoint_directory(params) == first
    assert "generate" not in Reads.model_fields  # decoding settings are not finetune's: they change no checkpoint
    changed = params.model_copy(update={"train": params.train.model_copy(update={"learning_rate": 0.5})})
    assert checkpoint_directory(changed) != first
    TRAINING_DATA[0].write_text('{"id": "b", "dialogue": "d", "summary": "s"}\n')
    assert checkpoint_directory(params) != first


def test_a_checkpoint_killed_while_being_written_is_never_resumed(tmp_path):
    from dialogsum_lora.training.trainer import CHECKPOINT_COMPLETE, last_complete_checkpoint

    for step, complete in ((20, True), (40, True), (60, False)):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}/trainer_state.json").write_text("{}")
        if complete:
            (tmp_path / f"checkpoint-{step}" / CHECKPOINT_COMPLETE).touch()
    assert last_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-40"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-20", "checkpoint-40"]
    assert last_complete_checkpoint(tmp_path / "none") is None
