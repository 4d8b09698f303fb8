"""Pig-CT-like volumes (the `pig-ct` layout): HU volumes and "edible" label volumes of a pig lying in a tray.

Layout: `<root>/<scan>/volume.npy` (int16 HU, (z, y, x)) or `<root>/<scan>/ct/slice_NNNN.dcm` (one CT slice per
file, stored value = HU + 1024 with Rescale Intercept -1024), always with `<root>/<scan>/label.npy` (uint8, 1 =
edible) and `<root>/splits.csv` (case, split); what `mammoseg.io.volume.read_ct_volume` / `read_label_volume` and
`mammoseg.io.annotations.read_splits` read. The label follows seed 003 L1296-1302: edible = 1 (meat and fat of
the carcass, ribs included); background = 0 (air, tray, head, spine and limb bones, and the body cavity with
lungs, heart, liver and intestines). Intensities follow Table 3.1 (L1292-1295). Details: docs/data-synthetic.md.
"""
from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
from scipy import ndimage

from ..errors import ConfigError
from ..io.annotations import SPLITS_FILE, format_splits
from ..io.atomic import atomic_folder, atomic_write_bytes
from ..io.dicom import write_dicom
from ..io.volume import CT_DICOM_DIR, CT_LABEL_FILE, CT_VOLUME_FILE
from .phantom import assign_group_splits, check_count, check_seed, check_shape, reproducible_uid, stream_rng

CT_SPLIT_FRACTIONS = {"train": 0.7, "val": 0.15, "test": 0.15}
HU_OFFSET = 1024  # stored = HU + 1024, the usual CT encoding (Rescale Intercept -1024)
FIELD_OF_VIEW_MM, PIG_LENGTH_MM = 600.0, 1300.0  # the scan covers the pig; voxel size follows from the shape
_SCAN_STREAM, _SPLIT_STREAM = 0, 1
# Body width along the pig (fraction of its length -> relative width): snout, head, shoulders, belly, hams, tail.
_PROFILE_AT = (0.0, 0.03, 0.12, 0.2, 0.35, 0.6, 0.8, 0.92, 0.97, 1.0)
_PROFILE = (0.0, 0.35, 0.65, 0.9, 1.0, 1.05, 1.0, 0.85, 0.4, 0.0)


def scan_name(index: int) -> str:
    return f"pig_{index:03d}"


def _ellipse(yy, xx, cy, cx, ay, ax):
    """Normalised elliptic radius (< 1 inside); centres and axes broadcast along z."""
    return np.sqrt(((yy - cy) / np.maximum(ay, 1e-3)) ** 2 + ((xx - cx) / np.maximum(ax, 1e-3)) ** 2)


def _band(u, start, end, ramp=0.03):
    """1 inside [start, end] along the pig, 0 outside, with short linear ramps (organs taper, not cut)."""
    return np.clip(np.minimum(u - start, end - u) / ramp + 0.5, 0, 1)


