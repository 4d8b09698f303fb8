"""mammoseg.io.atomic: a file or folder appears whole or not at all, and a failed write leaves no litter."""
import os
import stat

import numpy as np
import pytest

from mammoseg.io.atomic import atomic_folder, atomic_path, atomic_write_bytes, atomic_write_text


def test_write_bytes_and_text_create_parents_and_replace(tmp_path):
    path = atomic_write_bytes(tmp_path / "sub" / "x.bin", b"abc")
    assert path.read_bytes() == b"abc"
    atomic_write_text(path, "é\n")
    assert path.read_bytes() == "é\n".encode("utf-8")
    assert sorted(p.name for p in path.parent.iterdir()) == ["x.bin"]


def test_files_get_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    mode = stat.S_IMODE(atomic_write_bytes(tmp_path / "x.bin", b"").stat().st_mode)
    assert mode == 0o666 & ~umask  # what open() gives, not mkstemp's 0600


def test_path_keeps_the_destination_ending_for_format_sniffing_writers(tmp_path):
    target = tmp_path / "w.npz"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.endswith("-w.npz") and tmp.name.startswith(".")
        np.savez(tmp, a=np.arange(3))  # numpy appends .npz unless the name already ends with it
    with np.load(target) as data:
        np.testing.assert_array_equal(data["a"], [0, 1, 2])
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = atomic_write_text(tmp_path / "t.txt", "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["t.txt"]


def test_folder_swaps_whole_and_keeps_the_old_one_on_failure(tmp_path):
    target = tmp_path / "series"
    with atomic_folder(target) as folder:
        (folder / "a.txt").write_text("1")
    with atomic_folder(target) as folder:
        assert not target.joinpath("b.txt").exists()  # readers see the old folder until the swap
        (folder / "b.txt").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    with pytest.raises(OSError):
        with atomic_folder(target) as folder:
            (folder / "c.txt").write_text("3")
            raise OSError("disk full")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["series"]  # no temp or old folder left behind
