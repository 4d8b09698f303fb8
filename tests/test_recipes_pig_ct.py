"""pig-ct recipe pieces: presets, loss, sampling plans, store reading, and the derived tables (5.2, 6.1)."""
from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest
from experiment_scripts import load_script

from mammoseg.errors import ConfigError, DataError
from mammoseg.recipes import pig_ct

def thesis_frame(stem: str) -> pd.DataFrame:
    rows = load_script(stem).TABLE.rows
    return pd.DataFrame.from_dict({k: [float(v) for v in cells] for k, cells in rows.items()}, orient="index",
                                  columns=list(pig_ct.COLUMNS))


# ------------------------------------------------------------------------------------------------ presets
def test_full_preset_holds_the_thesis_values():
    cfg = pig_ct.build_config("full")
    assert (cfg.depth_2d, cfg.filters_2d, cfg.pad_multiple) == (6, 16, 64)  # L1386-1397, L1446-1454
    assert (cfg.depth_3d, cfg.block_size) == (4, 96)  # L1486-1496
    assert cfg.blocks_per_step == 2  # L1404-1408
    assert cfg.batch_sizes == {"transverse": 4, "sagittal": 1, "coronal": 1, "3D": 2}  # L1472-1476, L1502
    assert cfg.draws_per_scan == 50  # L1502-1504
    assert (cfg.learning_rate, cfg.rho, cfg.epsilon) == (1e-3, 0.9, 1e-7)  # RMSprop, Keras 2.2.2 defaults
    assert (cfg.threshold, cfg.fusion_rule, cfg.block_overlap) == (0.5, "mean", 0.0)
    assert cfg.n_scans == 275 and cfg.positive_fraction is None and cfg.max_steps_per_epoch is None


def test_smoke_preset_changes_only_sizes_and_length():
    full, smoke = asdict(pig_ct.build_config("full", seed=3)), asdict(pig_ct.build_config("smoke", seed=3))
    changed = {k for k in full if full[k] != smoke[k]}
    assert changed == {"scale"} | set(pig_ct.SMOKE_CHANGES)
    assert smoke["seed"] == 3 and smoke["batch_sizes"] == full["batch_sizes"]


@pytest.mark.parametrize("changes", [dict(fusion_rule="median"), dict(block_size=36), dict(val_fraction=1.0),
                                     dict(positive_fraction=0.0), dict(batch_sizes={"transverse": 4})])
def test_bad_config_is_refused(changes):
    with pytest.raises(ConfigError):
        pig_ct.PigCTConfig(**changes)


def test_unknown_scale_is_refused():
    with pytest.raises(ConfigError):
        pig_ct.build_config("medium")


def test_model_specs():
    cfg = pig_ct.build_config("full")
    assert pig_ct.model_spec(cfg, "3D") == ("residual_unet_3d", dict(input_shape=(96, 96, 96, 1), depth=4,
                                                                     base_filters=16, blocks_per_step=2))
    name, kwargs = pig_ct.model_spec(cfg, "sagittal")
    assert name == "residual_unet_2d" and kwargs["input_shape"] == (None, None, 1) and kwargs["depth"] == 6
    with pytest.raises(ConfigError):
        pig_ct.model_spec(cfg, "oblique")


def test_train_config_is_rmsprop_with_the_network_batch():
    tc = pig_ct.train_config(pig_ct.build_config("full"), "transverse")
    assert (tc.optimizer, tc.learning_rate, tc.rho, tc.batch_size, tc.lr_schedule) == (
        "rmsprop", 1e-3, 0.9, 4, "constant")
    assert pig_ct.train_config(pig_ct.build_config("full"), "3D").batch_size == 2


# ------------------------------------------------------------------------------------------------ loss
def test_weighted_bce_matches_the_thesis_weights_and_formula():
    from mammoseg.train.losses import binary_weights_from_fraction

    weights = binary_weights_from_fraction(pig_ct.THESIS_POSITIVE_FRACTION)
    assert np.round(weights, 3).tolist() == [1.406, 3.460]  # L1464-1468
    logits = np.array([[[[2.0], [-1.0]], [[0.5], [-3.0]]]], np.float32)  # (1, 2, 2, 1)
    labels = np.array([[[1, 0], [0, 1]]], np.uint8)
    p = 1 / (1 + np.exp(-logits[..., 0].astype(np.float64)))
    by_hand = -np.mean(weights[1] * labels * np.log(p) + weights[0] * (1 - labels) * np.log(1 - p))
    got = np.asarray(pig_ct.weighted_bce(weights)(labels, logits))
    assert got.shape == (1,) and got[0] == pytest.approx(by_hand, rel=1e-5)


