"""oulu-mass recipe pieces (seed 002): presets, GroupKFold, the Table 3 augmentation, inputs, losses, ensembling."""
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from experiment_scripts import load_script
import tensorflow as tf
from scipy import ndimage

from mammoseg.errors import ConfigError, DataError
from mammoseg.io.raster import write_image, write_mask
from mammoseg.recipes import oulu_mass as om

FIXTURE = Path(__file__).parent / "fixtures" / "cbis_ddsm"
SCRIPTS = {"5": "09_oulu_mass_table5", "6": "10_oulu_mass_table6", "7": "11_oulu_mass_table7",
           "8": "12_oulu_mass_table8", "9": "13_oulu_mass_table9", "10": "14_oulu_mass_table10"}


def _seed(a=1, b=2):
    return tf.constant([a, b], tf.int64)


# ------------------------------------------------------------------------------------------------ presets
def test_full_preset_is_the_thesis_protocol():
    cfg = om.build_config("full")
    assert (cfg.image_size, cfg.crop_size, cfg.folds) == (512, 448, 5)  # L753-754, Table 3, L955-957
    assert (cfg.epochs, cfg.batch_size, cfg.learning_rate, cfg.weight_decay) == (50, 32, 1e-4, 1e-4)  # L953-967
    assert (cfg.beta_1, cfg.beta_2, cfg.lr_milestones, cfg.lr_factor) == (0.9, 0.999, (20, 30, 40), 0.1)
    assert cfg.resnet_kwargs == {} and cfg.unet_kwargs == {} and not cfg.fast_folds
    aug = cfg.augment  # Table 3
    assert (aug.p, aug.rotation_deg, aug.scale, aug.shear, aug.translate_px) == (0.5, 5.0, (0.7, 1.3), 0.5, 50.0)
    assert (aug.cutout, aug.gamma, aug.brightness, aug.contrast) == (0.1, (0.5, 1.8), (30.0, 100.0), (0.7, 1.3))
    assert (aug.salt_pepper, aug.gaussian_noise, aug.blur_sigma, aug.blur_kernels) == (0.1, 0.5, (1.0, 10.0),
                                                                                         (3, 7, 11))
    inbreast, oudsm = cfg.synthetic["inbreast"], cfg.synthetic["oudsm"]  # Table 2
    assert (inbreast.n_cases, round(inbreast.mass_fraction * 410), oudsm.n_cases,
            round(oudsm.mass_fraction * 9204)) == (410, 107, 9204, 1657)


def test_train_config_is_adam_with_pytorch_l2_and_multistep_schedule():
    from mammoseg.train.config import lr_multiplier

    tcfg = om.train_config(om.build_config("full"))
    assert (tcfg.optimizer, tcfg.weight_decay_on, tcfg.lr_schedule, tcfg.monitor) == ("adam", "all", "multistep",
                                                                                       "val_loss")
    assert not tcfg.early_stopping and tcfg.epochs == 50 and tcfg.epsilon == 1e-8
    # 1e-4 for epochs 1-20, then 1e-5, 1e-6, 1e-7 (0-based epochs 20, 30, 40)
    rates = [tcfg.learning_rate * lr_multiplier(tcfg, e, 0, 10) for e in (0, 19, 20, 29, 30, 40, 49)]
    assert rates == pytest.approx([1e-4, 1e-4, 1e-5, 1e-5, 1e-6, 1e-7, 1e-7])


def test_smoke_preset_is_small_and_runs_every_fold():
    cfg = om.build_config("smoke", seed=3)
    assert cfg.folds == 5 and cfg.image_size <= 128 and cfg.epochs == 1 and cfg.steps_per_epoch <= 4
    assert cfg.fast_folds and cfg.seed == 3 and cfg.resnet_kwargs == {"width": 1 / 16}


def test_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="scale"):
        om.build_config("medium")
    with pytest.raises(ConfigError, match="crop_size"):
        om.build_config("smoke", crop_size=80)
    with pytest.raises(DataError, match="weights file not found"):
        om.build_config("smoke", resnet34_weights=str(tmp_path / "missing.npz"))