def render_ct_scan(rng: np.random.Generator, shape=(48, 64, 64)) -> tuple[np.ndarray, np.ndarray]:
    """(int16 HU volume, uint8 edible label), both (z, y, x); z runs from snout to tail.

    Muscle of the carcass and the intestines, heart and liver share the soft-tissue HU range, ribs (edible) and
    spine / limb bones (not) share the bone range, so the label follows anatomy and position, not HU alone.
    """
    Z, Y, X = shape
    zz, yy, xx = np.meshgrid((np.arange(Z) + 0.5) / Z, np.arange(Y, dtype=np.float32),
                             np.arange(X, dtype=np.float32), indexing="ij")
    u = zz  # position along the pig, 0 = snout
    width = np.interp(u, _PROFILE_AT, _PROFILE).astype(np.float32)
    # a slight roll of the whole pig (seed 003 L1737: one pig lies rotated) and a wobble of the body outline
    roll = np.deg2rad(rng.uniform(-7, 7))
    cx0, tray_bottom = X / 2 + rng.uniform(-0.04, 0.04) * X, 0.88 * Y
    ax = rng.uniform(0.27, 0.33) * X * width * (1 + 0.03 * np.sin(2 * np.pi * u * rng.uniform(2, 4)))
    ay = rng.uniform(0.23, 0.28) * Y * width
    cy = tray_bottom - 1.5 - ay  # resting on the tray
    ys, xs = yy - cy, xx - cx0
    yr, xr = ys * np.cos(roll) - xs * np.sin(roll), ys * np.sin(roll) + xs * np.cos(roll)  # body frame
    body = _ellipse(yr, xr, 0, 0, ay, ax) < 1

    depth = np.stack([ndimage.distance_transform_edt(b) for b in body]).astype(np.float32)
    dorsal = np.clip(-yr / np.maximum(ay, 1e-3), 0, 1)  # back fat is thicker than belly fat
    fat_layer = body & (depth <= rng.uniform(2.0, 3.0) * (1 + 0.7 * dorsal) * Y / 64)

    hu = np.full(shape, -1000.0, np.float32)
    marbling = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), (1.5, 0.7, 0.7))
    muscle = rng.uniform(42, 58) + 6 * marbling / (marbling.std() + 1e-6)
    intramuscular_fat = marbling > np.quantile(marbling, 0.93)
    hu[body] = muscle[body]
    hu[body & intramuscular_fat] = rng.uniform(-90, -60)
    hu[fat_layer] = rng.uniform(-115, -80)
    edible = body.copy()

    # --- head: skull and brain; all background (the carcass starts at the neck)
    neck = rng.uniform(0.13, 0.17)
    head = body & (u < neck)
    skull = head & (depth > 1) & (depth <= 2.2 * Y / 64)
    hu[skull] = rng.uniform(900, 1300)
    hu[head & (depth > 2.2 * Y / 64)] = rng.uniform(30, 40)
    edible &= ~head

    # --- body cavity: lungs + heart in the thorax, liver and gas-filled intestines in the abdomen
    cavity_span = _band(u, 0.3, 0.76) * width
    cav = _ellipse(yr, xr, 0.18 * ay, 0, 0.55 * ay * cavity_span, 0.62 * ax * cavity_span) < 1
    thorax, abdomen = cav & (u < 0.48), cav & (u >= 0.48)
    heart = thorax & (_ellipse(yr, xr, 0.35 * ay, 0, 0.3 * ay * cavity_span, 0.28 * ax * cavity_span) < 1)
    lung = thorax & ~heart & (np.abs(xr) > 0.08 * ax)
    hu[thorax] = rng.uniform(35, 50)  # heart and mediastinum: soft tissue like the muscle around them
    hu[lung] = rng.uniform(-820, -680) + 60 * marbling[lung]
    liver = abdomen & (u < 0.56) & (yr < 0.25 * ay)
    hu[liver] = rng.uniform(55, 68)
    loops = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), (1.0, 1.2, 1.2))
    loops /= loops.std() + 1e-6
    gut = abdomen & ~liver
    hu[gut] = rng.uniform(20, 40) + 8 * loops[gut]
    hu[gut & (loops > 1.6)] = rng.uniform(-980, -900)  # gas
    hu[gut & (loops < -1.4)] = rng.uniform(-100, -70)  # mesenteric fat
    edible &= ~cav

    # --- ribs: thin bone arcs around the thorax every few slices; edible (sold with the meat)
    period = max(2, round(Z / 24))
    rib_slices = (np.floor(u * Z) % period == 0) & (u > 0.3) & (u < 0.52)
    around = _ellipse(yr, xr, 0.18 * ay, 0, 0.55 * ay * cavity_span, 0.62 * ax * cavity_span)
    ribs = rib_slices & body & (around >= 1.06) & (around < 1.16) & (yr < 0.3 * ay)
    hu[ribs] = rng.uniform(400, 750)

    # --- spine along the back (vertebrae, discs, canal) and limb bones in the shoulders and hams: background
    rv = 0.16 * ay + 0.5
    spine_span = (u > 0.12) & (u < 0.93)
    vertebra = spine_span & (_ellipse(yr, xr, -0.5 * ay, 0, rv, rv) < 1)
    canal = spine_span & (_ellipse(yr, xr, -0.5 * ay - 1.3 * rv, 0, 0.45 * rv, 0.45 * rv) < 1)
    disc = vertebra & (np.floor(u * Z) % (period + 1) == 0)
    hu[vertebra] = rng.uniform(250, 380)
    hu[vertebra & (_ellipse(yr, xr, -0.5 * ay, 0, rv, rv) > 0.65)] = rng.uniform(1000, 1400)  # cortex
    hu[disc] = rng.uniform(70, 95)
    hu[canal] = rng.uniform(15, 30)
    limbs = ((u > 0.2) & (u < 0.33)) | ((u > 0.74) & (u < 0.88))
    limb_bone = np.zeros(shape, bool)
    for side in (-1, 1):
        r = _ellipse(yr, xr, 0.35 * ay, side * 0.55 * ax, 0.1 * ay + 0.6, 0.1 * ay + 0.6)
        limb_bone |= limbs & body & (r < 1)
        hu[limbs & body & (r < 1)] = rng.uniform(1100, 1500)
        hu[limbs & body & (r < 0.5)] = rng.uniform(150, 300)  # marrow
    edible &= ~(vertebra | canal | limb_bone)

    # --- the U-shaped plastic tray under the pig
    tray_r = _ellipse(yy, xx, cy.min(), cx0, tray_bottom - cy.min(), 0.42 * X)
    tray = (tray_r >= 1) & (tray_r < 1 + 2.0 / (0.42 * X)) & (yy > cy.min()) & ~body
    hu[tray] = rng.uniform(90, 160)

    # --- acquisition: partial-volume blur and noise
    hu = ndimage.gaussian_filter(hu, (0.4, 0.6, 0.6)) + rng.normal(0, rng.uniform(8, 18), shape).astype(np.float32)
    hu = np.clip(np.round(hu), -HU_OFFSET, 3071).astype(np.int16)
    return hu, edible.astype(np.uint8)


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _write_dicom_series(folder: Path, hu: np.ndarray, seed: int, scan: str) -> None:
    Z, Y, X = hu.shape
    dz, dxy = PIG_LENGTH_MM / Z, FIELD_OF_VIEW_MM / max(Y, X)
    study, series = reproducible_uid("ct-study", seed, scan), reproducible_uid("ct-series", seed, scan)
    stored = (hu.astype(np.int32) + HU_OFFSET).astype(np.uint16)
    for k in range(Z):
        write_dicom(
            folder / f"slice_{k:04d}.dcm", stored[k], uid=reproducible_uid("ct", seed, scan, k), modality="CT",
            bits_stored=12, RescaleIntercept=-HU_OFFSET, RescaleSlope=1, RescaleType="HU",
            ImagePositionPatient=[-X * dxy / 2, -Y * dxy / 2, k * dz], ImageOrientationPatient=[1, 0, 0, 0, 1, 0],
            PixelSpacing=[dxy, dxy], SliceThickness=dz, InstanceNumber=k + 1, PatientID=scan,
            StudyInstanceUID=study, SeriesInstanceUID=series)