# ------------------------------------------------------------------------------------------------ plans
def test_slice_plan_visits_every_slice_once_in_batches_of_one_shape():
    shapes, counts = [(64, 64), (64, 128), (64, 64)], [8, 6, 4]
    plan = pig_ct.slice_plan(shapes, counts, 4, np.random.default_rng(0))
    assert plan.shape == (3 + 1, 4, 2)  # 12 slices of shape 64x64 -> 3 batches; 6 of 64x128 -> 1 (2 dropped)
    for batch in plan:
        assert len({shapes[s] for s in batch[:, 0]}) == 1
    square = {tuple(e) for b in plan for e in b if shapes[e[0]] == (64, 64)}
    assert square == {(0, j) for j in range(8)} | {(2, j) for j in range(4)}
    again = pig_ct.slice_plan(shapes, counts, 4, np.random.default_rng(0))
    assert np.array_equal(plan, again)


def test_slice_plan_draws_a_small_group_with_replacement():
    plan = pig_ct.slice_plan([(32, 32)], [1], 4, np.random.default_rng(0))
    assert plan.shape == (1, 4, 2) and (plan == 0).all()


def test_ordered_slice_plan_never_spans_two_scans():
    plan = pig_ct.ordered_slice_plan([3, 2], 2)
    expected = [[[0, 0], [0, 1]], [[0, 2], [-1, -1]], [[1, 0], [1, 1]]]
    assert plan.tolist() == expected


def test_block_plan_draws_each_scan_equally_and_inside_the_volume():
    shapes = [(40, 50, 60), (20, 100, 100)]
    plan = pig_ct.block_plan(shapes, 5, 2, 32, np.random.default_rng(1))
    assert plan.shape == (10, 2, 4)
    assert (plan[:, 0, 0] == plan[:, 1, 0]).all()  # both blocks of a step come from one scan
    assert np.bincount(plan[:, 0, 0]).tolist() == [5, 5]
    for scan, z, y, x in plan.reshape(-1, 4):
        for origin, length in zip((z, y, x), shapes[scan]):
            assert 0 <= origin <= max(0, length - 32)


def test_fit_plan_length_cuts_or_repeats():
    plan = np.arange(3)[:, None, None]
    assert pig_ct.fit_plan_length(plan, 2).ravel().tolist() == [0, 1]
    assert pig_ct.fit_plan_length(plan, 7).ravel().tolist() == [0, 1, 2, 0, 1, 2, 0]


def test_hold_out_is_seeded_and_keeps_order():
    names = [f"s{i}" for i in range(20)]
    held = pig_ct.hold_out(names, 0.1, seed=4)
    assert len(held) == 2 and held == sorted(held, key=names.index)
    assert held == pig_ct.hold_out(names, 0.1, seed=4)
    assert len(pig_ct.hold_out(names[:3], 0.1, seed=0)) == 1


# ------------------------------------------------------------------------------------------------ store reading
@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory):
    from data_prep.slices import build_slice_store, read_ct_dataset

    from mammoseg.data.synthetic_ct import make_ct_dataset

    root = make_ct_dataset(tmp_path_factory.mktemp("pigct") / "data", n_scans=3, shape=(16, 40, 36), seed=5)
    scans = read_ct_dataset(root)
    split = scans[0].split
    store = root.parent / "slices.h5"
    build_slice_store(root, store, split, pad_multiple=16, progress_bar=False)
    names = tuple(s.scan for s in scans if s.split == split)
    return root, pig_ct.ScanSet(store, names)


def test_store_reader_returns_windowed_slices_of_each_plane(tiny_store):
    from mammoseg.io.volume import hu_window

    root, scan_set = tiny_store
    hu = np.load(root / scan_set.scans[0] / "volume.npy").astype(np.float32)
    label = np.load(root / scan_set.scans[0] / "label.npy")
    window = pig_ct.PIG_CT_WINDOW
    # (z, y, x) = (16, 40, 36): sagittal slices are (y, z) = 40 x 16 -> padded 48 x 16, coronal (x, z) -> 48 x 16
    for plane, index, expected_image, expected_label in (
            ("transverse", 5, hu[5], label[5]), ("sagittal", 7, hu[:, :, 7].T, label[:, :, 7].T),
            ("coronal", 3, hu[:, 3, :].T, label[:, 3, :].T)):
        reader = pig_ct.StoreReader(scan_set, plane, window)
        images, labels = reader.read(np.array([[0, index], [-1, -1]]))
        assert images.shape[0] == 1 and images.shape[-1] == 1 and images.dtype == np.float32
        h, w = expected_image.shape
        assert images.shape[1] % 16 == 0 and images.shape[2] % 16 == 0
        np.testing.assert_allclose(images[0, :h, :w, 0], hu_window(expected_image))
        assert (images[0, h:, :, 0] == 0).all() and (images[0, :, w:, 0] == 0).all()  # air padding -> 0
        assert np.array_equal(labels[0, :h, :w], expected_label)


