"""kth-seg recipe pieces: presets against the thesis text, the stage orchestration (dependency order, reuse,
divergence), and the Cityscapes input pipeline. Fast: no network is trained here."""
import json
import re
from pathlib import Path

import numpy as np
import pytest
from experiment_scripts import load_script

from mammoseg.errors import ConfigError, DataError
from mammoseg.recipes import kth_seg, segmentation
from mammoseg.recipes.segmentation import HyperParams, Schedule, StageSpec

REPO = Path(__file__).resolve().parents[1]
SEED_TEXT = REPO.parent / "shared" / "seeds" / "000_9773d1a2e01a2d7a.txt"
SCRIPTS = {t: f"0{i}_kth_seg_table5_{i}" for i, t in enumerate(kth_seg.TABLES, start=1)}


def _seed_lines() -> list[str]:
    if not SEED_TEXT.is_file():
        pytest.skip("thesis text (../shared/seeds) not beside the repository")
    return [" ".join(line.split()) for line in SEED_TEXT.read_text(encoding="utf-8").splitlines()]


# ------------------------------------------------------------------------------------------------ presets
def _thesis_hparam_block(lines: list[str], caption: str) -> dict:
    """Rows 'Model lr wd keep batch' printed just before a table caption (L1446-1476)."""
    end = next(i for i, line in enumerate(lines) if line.startswith(caption))
    rows = {}
    for line in reversed(lines[end - 14:end]):
        match = re.match(r"(.+?) ([0-9.e-]+) ([0-9.e-]+) ([0-9.]+) (\d+)$", line)
        if match:
            rows[match.group(1)] = tuple(float(g) for g in match.groups()[1:])
    return rows


@pytest.mark.parametrize("caption,table", [("Table 4.12", kth_seg.TABLE_4_12), ("Table 4.13", kth_seg.TABLE_4_13)])
def test_hyperparameters_equal_the_thesis_text(caption, table):
    printed = _thesis_hparam_block(_seed_lines(), caption)
    names = {"Dilation10 - Front": "Dilation10 - front", "Dilation10 - Context": "Dilation10 - context",
             "Dilation10 - Global": "Dilation10 - global", "Deeplab": "Deeplab_v3"}
    assert len(printed) == 9
    for row, hp in table.items():
        assert printed[names.get(row, row)] == (hp.learning_rate, hp.weight_decay, hp.keep_prob, hp.batch_size)


@pytest.mark.parametrize("table", list(kth_seg.TABLES))
def test_published_numbers_are_the_thesis_lines(table):
    """Each script's thesis row reads, number for number, as a line of the thesis text (L1523-1639)."""
    lines = _seed_lines()
    published = load_script(SCRIPTS[table]).TABLE.rows
    assert tuple(published) == kth_seg.TABLES[table].rows
    caption = next(i for i, line in enumerate(lines) if line.startswith(f"Table {table}: Results"))
    block = lines[caption - 16:caption]
    for row, values in published.items():
        assert f"{row} " + " ".join(f"{v:.2f}" for v in values) in block, row


def test_full_preset_is_the_thesis_setup():
    mammo, city = kth_seg.build_config("5.3", "full"), kth_seg.build_config("5.1", "full")
    assert mammo.hparams["FCN16"] == HyperParams(1e-7, 1e-8, 1.0, 20)
    assert city.hparams["GCN"] == HyperParams(7e-7, 5e-5, 1.0, 2)
    assert mammo.hparams["U-Net"].dropout_rate == pytest.approx(0.25)
    sizes = {row: (m.input_size, m.crop_size) for row, m in mammo.models.items()}
    assert sizes == {"FCN32": (256, 256), "FCN16": (256, 256), "FCN8": (256, 256), "U-Net": (572, 700),
                     "Dilation10 - Front": (632, 700), "Dilation10 - Context": (1024, 1500),
                     "Dilation10 - Global": (1400, 1500), "Deeplab": (769, 900), "GCN": (800, 900)}
    assert [mammo.models[r].init_from for r in ("FCN16", "FCN8", "Dilation10 - Context", "Dilation10 - Global")] \
        == ["FCN32", "FCN16", "Dilation10 - Front", "Dilation10 - Context"]
    assert mammo.schedule.lr_patience == 10 and mammo.schedule.lr_factor == 0.5 and mammo.schedule.batch_cap is None
    assert all(20 <= m.patience <= 50 for m in mammo.models.values())  # L1478-1481
    adv = mammo.adversarial_settings
    assert (adv.generator_lr, adv.discriminator_lr, adv.adversarial_weight,
            adv.discriminator_steps_per_generator_step) == (1e-6, 1e-5, 0.1, 50)
    assert mammo.crops_per_image == {"train": 50, "val": 50} and mammo.crop_count_factors == {1500: 0.5}
    assert (mammo.split, mammo.rows, mammo.adversarial) == ("test", kth_seg.TEST_ROWS, False)
    assert kth_seg.build_config("5.4", "full").rows == kth_seg.ADVERSARIAL_ROWS