# ------------------------------------------------------------------------------------------------ tables
def test_table_grids_match_the_thesis_row_counts():
    counts = {key: len(spec.rows) for key, spec in om.TABLES.items()}
    assert counts == {"5": 14, "6": 10, "7": 14, "8": 12, "9": 14, "10": 10}  # 5 + 5 + 4 rows; 5 + 5; 6 + 6
    assert "U-Net FT-A" not in [r.name for r in om.TABLES["5"].rows]  # Fig. 14: no U-Net with FT-A on OUDSM
    assert "U-Net FT-A" in [r.name for r in om.TABLES["6"].rows]
    assert {r.loss for r in om.TABLES["8"].rows} == {"BCE-J"}
    assert [r.weight_set for r in om.TABLES["8"].rows[:6]] == [1, 2, 3, 4, 5, None]
    assert (om.TABLES["7"].mass_only, om.TABLES["5"].mass_only) == (True, False)


@pytest.mark.parametrize("key", list(SCRIPTS))
def test_scripts_publish_every_row_of_their_table(key):
    module = load_script(SCRIPTS[key])
    assert list(module.TABLE.rows) == [r.name for r in om.TABLES[key].rows]
    for values in module.TABLE.rows.values():
        assert len(values) == 4 and all(0 <= v <= 100 for v in values)


def test_published_headline_numbers():
    """L1093-1095, L1337-1340: best Dice 0.816 (Table 7), accuracy 88.7 % (Table 5), OUDSM accuracy 83.3 %."""
    tables = {}
    for key, name in SCRIPTS.items():
        tables[key] = load_script(name).TABLE.rows
    assert max(v[0] for v in tables["7"].values()) == pytest.approx(81.6)
    assert tables["7"]["ResNet34U-Net FT-B"][0] == pytest.approx(81.6)
    assert max(v[1] for v in tables["5"].values()) == pytest.approx(88.7)
    assert tables["5"]["ResNet22FPN FT-A"][1] == pytest.approx(88.7)
    assert tables["9"]["ResNet34FPN FT-A"][1] == pytest.approx(83.3)
    assert tables["8"]["U-Net 1"] == tables["7"]["ResNet22U-Net BCE-J"]  # the same model in both tables


def test_thesis_table_rejects_rows_of_another_table():
    with pytest.raises(ConfigError, match="differ"):
        om.thesis_table("6", "x", {"U-Net BCE-J": (0.1, 0.2, 0.3, 0.4)})


def test_missing_encoder_file_means_the_random_init_models(tmp_path):
    cfg = om.build_config("smoke")
    fpn1, fpn_none = om.TABLES["8"].rows[0], om.TABLES["8"].rows[5]
    assert om.model_key(cfg, fpn1) == om.model_key(cfg, fpn_none) == "resnet22_fpn-BCE-J-random"
    assert "no --resnet22-weights" in om.init_note(cfg, fpn1)
    weights = tmp_path / "sample_model_1.npz"
    weights.write_bytes(b"")
    cfg = om.build_config("smoke", resnet22_weights=(str(weights),))
    assert om.model_key(cfg, fpn1) == "resnet22_fpn-BCE-J-sample_model_1"
    assert om.model_key(cfg, om.TABLES["8"].rows[1]) == "resnet22_fpn-BCE-J-random"  # set 2 not given


# ------------------------------------------------------------------------------------------------ folds
def test_group_kfold_by_hand():
    # sizes a=3, b=2, c=2, d=1 into 2 folds, largest first into the lighter fold: a->0, b->1, c->1, d->0
    folds = om.group_kfold(["a", "b", "a", "c", "b", "a", "c", "d"], 2)
    assert folds.tolist() == [0, 1, 0, 1, 1, 0, 1, 0]