def test_store_reader_blocks_pad_past_the_volume_with_air(tiny_store):
    from mammoseg.io.volume import hu_window

    root, scan_set = tiny_store
    hu = np.load(root / scan_set.scans[0] / "volume.npy").astype(np.float32)
    reader = pig_ct.StoreReader(scan_set, "transverse", pig_ct.PIG_CT_WINDOW, block_size=32)
    assert reader.volume_shapes[0] == (16, 40, 36)
    images, labels = reader.read(np.array([[0, 0, 8, 4]]))
    assert images.shape == (1, 32, 32, 32, 1) and labels.shape == (1, 32, 32, 32)
    np.testing.assert_allclose(images[0, :16, :, :, 0], hu_window(hu[:, 8:40, 4:36]))
    assert (images[0, 16:] == 0).all() and (labels[0, 16:] == 0).all()


def test_positive_fraction_is_the_voxel_weighted_mask_fraction(tiny_store):
    root, scan_set = tiny_store
    labels = [np.load(root / s / "label.npy") for s in scan_set.scans]
    expected = sum(int(lab.sum()) for lab in labels) / sum(lab.size for lab in labels)
    assert pig_ct.positive_fraction(scan_set) == pytest.approx(expected)


def test_unknown_scan_in_a_store_is_a_data_error(tiny_store):
    _, scan_set = tiny_store
    with pytest.raises(DataError, match="slices.h5"):
        pig_ct.plane_rows(pig_ct.ScanSet(scan_set.store, ("no_such_pig",)), "transverse")


# ------------------------------------------------------------------------------------------------ tables
def test_summary_statistics_reproduce_thesis_table_6_1_from_table_5_1():
    ours = pig_ct.summary_statistics(thesis_frame("15_pig_ct_table5_1")).round(3)
    published = thesis_frame("17_pig_ct_table6_1")
    assert list(ours.index) == list(published.index) == list(pig_ct.SUMMARY_ROWS)
    np.testing.assert_array_equal(ours.to_numpy(), published.to_numpy())


def test_relative_scores_reproduce_thesis_table_5_2_within_rounding():
    ours = pig_ct.relative_to_transverse(thesis_frame("15_pig_ct_table5_1"))
    published = thesis_frame("16_pig_ct_table5_2")
    assert list(ours.index) == list(published.index)
    assert np.abs(ours.to_numpy() - published.to_numpy()).max() <= 0.0005 + 1e-9  # 3-decimal rounding


def test_summary_statistics_match_numpy():
    frame = pd.DataFrame({c: np.linspace(0.1, 0.9, 5) ** (i + 1) for i, c in enumerate(pig_ct.COLUMNS)})
    stats = pig_ct.summary_statistics(frame)
    x = frame["coronal"].to_numpy()
    assert stats.loc["count", "coronal"] == 5
    assert stats.loc["std", "coronal"] == pytest.approx(np.std(x, ddof=1))
    assert stats.loc["25%", "coronal"] == pytest.approx(np.percentile(x, 25))
    assert stats.loc["max", "coronal"] == pytest.approx(x.max())


def test_thesis_tables_are_complete():
    t51, t52, t61 = (load_script(s).TABLE for s in ("15_pig_ct_table5_1", "16_pig_ct_table5_2",
                                                     "17_pig_ct_table6_1"))
    assert len(t51.rows) == len(t52.rows) == 37 and list(t51.rows) == list(t52.rows)
    assert all(len(cells) == 8 for t in (t51, t52, t61) for cells in t.rows.values())
    assert t51.rows["10969"][6] == "0.960" and t52.rows["21953"][7] == "0.890" and t61.rows["mean"][6] == "0.962"


def test_result_rows_mark_thesis_scans_missing_from_our_data():
    frame = pd.DataFrame([[0.5] * 8], index=["pig_000"], columns=list(pig_ct.COLUMNS))
    rows = pig_ct._result_rows(frame, "smoke scale", ["10969", "pig_000"], "private")
    assert [(r.name, r.note) for r in rows] == [("pig_000", "smoke scale"), ("10969", "private")]
    assert rows[0].metrics["3D"] == 0.5 and rows[1].metrics == {}


def test_per_scan_table_round_trip_and_errors(tmp_path):
    per_scan = {"pig_007": {c: 0.1 * (i + 1) for i, c in enumerate(pig_ct.COLUMNS)}}
    pig_ct.write_per_scan(tmp_path, per_scan)
    frame = pig_ct.read_per_scan(tmp_path)
    assert list(frame.index) == ["pig_007"] and frame.loc["pig_007", "3D"] == pytest.approx(0.8)
    with pytest.raises(DataError, match="per_scan_iou.csv"):
        pig_ct.read_per_scan(tmp_path / "elsewhere")
    (tmp_path / "per_scan_iou.csv").write_text("scan,transverse\npig_007,0.5\n")
    with pytest.raises(DataError, match="missing"):
        pig_ct.read_per_scan(tmp_path)


def test_parse_thesis_rows_keeps_cells_as_printed():
    assert pig_ct.parse_thesis_rows("\n a 1.0 0.950\n25% 0.9 1\n") == {"a": ("1.0", "0.950"), "25%": ("0.9", "1")}