def test_presets_agree_with_the_training_recipes():
    """The stage chain and the adversarial defaults are the ones `mammoseg.train` registers for kth-seg."""
    from mammoseg.train.adversarial import AdversarialConfig, adversarial_train_config
    from mammoseg.train.config import TrainConfig
    from mammoseg.train.recipes import KTH_SEG_CHAIN

    for scale in ("smoke", "full"):
        chain = {m.model: kth_seg.build_config("5.1", scale).models[m.init_from].model
                 for m in kth_seg.build_config("5.1", scale).models.values() if m.init_from}
        assert chain == KTH_SEG_CHAIN
    ours, theirs = segmentation.AdversarialSettings(), AdversarialConfig()
    assert (ours.discriminator_lr, ours.adversarial_weight, ours.discriminator_steps_per_generator_step,
            ours.gradient_penalty_weight) == (theirs.discriminator_lr, theirs.adversarial_weight,
                                              theirs.discriminator_steps_per_generator_step,
                                              theirs.gradient_penalty_weight)
    assert ours.generator_lr == adversarial_train_config(TrainConfig()).learning_rate


def test_smoke_preset_keeps_the_thesis_structure():
    smoke = kth_seg.build_config("5.2", "smoke", seed=3)
    full = kth_seg.build_config("5.2", "full")
    assert smoke.schedule.seed == 3 and smoke.schedule.batch_cap == 4 and smoke.schedule.epochs <= 2
    for row in kth_seg.ROWS:
        assert smoke.models[row].model == full.models[row].model
        assert smoke.models[row].init_from == full.models[row].init_from
        assert smoke.models[row].input_size <= smoke.models[row].crop_size
        assert smoke.hparams[row].batch_size == full.hparams[row].batch_size  # capped at run time, not here
    with pytest.raises(ConfigError, match="unknown kth-seg table"):
        kth_seg.build_config("5.7")
    with pytest.raises(ConfigError, match="rows"):
        kth_seg.thesis_table("5.3", {"FCN8": (1, 2, 3)})


def test_stage_specs_attach_imagenet_files_only_where_the_thesis_starts_from_them():
    config = kth_seg.build_config("5.2", "smoke", vgg16_weights="v.npz", resnet18_weights="r.npz")
    files = {s.row: s.encoder_weights for s in kth_seg.stage_specs(config)}
    assert files == {"FCN32": "v.npz", "FCN16": None, "FCN8": None, "U-Net": None, "Dilation10 - Front": "v.npz",
                     "Dilation10 - Context": None, "Dilation10 - Global": None, "Deeplab": "r.npz", "GCN": "r.npz"}


def test_model_kwargs_turn_keep_probability_into_a_dropout_rate():
    unet = StageSpec("U-Net", "unet", 76, 96, HyperParams(1e-3, 0.0, 0.75, 4), model_kwargs={"depth": 2},
                     encoder_weights="x.npz")
    gcn = StageSpec("GCN", "gcn", 96, 112, HyperParams(5e-3, 0.0, 1.0, 2), encoder_weights="r.npz")
    assert segmentation.model_kwargs(unet, 13) == {"input_shape": (76, 76, 3), "num_classes": 13, "depth": 2,
                                                   "dropout": 0.25}
    assert "dropout" not in segmentation.model_kwargs(gcn, 19)  # the GCN builder has no dropout
    assert segmentation.model_kwargs(gcn, 19, with_encoder=True)["encoder_weights"] == "r.npz"
    assert segmentation.batch_size_of(unet, Schedule(batch_cap=2)) == 2
    assert segmentation.batch_size_of(unet, Schedule()) == 4


