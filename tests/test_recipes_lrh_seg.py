"""lrh-seg recipe pieces: Table 8 -> TrainConfig, presets, the 70/30 subject split, the x10 offline replication."""
import numpy as np
import pytest

from mammoseg.errors import ConfigError, DataError
from mammoseg.io.raster import write_image, write_mask
from mammoseg.recipes import lrh_seg
from mammoseg.train.config import lr_multiplier


def test_table8_maps_to_train_config():
    cfg = lrh_seg.table8_train_config()
    # Table 8 (L2181-2209): SGDM, momentum 0.9, initial rate 1e-4, L2 0.005, 100 epochs, batch 64, patience 4
    assert (cfg.optimizer, cfg.momentum, cfg.learning_rate) == ("sgd", 0.9, 1e-4)
    assert (cfg.weight_decay, cfg.weight_decay_on) == (0.005, "kernels")
    assert (cfg.epochs, cfg.batch_size, cfg.patience, cfg.early_stopping) == (100, 64, 4, True)
    assert cfg.monitor == "val_loss"


def test_table8_piecewise_schedule_drops_by_0_3_every_10_epochs():
    cfg = lrh_seg.table8_train_config()
    # epoch (0-based) -> 0.3 ** (epoch // 10), by hand
    expected = {0: 1.0, 9: 1.0, 10: 0.3, 19: 0.3, 20: 0.09, 35: 0.027, 99: 0.3 ** 9}
    for epoch, factor in expected.items():
        assert lr_multiplier(cfg, epoch, 0, 100) == pytest.approx(factor)
        assert cfg.learning_rate * lr_multiplier(cfg, epoch, 5, 100) == pytest.approx(1e-4 * factor)


def test_table8_rejects_options_it_cannot_map():
    with pytest.raises(ConfigError, match="Learn Rate Schedule"):
        lrh_seg.table8_train_config({**lrh_seg.TABLE8, "Learn Rate Schedule": "None"})


def test_full_presets_use_thesis_sizes_and_table8():
    t9, t10 = lrh_seg.build_config("9", "full"), lrh_seg.build_config("10", "full")
    assert (t9.dataset, t10.dataset) == ("cityscapes", "mammography")
    assert t9.synthetic.cityscapes_images == {"train": 2975, "val": 500}
    # lrh-seg §2 input sizes (Tables 2-5, DeepLab 769) and the smallest crop dataset (256/700/900/1500) covering them
    sizes = {"FCN32": (256, 256), "FCN16": (256, 256), "FCN8": (256, 256), "U-Net": (572, 700),
             "Dilation10 - Front": (632, 700), "Dilation10 - Context": (1024, 1500),
             "Dilation10 - Global": (1400, 1500), "DeepLab v3 + ResNet": (769, 900)}
    assert {row: (m.input_size, m.crop_size) for row, m in t10.models.items()} == sizes
    for row in lrh_seg.ROWS:
        hp = t10.hparams[row]
        assert (hp.learning_rate, hp.weight_decay) == (1e-4, 0.005)
        assert hp.batch_size == (2 if row == "DeepLab v3 + ResNet" else 64)
        assert hp.keep_prob == (0.75 if row == "U-Net" else 1.0)
        assert t10.models[row].patience == 4
    assert (t10.schedule.epochs, t10.schedule.momentum, t10.schedule.lr_factor) == (100, 0.9, 0.3)
    assert (t10.synthetic.mammo_cases, t10.replicas, t10.val_fraction) == (100, 10, 0.3)


def test_stage_specs_carry_table8_into_the_trainer():
    from mammoseg.recipes import kth_seg, segmentation

    config = lrh_seg.build_config("10", "full")
    expected = lrh_seg.table8_train_config()
    for spec in kth_seg.stage_specs(config):
        cfg = segmentation._train_config(spec, config.schedule)
        assert (cfg.optimizer, cfg.momentum, cfg.learning_rate, cfg.weight_decay) == (
            "sgd", expected.momentum, expected.learning_rate, expected.weight_decay)
        assert (cfg.epochs, cfg.patience, cfg.monitor, cfg.early_stopping) == (100, 4, "val_loss", True)
        assert cfg.batch_size == (2 if spec.row == "DeepLab v3 + ResNet" else 64)
        assert [lr_multiplier(cfg, e, 0, 10) for e in (0, 9, 10, 20)] == pytest.approx([1.0, 1.0, 0.3, 0.09])