def make_ct_dataset(root: str | Path, n_scans: int = 3, shape=(48, 64, 64), seed: int = 0, fmt: str = "npy") -> Path:
    """Write pig-CT-like scans under `root` (same arguments -> byte-identical files) and return root.

    `fmt="npy"`: volume.npy; `fmt="dicom"`: a ct/ folder of slices (swapped in whole, never half written). Both
    hold the same HU values for the same seed.
    """
    n_scans = check_count("n_scans", n_scans)
    seed = check_seed(seed)
    shape = check_shape("shape", shape, (16, 32, 32))
    if fmt not in ("npy", "dicom"):
        raise ConfigError(f"fmt must be 'npy' or 'dicom', got {fmt!r}")
    root = Path(root)
    splits = assign_group_splits(n_scans, CT_SPLIT_FRACTIONS, stream_rng(seed, _SPLIT_STREAM))
    for index in range(n_scans):
        scan = scan_name(index)
        folder = root / scan
        folder.mkdir(parents=True, exist_ok=True)
        hu, label = render_ct_scan(stream_rng(seed, _SCAN_STREAM, index), shape)
        if fmt == "npy":
            atomic_write_bytes(folder / CT_VOLUME_FILE, _npy_bytes(hu))
            shutil.rmtree(folder / CT_DICOM_DIR, ignore_errors=True)  # a rerun in another format: one volume per scan
        else:
            with atomic_folder(folder / CT_DICOM_DIR) as tmp:  # swapped in whole, never half a series
                _write_dicom_series(tmp, hu, seed, scan)
            (folder / CT_VOLUME_FILE).unlink(missing_ok=True)
        atomic_write_bytes(folder / CT_LABEL_FILE, _npy_bytes(label))
    atomic_write_bytes(root / SPLITS_FILE, format_splits({scan_name(i): splits[i] for i in range(n_scans)}))
    return root
