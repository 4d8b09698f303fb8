"""INbreast-like binary mass dataset (the `oulu-mass` layout) for recipes and tests without the real data.

`<root>/images/<id>.dcm|png`, `<root>/masks/<id>.png`, `<root>/meta.csv` (id, split, has_mass, patient_id,
laterality, view): what `mammoseg.io.inbreast.read_mass_dataset` reads. Each patient contributes the CC and MLO
view of one breast; both views of a breast with a mass show one (drawn independently). Splits are by patient
(60 / 15 / 25 % train / val / test, seed 002 L960-964) and `patient_id` is the group for GroupKFold.
Details and limits: docs/data-synthetic.md.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..io.dicom import write_dicom
from ..io.inbreast import IMAGE_SUFFIXES, META_FILE
from ..io.raster import write_image, write_mask
from .phantom import (MAX_VALUE, add_calcification_cluster, add_mass, assign_group_splits, check_count, check_seed,
                      check_shape, finish_mammogram, render_breast, reproducible_uid, stream_rng, write_csv)

MASS_SPLIT_FRACTIONS = {"train": 0.6, "val": 0.15, "test": 0.25}
META_COLUMNS = ("id", "split", "has_mass", "patient_id", "laterality", "view")
VIEWS = ("CC", "MLO")
BITS_STORED = 12
_NATIVE_PIXEL_MM, _NATIVE_ROWS = 0.07, 3328  # INbreast (seed 002 L783-784); spacing scales with the image
_PATIENT_STREAM, _IMAGE_STREAM, _ASSIGN_STREAM = 0, 1, 2
# Orientation of rows / columns (DICOM C.8.11.4): "A" rows point to the nipple, i.e. the chest wall is on the left
_ORIENTATION = {("L", "CC"): ["A", "R"], ("L", "MLO"): ["A", "FR"], ("R", "CC"): ["P", "L"], ("R", "MLO"): ["P", "FL"]}


def case_id(patient: int, laterality: str, view: str) -> str:
    return f"P{patient:03d}_{'LEFT' if laterality == 'L' else 'RIGHT'}_{view}"


def render_mass_case(rng: np.random.Generator, size=(256, 192), has_mass: bool = True, view: str = "MLO"):
    """(uint16 12-bit image of a left breast, bool mass mask); the mask is empty when `has_mass` is False.

    Masses are 1-2 per image, 4-16 px in radius at 256 px (log-uniform), of all three margin types; calcification
    clusters (40 % of images) and lymph nodes are drawn but are not masses.
    """
    breast = render_breast(rng, size, view)
    u = breast.size_unit
    taken = np.zeros(size, bool)
    if rng.random() < 0.4:
        region = add_calcification_cluster(rng, breast, rng.uniform(5, 12) * u)
        if region is not None:
            taken |= region
    mask = np.zeros(size, bool)
    for index in range(int(rng.integers(1, 3)) if has_mass else 0):
        radius = math.exp(rng.uniform(math.log(4), math.log(16))) * u
        margin = ("circumscribed", "lobulated", "spiculated")[int(rng.integers(3))]
        while True:
            blob = add_mass(rng, breast, radius, margin, taken | mask)
            if blob is not None or index > 0 or radius < 2:
                break
            radius *= 0.8  # the first mass must fit: a has_mass image without a mask is invalid
        if blob is not None:
            mask |= blob
    if has_mass and not mask.any():
        raise RuntimeError("no mass fits the breast; the image size is too small")
    return finish_mammogram(rng, breast), mask


def _positive_patients(n_patients: int, mass_fraction: float, rng) -> set[int]:
    """Exactly round(fraction x patients) patients with a mass; at least one of each kind when both are asked."""
    n_pos = round(mass_fraction * n_patients)
    if 0 < mass_fraction < 1 and n_patients >= 2:
        n_pos = min(max(n_pos, 1), n_patients - 1)
    return set(rng.permutation(n_patients)[:n_pos].tolist())


def _write_image(images_dir: Path, cid: str, image: np.ndarray, fmt: str, index: int, seed: int,
                 laterality: str, view: str, patient: str) -> None:
    """The image file; DICOMs vary in the ways real archives do (RLE, MONOCHROME1) so readers get exercised."""
    for suffix in IMAGE_SUFFIXES:  # a rerun in another format must not leave a second image for the id
        if suffix != f".{fmt}":
            (images_dir / f"{cid}{suffix}").unlink(missing_ok=True)
    if fmt == "png":
        write_image(images_dir / f"{cid}.png", image)
        return
    monochrome1 = index % 4 == 1  # stored inverted; the reader turns it back
    spacing = round(_NATIVE_PIXEL_MM * _NATIVE_ROWS / image.shape[0], 4)
    write_dicom(
        images_dir / f"{cid}.dcm", (MAX_VALUE - image) if monochrome1 else image,
        uid=reproducible_uid("mass", seed, cid), rle=index % 3 == 2,
        photometric="MONOCHROME1" if monochrome1 else "MONOCHROME2", bits_stored=BITS_STORED,
        ImageLaterality=laterality, ViewPosition=view, PatientOrientation=_ORIENTATION[laterality, view],
        PatientID=patient, ImagerPixelSpacing=[spacing, spacing],
        StudyInstanceUID=reproducible_uid("mass-study", seed, patient),
        SeriesInstanceUID=reproducible_uid("mass-series", seed, patient, laterality))


def make_mass_dataset(root: str | Path, n_cases: int = 16, size=(256, 192), seed: int = 0,
                      mass_fraction: float = 0.6, fmt: str = "dcm") -> Path:
    """Write an INbreast-like dataset under `root` (same arguments -> byte-identical files) and return root.

    Mass-free breasts get an all-zero mask for their CC view and no mask file for their MLO view: the reader
    accepts both, and loaders should too.
    """
    n_cases = check_count("n_cases", n_cases)
    seed = check_seed(seed)
    size = check_shape("size", size, (64, 64))
    if fmt not in ("dcm", "png"):
        raise ConfigError(f"fmt must be 'dcm' or 'png', got {fmt!r}")
    if not 0 <= mass_fraction <= 1:
        raise ConfigError(f"mass_fraction must be in [0, 1], got {mass_fraction!r}")
    root = Path(root)
    images_dir, masks_dir = root / "images", root / "masks"
    images_dir.mkdir(parents=True, exist_ok=True)
    masks_dir.mkdir(parents=True, exist_ok=True)

    n_patients = math.ceil(n_cases / len(VIEWS))
    positive = _positive_patients(n_patients, mass_fraction, stream_rng(seed, _ASSIGN_STREAM, 0))
    split_of = assign_group_splits(n_patients, MASS_SPLIT_FRACTIONS, stream_rng(seed, _ASSIGN_STREAM, 1))
    rows = []
    for index in range(n_cases):
        patient, view = divmod(index, len(VIEWS))
        laterality = "LR"[int(stream_rng(seed, _PATIENT_STREAM, patient).integers(2))]
        has_mass = patient in positive
        image, mask = render_mass_case(stream_rng(seed, _IMAGE_STREAM, index), size, has_mass, VIEWS[view])
        if laterality == "R":
            image, mask = np.ascontiguousarray(image[:, ::-1]), np.ascontiguousarray(mask[:, ::-1])
        cid, patient_id = case_id(patient, laterality, VIEWS[view]), f"P{patient:03d}"
        _write_image(images_dir, cid, image, fmt, index, seed, laterality, VIEWS[view], patient_id)
        if has_mass or VIEWS[view] == "CC":
            write_mask(masks_dir / f"{cid}.png", mask)
        else:
            (masks_dir / f"{cid}.png").unlink(missing_ok=True)
        rows.append((cid, split_of[patient], int(has_mass), patient_id, laterality, VIEWS[view]))
    write_csv(root / META_FILE, META_COLUMNS, rows)
    return root
