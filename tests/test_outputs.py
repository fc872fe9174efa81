"""Outputs are written atomically, and a write that fails names the file."""

import pytest

from dialogsum_lora.errors import UserError
from dialogsum_lora.files.outputs import atomic_path


def test_a_failed_write_leaves_the_old_output_and_no_partial_file(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            temporary.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]

    directory = tmp_path / "adapter"
    with atomic_path(directory) as temporary:
        temporary.mkdir()
        (temporary / "weights").write_text("new")
    assert (directory / "weights").read_text() == "new"


def test_write_errors_name_the_output(tmp_path, monkeypatch):
    import errno
    from pathlib import Path

    from dialogsum_lora.files.outputs import check_writable, write_json

    def no_space(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", no_space)
    with pytest.raises(UserError, match=f"cannot write {tmp_path / 'm.json'}: No space left on device"):
        write_json(tmp_path / "m.json", {})
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("tempfile.NamedTemporaryFile", read_only)
    with pytest.raises(UserError, match=f"cannot write {tmp_path / 'out/m.json'}: Read-only file system"):
        check_writable([tmp_path / "out/m.json"])