def test_group_kfold_keeps_patients_together_and_balances(rng):
    groups = rng.integers(0, 23, size=200).astype(str)
    folds = om.group_kfold(groups, 5)
    for g in np.unique(groups):
        assert len(set(folds[groups == g])) == 1
    sizes = np.bincount(folds, minlength=5)
    largest_group = np.unique(groups, return_counts=True)[1].max()
    assert sizes.sum() == 200 and sizes.max() - sizes.min() <= largest_group
    order = rng.permutation(200)  # the assignment depends on the data, not on its order
    assert om.group_kfold(groups[order], 5).tolist() == folds[order].tolist()


def test_group_kfold_needs_enough_patients():
    with pytest.raises(ConfigError, match="at least 5 groups"):
        om.group_kfold(["a", "b", "c", "d"], 5)


# ------------------------------------------------------------------------------------------------ augmentation
def _neutral(**changes):
    base = dict(p=1.0, rotation_deg=0.0, scale=(1.0, 1.0), shear=0.0, translate_px=0.0)
    base.update(changes)
    return om.Augmentation(**base)


def test_geometry_without_augmentation_is_a_random_crop():
    ys, xs = (t.numpy() for t in om.geometry_maps(_seed(), 64, 48, om.Augmentation(enabled=False), 6.0))
    top, left = ys[0, 0], xs[0, 0]
    assert 0 <= top <= 16 and 0 <= left <= 16 and top == int(top) and left == int(left)
    np.testing.assert_array_equal(ys, top + np.arange(48)[:, None] + 0 * xs)
    np.testing.assert_array_equal(xs, left + np.arange(48)[None, :] + 0 * ys)


def test_geometry_flip_and_scale_by_hand():
    ys, xs = (t.numpy() for t in om.geometry_maps(_seed(), 64, 48, _neutral(scale=(2.0, 2.0)), 0.0))
    c = 31.5
    # crop offset: recover it from the first row / column, then every pixel follows y = c + (q - c) / 2
    top = (ys[0, 0] - c) * 2 + c
    left = 63 - ((xs[0, 0] - (63 - c)) * 2 + (63 - c))  # the flip mirrors x about the centre too
    qy, qx = top + np.arange(48)[:, None], left + np.arange(48)[None, :]
    np.testing.assert_allclose(ys, np.broadcast_to(c + (qy - c) / 2, (48, 48)), atol=1e-4)
    np.testing.assert_allclose(xs, np.broadcast_to(63 - (c + (qx - c) / 2), (48, 48)), atol=1e-4)


def test_geometry_rotation_keeps_distances_and_stays_within_5_degrees():
    size, crop = 64, 64  # no crop offset: output pixel q reads source p with |p - c| = |q - c|
    for seed in range(5):
        ys, xs = (t.numpy() for t in om.geometry_maps(_seed(seed, 7), size, crop, _neutral(rotation_deg=5.0), 0.0))
        xs = 63 - xs  # undo the flip
        c = 31.5
        qy, qx = np.meshgrid(np.arange(64.0), np.arange(64.0), indexing="ij")
        np.testing.assert_allclose(np.hypot(ys - c, xs - c), np.hypot(qy - c, qx - c), atol=1e-3)
        angle = np.arctan2(ys[0, 0] - c, xs[0, 0] - c) - np.arctan2(qy[0, 0] - c, qx[0, 0] - c)
        assert abs(math.degrees((angle + np.pi) % (2 * np.pi) - np.pi)) <= 5.0 + 1e-3


def test_geometry_shear_moves_x_in_proportion_to_y():
    ys, xs = (t.numpy() for t in om.geometry_maps(_seed(3, 4), 64, 64, _neutral(shear=0.5), 0.0))
    xs = 63 - xs
    qy, qx = np.meshgrid(np.arange(64.0), np.arange(64.0), indexing="ij")
    np.testing.assert_allclose(ys, qy, atol=1e-4)
    slope = (xs - qx) / np.where(qy == 31.5, np.nan, qy - 31.5)
    assert np.nanstd(slope) < 1e-4 and abs(np.nanmean(slope)) <= 0.5


