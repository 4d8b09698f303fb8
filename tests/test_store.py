import json
import pickle

import h5py
import numpy as np
import pytest

from mammoseg.errors import DataError
from mammoseg.io.store import FORMAT_NAME, CropStoreWriter, H5CropArray, open_crop_store, read_crop_store

ROWS = [dict(case="case_a", split="train", index=0, cy=5, cx=7, chosen_id=4, elastic=False, seed=2**62 + 3),
        dict(case="case_ä", split="train", index=1, cy=0, cx=31, chosen_id=-1, elastic=True, seed=0),
        dict(case="case_b", split="train", index=0, cy=100, cx=2, chosen_id=1, elastic=True, seed=12345)]
META = {"label_set": "mammo13", "merge_sigma": 2.0, "elastic_alpha": 10.5, "elastic_sigma": 3.0,
        "config": {"seed": 0, "crops_per_image": 2, "exclude_ids": [0, 12]}}


def _crops(rng, n=len(ROWS), size=8):
    images = rng.integers(0, 65535, (n, size, size)).astype(np.uint16)
    labels = rng.integers(0, 13, (n, size, size)).astype(np.uint8)
    return images, labels


def _write(path, images, labels, rows=ROWS, meta=META, layout="contiguous"):
    with CropStoreWriter(path, images.shape[1], images.dtype, meta, layout=layout) as writer:
        for image, label, row in zip(images, labels, rows):
            writer.append(image, label, **row)
    return path


def _leftovers(path):
    return sorted(p.name for p in path.parent.iterdir())


@pytest.mark.parametrize("layout", ["contiguous", "chunked"])
@pytest.mark.parametrize("reader", [read_crop_store, open_crop_store])
def test_round_trip(tmp_path, rng, layout, reader):
    images, labels = _crops(rng)
    path = _write(tmp_path / "crops.h5", images, labels, layout=layout)
    assert _leftovers(path) == ["crops.h5"]  # no scratch file left either
    store = reader(path)
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


def test_layouts_contiguous_by_default_or_chunked_and_compressed(tmp_path, rng):
    crops = _crops(rng)
    with h5py.File(_write(tmp_path / "contiguous.h5", *crops), "r") as handle:
        for name in ("images", "labels"):
            assert handle[name].chunks is None and handle[name].compression is None
    with h5py.File(_write(tmp_path / "chunked.h5", *crops, layout="chunked"), "r") as handle:
        for name in ("images", "labels"):
            assert handle[name].chunks == (1, 8, 8) and handle[name].compression == "gzip"
    with pytest.raises(ValueError, match="layout"):
        CropStoreWriter(tmp_path / "x.h5", 8, np.uint16, layout="zarr")


def test_open_crop_store_leaves_crops_on_disk(tmp_path, rng):
    images, labels = _crops(rng, size=16)
    contiguous = open_crop_store(_write(tmp_path / "contiguous.h5", images, labels))
    assert isinstance(contiguous.images, np.memmap) and isinstance(contiguous.labels, np.memmap)
    assert not contiguous.images.flags.writeable
    chunked = open_crop_store(_write(tmp_path / "chunked.h5", images, labels, layout="chunked"))
    assert isinstance(chunked.images, H5CropArray) and isinstance(chunked.labels, H5CropArray)
    assert chunked.images.shape == images.shape and chunked.images.dtype == np.uint16 and len(chunked.labels) == 3
    order = np.array([2, 0, 2, 1])  # unsorted with a repeat: h5py itself accepts neither
    for store in (contiguous, chunked):
        np.testing.assert_array_equal(store.images[order, 3:11, 2:10], images[order, 3:11, 2:10])
        np.testing.assert_array_equal(store.labels[1], labels[1])
        np.testing.assert_array_equal(store.labels[order[:0]], labels[:0])
        blocks = list(store.label_blocks(crops_per_block=2))
        assert [len(b) for b in blocks] == [2, 1]
        np.testing.assert_array_equal(np.concatenate(blocks), labels)
    with pytest.raises(IndexError, match="out of range"):
        chunked.images[[0, 3]]
    clone = pickle.loads(pickle.dumps(chunked.images))  # tf.data / multiprocessing may copy the reader
    np.testing.assert_array_equal(clone[[1]], images[[1]])
    np.testing.assert_array_equal(np.asarray(chunked.labels), labels)


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


@pytest.mark.parametrize("layout", ["contiguous", "chunked"])
@pytest.mark.parametrize("reader", [read_crop_store, open_crop_store])
def test_missing_truncated_and_foreign_files_raise_data_error(tmp_path, rng, layout, reader):
    with pytest.raises(DataError, match="missing.h5: crop store not found"):
        reader(tmp_path / "missing.h5")
    path = _write(tmp_path / "crops.h5", *_crops(rng, size=64), layout=layout)
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match="truncated.h5"):
        reader(truncated)
    text = tmp_path / "text.h5"
    text.write_text("not hdf5")
    with pytest.raises(DataError, match="not a readable HDF5 file"):
        reader(text)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as handle:
        handle["images"] = np.zeros((1, 2, 2))
    with pytest.raises(DataError, match=f"not a {FORMAT_NAME} file"):
        reader(foreign)


@pytest.mark.parametrize("reader", [read_crop_store, open_crop_store])
def test_damaged_metadata_raises_one_data_error(tmp_path, rng, reader):
    """Every 64-byte stretch of the HDF5 structures (everything before the first crop) overwritten in turn: each
    damaged file either still reads correctly or raises DataError naming it, never a raw h5py exception."""
    images, labels = _crops(rng)
    path = _write(tmp_path / "crops.h5", images, labels)
    with h5py.File(path, "r") as handle:
        first_crop = handle["images"].id.get_offset()
    original = path.read_bytes()
    damaged, failures = tmp_path / "damaged.h5", 0
    for start in range(0, first_crop, 64):
        damaged.write_bytes(original[:start] + bytes(range(64)) + original[start + 64:])
        try:
            store = reader(damaged)
            np.testing.assert_array_equal(store.labels[[2, 0]], labels[[2, 0]])
        except DataError as exc:
            assert "damaged.h5" in str(exc)
            failures += 1
    assert failures > 0  # the damage did reach structures the reader needs


@pytest.mark.parametrize("layout", ["contiguous", "chunked"])
@pytest.mark.parametrize("reader", [read_crop_store, open_crop_store])
def test_empty_store_round_trips(tmp_path, layout, reader):
    with CropStoreWriter(tmp_path / "empty.h5", 4, np.uint16, META, layout=layout):
        pass
    store = reader(tmp_path / "empty.h5")
    assert len(store) == 0 and store.images.shape == (0, 4, 4) and list(store.label_blocks()) == []