def test_rows_and_chains():
    models = lrh_seg.build_config("9", "smoke").models
    assert tuple(models) == lrh_seg.ROWS
    chains = {row: m.init_from for row, m in models.items() if m.init_from}
    assert chains == {"FCN16": "FCN32", "FCN8": "FCN16", "Dilation10 - Context": "Dilation10 - Front",
                      "Dilation10 - Global": "Dilation10 - Context"}
    assert {row for row, m in models.items() if m.pretrained} == {"FCN32", "Dilation10 - Front",
                                                                 "DeepLab v3 + ResNet"}


def test_bad_table_or_rows_raise_config_errors():
    with pytest.raises(ConfigError, match="unknown lrh-seg table"):
        lrh_seg.build_config("5.1")
    with pytest.raises(ConfigError, match="differ from the recipe"):
        lrh_seg.thesis_table("9", {"FCN32": (1.0, 2.0, 3.0)})


def test_split_is_70_30_by_subject_and_seeded():
    subjects = [f"s{i:03d}" for i in range(100)]
    split = lrh_seg.split_subjects(subjects, 0.3, seed=3)
    assert sorted(split) == subjects
    assert sum(v == "val" for v in split.values()) == 30
    assert split == lrh_seg.split_subjects(subjects, 0.3, seed=3)
    assert split != lrh_seg.split_subjects(subjects, 0.3, seed=4)
    assert sorted(lrh_seg.split_subjects(["a", "b"], 0.3).values()) == ["train", "val"]


def _phantom(rng):
    """A 12-bit mid-grey image with a brighter disc as the tumour (label 1)."""
    yy, xx = np.mgrid[:48, :40]
    tumour = ((yy - 20) ** 2 + (xx - 14) ** 2) < 64
    image = (1500 + 800 * tumour + rng.normal(0, 40, tumour.shape)).astype(np.uint16)
    return image, tumour.astype(np.uint8)


def test_replication_gives_ten_copies_with_the_named_techniques(rng):
    image, label = _phantom(rng)
    copies = lrh_seg.replicate_subject(image, label, 10, np.random.default_rng(0))
    assert [c[0] for c in copies] == list(lrh_seg.REPLICA_TECHNIQUES)
    by_name = {name: (x, y) for name, x, y in copies}
    np.testing.assert_array_equal(by_name["original"][0], image)
    np.testing.assert_array_equal(by_name["mirror"][0], image[:, ::-1])
    np.testing.assert_array_equal(by_name["mirror"][1], label[:, ::-1])
    for name, x, y in copies:
        assert x.dtype == np.uint16 and x.shape == image.shape and x.max() <= 4095
        assert set(np.unique(y)) <= {0, 1}
        if "rotate" not in name and "mirror" not in name:  # photometric steps leave the label alone
            np.testing.assert_array_equal(y, label)
    for name in ("rotate_ccw", "rotate_cw"):  # a 5-15 degree turn about the centre keeps the disc's area
        assert abs(int(by_name[name][1].sum()) - int(label.sum())) <= 0.15 * label.sum()
        assert not np.array_equal(by_name[name][1], label)
    again = lrh_seg.replicate_subject(image, label, 10, np.random.default_rng(0))
    assert all(np.array_equal(a[1], b[1]) and np.array_equal(a[2], b[2]) for a, b in zip(copies, again))


def test_photometric_steps_by_hand():
    flat = np.full((16, 16), 1000.0, np.float32)
    label = np.zeros((16, 16), np.uint8)
    rng = np.random.default_rng(0)
    for step in ("smooth", "sharpen", "contrast"):  # a constant image is a fixed point of all three
        out, _ = lrh_seg.apply_technique(step, flat, label, rng, 4095.0)
        np.testing.assert_allclose(out, flat, atol=1e-3)
    ramp = np.tile(np.linspace(1000, 2000, 64, dtype=np.float32), (64, 1))
    out, _ = lrh_seg.apply_technique("contrast", ramp, np.zeros((64, 64), np.uint8), rng, 4095.0)
    factor = out.std() / ramp.std()
    assert lrh_seg.CONTRAST_FACTOR[0] <= factor <= lrh_seg.CONTRAST_FACTOR[1]
    assert out.mean() == pytest.approx(ramp.mean(), rel=1e-5)
    noisy, _ = lrh_seg.apply_technique("noise", np.full((200, 200), 2000.0, np.float32),
                                       np.zeros((200, 200), np.uint8), rng, 4095.0)
    assert (noisy - 2000.0).std() == pytest.approx(0.01 * 4095.0, rel=0.05)
    with pytest.raises(ConfigError, match="unknown replication step"):
        lrh_seg.apply_technique("mirror+warp", flat, label, rng, 4095.0)