def test_geometry_translation_is_bounded():
    for seed in range(5):
        ys, _ = (t.numpy() for t in om.geometry_maps(_seed(seed, 1), 64, 64, _neutral(translate_px=6.0), 6.0))
        shift = np.arange(64.0)[:, None] - ys
        assert np.ptp(shift) < 1e-4 and abs(shift[0, 0]) <= 6.0


def _image(rng, shape=(16, 16)):
    return tf.constant(rng.uniform(0.2, 0.8, shape).astype(np.float32))


def _intensity_only(**changes):
    base = dict(p=1.0, gamma=(1.0, 1.0), brightness=(0.0, 0.0), contrast=(1.0, 1.0), salt_pepper=0.0,
                gaussian_noise=0.0, blur_kernels=(1,), cutout=0.0)
    base.update(changes)
    return om.Augmentation(**base)


def test_intensity_ops_by_hand(rng):
    x = _image(rng)
    assert np.allclose(om.intensity_augment(x, _seed(), _intensity_only()).numpy(), x.numpy())
    np.testing.assert_allclose(om.intensity_augment(x, _seed(), _intensity_only(gamma=(2.0, 2.0))).numpy(),
                               x.numpy() ** 2, rtol=1e-5)
    np.testing.assert_allclose(om.intensity_augment(x, _seed(), _intensity_only(brightness=(51.0, 51.0))).numpy(),
                               np.minimum(x.numpy() + 0.2, 1.0), rtol=1e-5)
    np.testing.assert_allclose(om.intensity_augment(x, _seed(), _intensity_only(contrast=(0.5, 0.5))).numpy(),
                               x.numpy() * 0.5, rtol=1e-5)
    cut = om.intensity_augment(x, _seed(), _intensity_only(cutout=0.25)).numpy()
    hole = cut != x.numpy()
    rows, cols = np.flatnonzero(hole.any(1)), np.flatnonzero(hole.any(0))
    assert hole.sum() == 16 and len(rows) == len(cols) == 4 and (cut[hole] == 0).all()  # one 4x4 square


def test_salt_and_pepper_and_noise_stay_in_range(rng):
    x = _image(rng, (64, 64))
    sp = om.intensity_augment(x, _seed(), _intensity_only(salt_pepper=0.1)).numpy()
    changed = sp != x.numpy()
    assert changed.mean() <= 0.1 + 0.02 and set(np.unique(sp[changed])) <= {0.0, 1.0}
    noisy = om.intensity_augment(x, _seed(), _intensity_only(gaussian_noise=0.5)).numpy()
    assert noisy.min() >= 0 and noisy.max() <= 1 and not np.allclose(noisy, x.numpy())
    assert np.allclose(om.intensity_augment(x, _seed(), om.Augmentation(enabled=False)).numpy(), x.numpy())


@pytest.mark.parametrize("kernel", [3, 7])
def test_blurs_match_scipy(rng, kernel):
    x = rng.uniform(0, 1, (20, 17)).astype(np.float32)
    np.testing.assert_allclose(om._median_blur(tf.constant(x), kernel).numpy(),
                               ndimage.median_filter(x, size=kernel, mode="mirror"), atol=1e-6)
    sigma = 2.0
    t = np.arange(kernel) - kernel // 2
    w = np.exp(-t ** 2 / (2 * sigma ** 2))
    w /= w.sum()
    expected = ndimage.correlate1d(ndimage.correlate1d(x, w, axis=0, mode="mirror"), w, axis=1, mode="mirror")
    np.testing.assert_allclose(om._gaussian_blur(tf.constant(x), kernel, tf.constant(sigma)).numpy(), expected,
                               atol=1e-5)