# ------------------------------------------------------------------------------------------------ orchestration
def _spec(row, init=None):
    return StageSpec(row, row.lower(), 8, 8, HyperParams(0.1, 0.0, 1.0, 2), init_from=init)


SPECS = [_spec("A"), _spec("B", "A"), _spec("C", "B"), _spec("D")]


def test_needed_rows_lists_parents_first_once():
    assert [s.row for s in segmentation.needed_rows(SPECS, ["C", "B", "D"])] == ["A", "B", "C", "D"]
    with pytest.raises(ConfigError, match="cycle"):
        segmentation.needed_rows([_spec("A", "B"), _spec("B", "A")], ["A"])
    with pytest.raises(ConfigError, match="no stage spec"):
        segmentation.needed_rows(SPECS, ["Z"])


class _FakeData:
    name = "fake"
    label_set = segmentation.MAMMO13
    eval_overlap = 0.25
    val_matches_training = False

    def __init__(self):
        self.evaluated = []

    def describe(self):
        return {"dataset": "fake"}

    def evaluate(self, model, spec, split):
        self.evaluated.append(spec.row)
        return {"pixel_accuracy": 0.5, "mean_iou": 0.25, "mean_class_accuracy": 0.125}


@pytest.fixture
def fake_training(monkeypatch):
    """train_stage writes a placeholder weights file (or diverges for rows in `diverge`); no TensorFlow."""
    calls, diverge = [], set()

    def train_stage(spec, data, schedule, stage_dir, *, init=None, adversarial=None):
        calls.append((spec.row, None if init is None else init[1].row, adversarial is not None))
        stage_dir.mkdir(parents=True, exist_ok=True)
        weights = stage_dir / "best.weights.h5"
        facts = {"best_epoch": 1, "epochs_run": 2, "best_val": {"pixel_accuracy": 0.9, "mean_iou": 0.6,
                                                                "mean_class_accuracy": 0.7}}
        if spec.row in diverge:
            return {**facts, "weights": None, "failure": "diverged (no finite val_loss in 2 epochs)"}
        weights.write_bytes(b"w")
        return {**facts, "weights": weights}

    monkeypatch.setattr(segmentation, "train_stage", train_stage)
    monkeypatch.setattr(segmentation, "load_trained", lambda spec, n, weights: object())
    monkeypatch.setattr("keras.backend.clear_session", lambda: None)  # nothing was built
    return calls, diverge


def _go(run_dir, rows, data=None, **kw):
    return segmentation.train_and_evaluate_segmentation(SPECS, data or _FakeData(), Schedule(), run_dir, rows=rows,
                                                        log=lambda m: None, **kw)


def test_training_order_reuse_and_saved_evaluations(tmp_path, fake_training):
    calls, _ = fake_training
    first = _go(tmp_path / "one", ["C", "D"])
    assert calls == [("A", None, False), ("B", "A", False), ("C", "B", False), ("D", None, False)]
    assert first["C"].metrics["mean_iou"] == 0.25 and not first["C"].reused
    # A second table on the same split reuses every stage and the saved evaluation: nothing runs again.
    calls.clear()
    data = _FakeData()
    second = _go(tmp_path / "two", ["C"], data=data, reuse_from=tmp_path / "one")
    assert calls == [] and data.evaluated == [] and second["C"].reused
    assert second["C"].weights == first["C"].weights
    # ... and records pointing at the reused weights, so a third run can reuse the second.
    third = _go(tmp_path / "three", ["B"], reuse_from=tmp_path / "two")
    original_b = json.loads((tmp_path / "one" / "fake" / "b" / "stage.json").read_text())["weights"]
    assert calls == [] and str(third["B"].weights) == original_b
    # The adversarial stage starts from the row's own weights; the baseline is the non-adversarial row.
    adv = _go(tmp_path / "four", ["B"], reuse_from=tmp_path / "one",
              adversarial=segmentation.AdversarialSettings(epochs=1))
    assert calls == [("B", "B", True)] and adv["B"].baseline["mean_iou"] == 0.25
    assert (tmp_path / "four" / "fake" / "b_adversarial" / "stage.json").is_file()