def _subject(root, name, tumour=None, extra_masks=()):
    image = np.full((32, 32), 800, np.uint16)
    write_image(root / name / "image.png", image)
    if tumour is not None:
        write_mask(root / name / "masks" / "tumor.png", tumour)
    for mask_name in extra_masks:
        write_mask(root / name / "masks" / f"{mask_name}.png", np.ones((32, 32), bool))


def test_read_subject_keeps_only_the_tumour_map(tmp_path):
    tumour = np.zeros((32, 32), bool)
    tumour[8:24, 8:24] = True  # a 16 px square: smoothing rounds its corners only
    _subject(tmp_path, "a", tumour, extra_masks=("skin", "mammary_gland"))
    _subject(tmp_path, "b")
    image, label = lrh_seg.read_subject(tmp_path / "a")
    assert image.shape == label.shape == (32, 32)
    assert label[16, 16] == 1 and label[2, 2] == 0 and label[8:24, 8:24].mean() > 0.95 and label.sum() < 256
    assert lrh_seg.read_subject(tmp_path / "b")[1].sum() == 0  # no masks folder: no tumour
    assert lrh_seg.list_subjects(tmp_path) == ["a", "b"]


def test_bad_subject_input_raises_one_data_error(tmp_path):
    _subject(tmp_path, "a", extra_masks=("tumour",))  # misspelt class name
    with pytest.raises(DataError, match="tumour"):
        lrh_seg.read_subject(tmp_path / "a")
    with pytest.raises(DataError, match="at least 2"):
        lrh_seg.list_subjects(tmp_path)
    (tmp_path / "c").mkdir()
    with pytest.raises(DataError, match="image not found"):
        lrh_seg.read_subject(tmp_path / "c")


def test_replicated_dataset_layout(tmp_path):
    tumour = np.zeros((32, 32), bool)
    tumour[10:20, 10:20] = True
    for name in ("p1", "p2", "p3"):
        _subject(tmp_path / "src", name, tumour)
    splits = lrh_seg.write_replicated_dataset(tmp_path / "src", tmp_path / "rep", replicas=3, val_fraction=0.3,
                                              seed=0)
    assert len(splits) == 9
    by_subject = {}
    for replica, split in splits.items():
        by_subject.setdefault(replica.rsplit("_r", 1)[0], set()).add(split)
        assert (tmp_path / "rep" / replica / "label.png").is_file()
    assert all(len(s) == 1 for s in by_subject.values())  # all copies of a subject on one side
    assert sorted(next(iter(s)) for s in by_subject.values()) == ["train", "train", "val"]


def test_prepare_mammography_reuses_a_previous_runs_data(tmp_path):
    from dataclasses import replace

    smoke = lrh_seg.build_config("10", "smoke")
    config = replace(smoke, replicas=2, synthetic=replace(smoke.synthetic, mammo_cases=3, mammo_image_size=(96, 80)))
    for run in ("run1", "run2", "run3"):  # experiment_main creates the run directory
        (tmp_path / run).mkdir()
    first = lrh_seg.prepare_mammography(config, tmp_path / "run1", log=lambda m: None)
    assert first.label_set.name == "binary" and first.elastic_p == 0.0
    assert len(list((tmp_path / "run1" / "data" / "subjects").glob("case*"))) == 3
    assert len(first.store(32, "train")) == 2 * 2 * 2  # 2 training subjects x 2 copies x 2 crops, built lazily
    again = lrh_seg.prepare_mammography(replace(config, from_run=str(tmp_path / "run1")), tmp_path / "run2",
                                        log=lambda m: None)
    assert again.root == first.root and again.crops_dir == first.crops_dir
    assert not (tmp_path / "run2" / "data").exists()  # nothing generated or replicated again
    other = lrh_seg.prepare_mammography(replace(config, from_run=str(tmp_path / "run1"), replicas=3),
                                        tmp_path / "run3", log=lambda m: None)
    assert other.root != first.root  # different replication: rebuilt here