# ------------------------------------------------------------------------------------------------ inputs
def test_unit_scale_and_network_inputs():
    raw = tf.constant([[0.0, 1000.0], [2000.0, 4000.0]])
    x = om.unit_scale(raw)
    np.testing.assert_allclose(x.numpy(), [[0, 0.25], [0.5, 1]])
    z = om.model_input(x, "zscore", 1).numpy()
    assert z.shape == (2, 2, 1) and abs(z.mean()) < 1e-6 and abs(z.std() - 1) < 1e-5
    rgb = om.model_input(x, "imagenet", 3).numpy()
    np.testing.assert_allclose(rgb[1, 0], [(0.5 - 0.485) / 0.229, (0.5 - 0.456) / 0.224, (0.5 - 0.406) / 0.225],
                               rtol=1e-5)
    assert (om.input_channels("resnet34_fpn"), om.input_channels("resnet22_unet"), om.input_channels("oulu_unet")) \
        == (3, 1, 1)


@pytest.fixture(scope="module")
def fixture_set(tmp_path_factory):
    """The real CBIS-DDSM fixture as the INbreast dataset, prepared at smoke size."""
    root = tmp_path_factory.mktemp("real")
    shutil.copytree(FIXTURE, root / "inbreast", ignore=shutil.ignore_patterns("*.py", "*.md", "__pycache__"))
    cfg = om.build_config("smoke", data_root=str(root))
    return cfg, om.prepare_mass_set(cfg, "inbreast", root / "run" / "data")


def test_real_fixture_data_path(fixture_set):
    cfg, mass_set = fixture_set
    assert not mass_set.synthetic and mass_set.source.startswith("real data")
    assert mass_set.has_mass.tolist() == [True, True, True, True, False]
    assert mass_set.patients.tolist()[:2] == ["P_00001", "P_00001"]
    assert mass_set.indices(("test",)).tolist() == [3, 4]
    pipeline = om.MassPipeline(cfg)
    idx = mass_set.indices(("train", "val"))
    x, y = next(iter(pipeline.train(mass_set.image_paths(idx), mass_set.mask_paths(idx), "resnet22_fpn")))
    assert x.shape == (4, 48, 48, 1) and y.shape == (4, 48, 48) and set(np.unique(y.numpy())) <= {0, 1}
    again = next(iter(pipeline.train(mass_set.image_paths(idx), mass_set.mask_paths(idx), "resnet22_fpn")))
    np.testing.assert_array_equal(x.numpy(), again[0].numpy())  # stateless: the same batch every time
    vx, vy = next(iter(pipeline.val(mass_set.image_paths(idx), mass_set.mask_paths(idx), "resnet34_unet")))
    assert vx.shape == (3, 48, 48, 3) and vy.shape == (3, 48, 48)
    assert pipeline.augment.experimental_get_tracing_count() == 1  # one trace shared by every dataset


def test_data_root_errors(tmp_path):
    (tmp_path / "other").mkdir()
    with pytest.raises(DataError, match="inbreast and/or oudsm"):
        om.dataset_source(om.build_config("smoke", data_root=str(tmp_path)), "inbreast")
    shutil.copytree(FIXTURE, tmp_path / "inbreast", ignore=shutil.ignore_patterns("*.py", "*.md"))
    meta = tmp_path / "inbreast" / "meta.csv"
    meta.write_text("\n".join(",".join(line.split(",")[:3]) for line in meta.read_text().splitlines()) + "\n")
    with pytest.raises(DataError, match="patient_id"):
        om.prepare_mass_set(om.build_config("smoke", data_root=str(tmp_path)), "inbreast", tmp_path / "run")


# ------------------------------------------------------------------------------------------------ loss
@pytest.mark.parametrize("name, expected", [
    # p = 0.5 everywhere, 2 of 4 pixels positive: TP = FP = FN = 1
    ("FT-B", (1 / 3) ** 1.0),  # TI = (1 + 1) / (1 + 0.5 + 0.5 + 1)
    ("FT-A", (1 / 3) ** 1.4),  # TI = (1 + 1) / (1 + 0.7 + 0.3 + 1)
    ("BCE-J", math.log(2) + 2 / 3),  # BCE ln 2; Jaccard 1 - 1 / (2 + 2 - 1)
])
def test_mass_loss_by_hand(name, expected):
    loss = om.MassLoss()
    loss.set(name)
    labels = tf.constant([[[1, 0], [1, 0]]])
    value = loss(labels, tf.zeros((1, 2, 2, 1))).numpy()
    np.testing.assert_allclose(value, [expected], rtol=1e-5)
    with pytest.raises(ConfigError):
        loss.set("Dice")