def test_validation_that_equals_the_training_validation_is_read_from_the_run(tmp_path, fake_training):
    data = _FakeData()
    data.val_matches_training = True
    out = _go(tmp_path, ["D"], data=data)
    assert data.evaluated == [] and out["D"].metrics == {"pixel_accuracy": 0.9, "mean_iou": 0.6,
                                                         "mean_class_accuracy": 0.7}


def test_reuse_of_a_stage_trained_otherwise_is_an_error(tmp_path, fake_training):
    _go(tmp_path / "one", ["D"])
    changed = [*SPECS[:3], StageSpec("D", "d", 8, 8, HyperParams(0.2, 0.0, 1.0, 2))]
    with pytest.raises(ConfigError, match="spec differ"):
        segmentation.train_and_evaluate_segmentation(changed, _FakeData(), Schedule(), tmp_path / "two", rows=["D"],
                                                     reuse_from=tmp_path / "one", log=lambda m: None)
    record = json.loads((tmp_path / "one" / "fake" / "d" / "stage.json").read_text())
    Path(record["weights"]).unlink()
    with pytest.raises(DataError, match="missing"):
        _go(tmp_path / "three", ["D"], reuse_from=tmp_path / "one")


def test_a_diverged_stage_leaves_its_row_and_its_children_without_numbers(tmp_path, fake_training):
    calls, diverge = fake_training
    diverge.add("A")
    out = _go(tmp_path, ["C", "D"])
    assert [c[0] for c in calls] == ["A", "D"]  # B and C cannot start from A
    assert np.isnan(out["C"].metrics["mean_iou"]) and out["C"].weights is None
    assert out["C"].failure.startswith("not trained: A diverged")
    assert out["D"].metrics["mean_iou"] == 0.25


# ------------------------------------------------------------------------------------------------ Cityscapes input
@pytest.fixture(scope="module")
def tiny_cityscapes(tmp_path_factory):
    from mammoseg.data.synthetic_cityscapes import make_cityscapes_like

    return make_cityscapes_like(tmp_path_factory.mktemp("city"), {"train": 2, "val": 1}, size=(64, 128), seed=0)


def test_cityscapes_training_batches(tiny_cityscapes):
    from mammoseg.io.cityscapes import read_cityscapes_pair

    data = segmentation.CityscapesData(tiny_cityscapes)
    spec = StageSpec("X", "fcn8", 96, 96, HyperParams(0.1, 0.0, 1.0, 2))  # taller than the 64-px images
    make, steps = data.train_data(spec, 2, seed=5)
    assert steps == 1
    (x, y), = make(0).take(1)
    x, y = x.numpy(), y.numpy()
    assert x.shape == (2, 96, 96, 3) and y.shape == (2, 96, 96)
    assert x.min() >= -0.5 and x.max() <= 0.5
    assert set(np.unique(y)) <= set(range(19)) | {255}
    # 64 image rows in a 96-row crop: at least 32 rows per example are padding, labelled ignore
    assert all((y[i] == 255).all(axis=1).sum() >= 32 for i in range(2))
    (x2, y2), = make(0).take(1)  # stateless: the same epoch gives the same batch
    np.testing.assert_array_equal(x, x2.numpy())
    # class weights: w = 1 - x/100 over the training train ids, ignore excluded (counted here with numpy)
    counts = sum(np.bincount(read_cityscapes_pair(p)[1].ravel(), minlength=256)[:19] for p in data.pairs["train"])
    np.testing.assert_allclose(data.class_weights(), 1 - counts / counts.sum(), rtol=1e-6)
    (xv, yv), = data.val_data(spec, 4)().take(1)
    assert xv.shape == (1, 96, 96, 3) and (yv.numpy() == 255).any()
    with pytest.raises(ConfigError, match="val split"):
        data.evaluate(None, spec, "test")
