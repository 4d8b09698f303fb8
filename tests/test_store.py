import json

import h5py
import numpy as np
import pytest

from mammoseg.errors import DataError
from mammoseg.io.store import FORMAT_NAME, CropStoreWriter, read_crop_store

ROWS = [dict(case="case_a", split="train", index=0, cy=5, cx=7, chosen_id=4, elastic=False, seed=2**62 + 3),
        dict(case="case_ä", split="train", index=1, cy=0, cx=31, chosen_id=-1, elastic=True, seed=0),
        dict(case="case_b", split="train", index=0, cy=100, cx=2, chosen_id=1, elastic=True, seed=12345)]
META = {"label_set": "mammo13", "merge_sigma": 2.0, "elastic_alpha": 10.5, "elastic_sigma": 3.0,
        "config": {"seed": 0, "crops_per_image": 2, "exclude_ids": [0, 12]}}


def _crops(rng, n=len(ROWS), size=8):
    images = rng.integers(0, 65535, (n, size, size)).astype(np.uint16)
    labels = rng.integers(0, 13, (n, size, size)).astype(np.uint8)
    return images, labels


def _write(path, images, labels, rows=ROWS, meta=META):
    with CropStoreWriter(path, images.shape[1], images.dtype, meta) as writer:
        for image, label, row in zip(images, labels, rows):
            writer.append(image, label, **row)
    return path


def _leftovers(path):
    return sorted(p.name for p in path.parent.iterdir())


def test_round_trip(tmp_path, rng):
    images, labels = _crops(rng)
    path = _write(tmp_path / "crops.h5", images, labels)
    assert _leftovers(path) == ["crops.h5"]
    store = read_crop_store(path)
    np.testing.assert_array_equal(store.images, images)
    np.testing.assert_array_equal(store.labels, labels)
    assert store.images.dtype == np.uint16 and store.labels.dtype == np.uint8
    assert store.manifest.to_dict("records") == ROWS
    assert len(store) == 3 and store.crop_size == 8
    assert store.attrs["format"] == FORMAT_NAME and store.attrs["n_crops"] == 3
    assert store.attrs["label_set"] == "mammo13" and store.attrs["merge_sigma"] == 2.0
    assert store.attrs["elastic_alpha"] == 10.5 and store.attrs["elastic_sigma"] == 3.0
    assert json.loads(store.attrs["config"]) == META["config"]
    assert "mammoseg" in store.attrs["generator_version"]
    light = read_crop_store(path, arrays=False)
    assert light.images is None and light.labels is None and len(light) == 3


def test_crops_are_chunked_one_per_crop_and_compressed(tmp_path, rng):
    path = _write(tmp_path / "crops.h5", *_crops(rng))
    with h5py.File(path, "r") as handle:
        for name in ("images", "labels"):
            assert handle[name].chunks == (1, 8, 8) and handle[name].compression == "gzip"


def test_exception_inside_the_writer_leaves_nothing(tmp_path, rng):
    images, labels = _crops(rng)
    with pytest.raises(RuntimeError, match="boom"):
        with CropStoreWriter(tmp_path / "crops.h5", 8, np.uint16, META) as writer:
            writer.append(images[0], labels[0], **ROWS[0])
            raise RuntimeError("boom")
    assert _leftovers(tmp_path / "crops.h5") == []


def test_failed_rewrite_keeps_the_previous_store(tmp_path, rng):
    images, labels = _crops(rng)
    path = _write(tmp_path / "crops.h5", images, labels)
    before = path.read_bytes()
    with pytest.raises(DataError, match="shape"):
        with CropStoreWriter(path, 8, np.uint16, META) as writer:
            writer.append(images[0][:4], labels[0][:4], **ROWS[0])  # wrong crop size
    assert path.read_bytes() == before and _leftovers(path) == ["crops.h5"]


def test_wrong_dtype_is_refused(tmp_path, rng):
    images, labels = _crops(rng)
    with pytest.raises(DataError, match="dtype"):
        with CropStoreWriter(tmp_path / "crops.h5", 8, np.uint8, META) as writer:
            writer.append(images[0], labels[0], **ROWS[0])


def test_missing_truncated_and_foreign_files_raise_data_error(tmp_path, rng):
    with pytest.raises(DataError, match="missing.h5: crop store not found"):
        read_crop_store(tmp_path / "missing.h5")
    path = _write(tmp_path / "crops.h5", *_crops(rng, size=64))
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match="truncated.h5"):
        read_crop_store(truncated)
    text = tmp_path / "text.h5"
    text.write_text("not hdf5")
    with pytest.raises(DataError, match="not a readable HDF5 file"):
        read_crop_store(text)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as handle:
        handle["images"] = np.zeros((1, 2, 2))
    with pytest.raises(DataError, match=f"not a {FORMAT_NAME} file"):
        read_crop_store(foreign)


def test_empty_store_round_trips(tmp_path):
    with CropStoreWriter(tmp_path / "empty.h5", 4, np.uint16, META):
        pass
    store = read_crop_store(tmp_path / "empty.h5")
    assert len(store) == 0 and store.images.shape == (0, 4, 4)