# ------------------------------------------------------------------------------------------------ weights
def test_named_weights_move_between_input_sizes():
    small = om.build_network(om.build_config("smoke"), "resnet22_fpn", 48)
    large = om.build_network(om.build_config("smoke"), "resnet22_fpn", 64)
    assert [v.path for v in small.weights] != [v.path for v in large.weights]  # order differs, names do not
    om.set_named_weights(large, om.named_weights(small))
    for path, value in om.named_weights(small).items():
        np.testing.assert_array_equal(om.named_weights(large)[path], value)
    with pytest.raises(ConfigError, match="do not fit"):
        om.set_named_weights(large, {"nope/kernel": np.zeros(1)})


def test_reused_trainer_restarts_where_a_new_trainer_starts(tmp_path):
    from mammoseg.train.loop import Trainer

    cfg = om.build_config("smoke")

    def make(name):
        loss = om.MassLoss()
        return Trainer(lambda: om.build_network(cfg, "resnet22_fpn", 48), loss, om.train_config(cfg), tmp_path / name,
                       2), loss

    shared = om._ReusableTrainer(*make("a"))
    for v in [*shared.trainer.model.variables, *shared.trainer.optimizer.variables]:
        v.assign(v + tf.cast(1, v.dtype))  # as if a fold had trained
    shared.reset(None)
    fresh, _ = make("b")
    for a, b in zip(shared.trainer.model.variables, fresh.model.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(shared.trainer.optimizer.variables, fresh.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


# ------------------------------------------------------------------------------------------------ ensembling
class _ConstantPredictor:
    """Each fold 'model' is a number: its probability everywhere."""

    def __init__(self):
        self.config = om.build_config("smoke", eval_chunk=2)

    def fold_probabilities(self, weights, images):
        return np.full(images.shape, weights, np.float32)


def _tiny_set(root: Path) -> om.MassSet:
    truth = np.zeros((8, 8), bool)
    truth[2:4, 2:4] = True  # 4 mass pixels
    for case, mask in (("m", truth), ("n1", np.zeros((8, 8), bool)), ("n2", np.zeros((8, 8), bool))):
        write_image(root / "images" / f"{case}.png", np.full((8, 8), 100, np.uint16))
        write_mask(root / "masks" / f"{case}.png", mask)
    return om.MassSet("t", root, "test", True, ["m", "n1", "n2"], np.array(["test"] * 3),
                      np.array([True, False, False]), np.array(["a", "b", "c"]))


def test_fold_mean_above_half_is_the_output(tmp_path):
    mass_set = _tiny_set(tmp_path)
    idx = np.arange(3)
    # folds 0.2 and 0.9: mean 0.55 > 0.5 -> every pixel positive; Dice of the mass image 2*4 / (4 + 64) = 0.1176
    ev = om.evaluate_row(_ConstantPredictor(), [0.2, 0.9], mass_set, idx)
    assert ev.counts == {"TP": 0, "FP": 3, "TN": 0, "FN": 0}
    assert ev.dice == pytest.approx(8 / 68) and ev.images_in_dice == 1
    assert (ev.accuracy, ev.specificity, ev.f1) == (0.0, 0.0, 0.0)
    # folds 0.2 and 0.6: mean 0.4 -> empty output: the mass image is FN, the others TN
    ev = om.evaluate_row(_ConstantPredictor(), [0.2, 0.6], mass_set, idx)
    assert ev.counts == {"TP": 0, "FP": 0, "TN": 2, "FN": 1}
    assert ev.accuracy == pytest.approx(2 / 3) and ev.specificity == 1.0 and ev.f1 == 0.0
    assert math.isnan(ev.dice)
