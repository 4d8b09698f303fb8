"""Mammogram DICOM reading with pydicom: modality LUT, VOI LUT / window, MONOCHROME1, laterality, flipping.

Order of operations follows DICOM PS3.3 C.11 (the display pipeline): stored values -> modality LUT or
Rescale Slope/Intercept -> VOI LUT sequence or window -> MONOCHROME1 inversion. The result is what a
radiologist's viewer shows, so that every dataset ends up with "bright tissue on a dark background".

Output dtype (documented in docs/data-readers.md):
- uint8 when every value is an integer in [0, 255] and the file stores at most 8 bits;
- uint16 when every value is an integer in [0, 65535] (the usual 12-16 bit mammogram: 16-bit is kept);
- float32 only when a rescale makes values non-integer or negative and no VOI transform is applied.
A window maps onto [0, 2**BitsStored - 1] and is rounded, so a windowed image is always an unsigned integer.
"""
from __future__ import annotations

import io
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from pydicom.uid import ExplicitVRLittleEndian, RLELossless, generate_uid

from ..errors import DataError
from .atomic import atomic_write_bytes

LEFT, RIGHT = "left", "right"
_LATERALITY_TAGS = ("ImageLaterality", "Laterality")  # (0020,0062), (0020,0060)
_FRAME_LATERALITY_TAG = 0x00209072  # Frame Laterality, inside functional-group sequences (enhanced MG)


@dataclass
class DicomImage:
    """One 2-D mammogram as displayed: tissue bright (MONOCHROME2 after inversion), pixels row-major."""

    pixels: np.ndarray
    laterality: str | None  # "L" / "R": from the header, else inferred from the image (laterality_source)
    laterality_source: str | None  # "header", "image" or None (no breast found)
    chest_wall_side: str  # "left" / "right": the image edge the breast is attached to, after any flip
    flipped: bool  # True if the pixels were mirrored left-right to honour `flip_to`
    photometric: str  # PhotometricInterpretation as stored (MONOCHROME1 is inverted in `pixels`)
    spacing: tuple[float, float] | None  # (row, column) mm from PixelSpacing / ImagerPixelSpacing
    view: str | None  # ViewPosition, e.g. "CC", "MLO"
    path: Path


def read_dataset(path: str | Path):
    """pydicom Dataset of `path`; every failure (missing, empty, not DICOM, truncated header) is a DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    if path.stat().st_size == 0:
        raise DataError(path, "empty file (0 bytes)")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = pydicom.dcmread(path)
    except InvalidDicomError as exc:
        raise DataError(path, f"not a DICOM file ({exc})") from None
    except Exception as exc:  # pydicom raises EOFError, OSError, struct.error ... on a cut-off header
        raise DataError(path, f"corrupt or truncated DICOM header ({type(exc).__name__}: {exc})") from None
    # pydicom only warns when the file ends inside an element or an encapsulated pixel sequence
    eof = [str(w.message) for w in caught if "end of file" in str(w.message).lower()]
    if eof:
        raise DataError(path, f"truncated DICOM file ({eof[0].split(' in file ')[0]})")
    for w in caught:  # anything else pydicom had to say is passed on unchanged
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return ds


@contextmanager
def header_errors(path: str | Path):
    """Turn a missing or malformed header value (BitsStored absent, RescaleSlope "abc" ...) into a DataError."""
    try:
        yield
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise DataError(path, f"invalid or missing DICOM header value: {exc}") from None


def stored_pixels(ds, path: str | Path) -> np.ndarray:
    """Decoded stored values (no LUT applied) of a single-frame grayscale dataset, or a DataError."""
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise DataError(path, "no pixel data (no PixelData element: not an image, or the file is cut short)")
    if int(ds.get("SamplesPerPixel", 1)) != 1:
        raise DataError(path, f"expected a grayscale image, got SamplesPerPixel={ds.SamplesPerPixel} "
                              f"({ds.get('PhotometricInterpretation', '?')})")
    if int(ds.get("NumberOfFrames", 1) or 1) != 1:
        raise DataError(path, f"expected a single frame, got NumberOfFrames={ds.NumberOfFrames}")
    try:
        arr = ds.pixel_array
    except Exception as exc:  # truncated pixel data, undecodable transfer syntax, missing plug-in ...
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        name = getattr(syntax, "name", syntax)
        raise DataError(path, f"cannot decode pixel data (transfer syntax {name}): {exc}") from None
    if arr.ndim != 2 or arr.size == 0:
        raise DataError(path, f"expected a non-empty 2-D image, got pixel array of shape {arr.shape}")
    return arr


def _stored_range(ds) -> tuple[float, float]:
    bits = int(ds.BitsStored)
    if int(ds.get("PixelRepresentation", 0)) == 0:
        return 0.0, float(2 ** bits - 1)
    return float(-(2 ** (bits - 1))), float(2 ** (bits - 1) - 1)


def _rescale(ds) -> tuple[float, float] | None:
    """(slope, intercept) when the file has a non-identity rescale, else None."""
    if "RescaleSlope" not in ds and "RescaleIntercept" not in ds:
        return None
    slope, intercept = float(ds.get("RescaleSlope", 1.0)), float(ds.get("RescaleIntercept", 0.0))
    return None if (slope, intercept) == (1.0, 0.0) else (slope, intercept)


def modality_range(ds) -> tuple[float, float]:
    """Smallest and largest value the modality transform can output (for inversion and window scaling)."""
    if ds.get("ModalityLUTSequence"):
        return 0.0, float(2 ** int(ds.ModalityLUTSequence[0].LUTDescriptor[2]) - 1)
    lo, hi = _stored_range(ds)
    rescale = _rescale(ds)
    if rescale is not None:
        lo, hi = sorted((lo * rescale[0] + rescale[1], hi * rescale[0] + rescale[1]))
    return lo, hi


def apply_modality(arr: np.ndarray, ds, path) -> np.ndarray:
    """Modality LUT or rescale; integers stay integers when the transform is the identity."""
    if not ds.get("ModalityLUTSequence") and _rescale(ds) is None:
        return arr
    with np.errstate(over="ignore", invalid="ignore"):  # reported below as NaN/inf, naming the file
        out = apply_modality_lut(arr, ds)
    check_finite(out, path, "after Rescale Slope/Intercept")
    return out


def check_finite(arr: np.ndarray, path, when: str) -> None:
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        bad = int(np.size(arr) - np.isfinite(arr).sum())
        raise DataError(path, f"{bad} NaN/inf pixel values {when}")


def _apply_voi(arr: np.ndarray, ds, path) -> tuple[np.ndarray, float] | None:
    """VOI LUT sequence (preferred, as pydicom does) or window; returns (values, output maximum) or None."""
    if ds.get("VOILUTSequence"):
        if not np.issubdtype(arr.dtype, np.integer):
            arr = np.rint(arr).astype(np.int64)  # a LUT is indexed by integers
        out_max = float(2 ** int(ds.VOILUTSequence[0].LUTDescriptor[2]) - 1)
        return apply_voi_lut(arr, ds, prefer_lut=True), out_max
    if "WindowCenter" not in ds or "WindowWidth" not in ds:
        return None
    try:
        windowed = apply_voi_lut(arr, ds, prefer_lut=True)  # float64 in the modality range
    except ValueError as exc:  # width < 1, unknown VOI LUT Function ...
        raise DataError(path, f"invalid VOI window: {exc}") from None
    lo, hi = modality_range(ds)
    out_max = float(2 ** int(ds.BitsStored) - 1)
    return (windowed - lo) * (out_max / (hi - lo)), out_max


def to_compact_dtype(arr: np.ndarray, bits_stored: int) -> np.ndarray:
    """uint8 / uint16 when the values are integers that fit (16-bit kept), float32 otherwise."""
    values = np.asarray(arr)
    if np.issubdtype(values.dtype, np.floating):
        rounded = np.rint(values)
        if not np.array_equal(rounded, values):
            return values.astype(np.float32)
        values = rounded
    lo, hi = values.min(), values.max()
    if lo >= 0 and hi <= 255 and bits_stored <= 8:
        return values.astype(np.uint8)
    if lo >= 0 and hi <= 65535:
        return values.astype(np.uint16)
    return values.astype(np.float32)


def _display_pixels(ds, path, apply_voi: bool) -> np.ndarray:
    arr = apply_modality(stored_pixels(ds, path), ds, path)
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip()
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise DataError(path, f"unsupported PhotometricInterpretation {photometric!r} (need MONOCHROME1/2)")
    voi = _apply_voi(arr, ds, path) if apply_voi else None
    if voi is not None:
        arr, out_max = voi
        if photometric == "MONOCHROME1":
            arr = out_max - np.asarray(arr, np.float64)
        arr = np.rint(arr)
    elif photometric == "MONOCHROME1":
        lo, hi = modality_range(ds)
        arr = (lo + hi) - np.asarray(arr, np.float64)
    check_finite(np.asarray(arr), path, "after the VOI transform")
    return to_compact_dtype(arr, int(ds.get("BitsStored", 16)))


def header_laterality(ds) -> str | None:
    """"L" / "R" from Image Laterality, Laterality, or the enhanced-MG Frame Laterality; None if absent."""
    values = [ds.get(tag) for tag in _LATERALITY_TAGS]
    for seq_name in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        for group in ds.get(seq_name, []) or []:
            for item in group.get("FrameAnatomySequence", []) or []:
                element = item.get(_FRAME_LATERALITY_TAG)
                values.append(None if element is None else element.value)
    for value in values:
        value = str(value or "").strip().upper()[:1]
        if value in ("L", "R"):
            return value
    return None


def chest_wall_side(image: np.ndarray) -> str | None:
    """Image edge the breast hangs from: the half holding more tissue (above the background level).

    Tissue is bright after display conversion, so the heavier half is the chest-wall side; None for a
    blank image.
    """
    img = np.asarray(image, np.float64)
    img = img - img.min()
    half = img.shape[1] // 2
    left, right = img[:, :half].sum(), img[:, img.shape[1] - half:].sum()
    if left == right:
        return None
    return LEFT if left > right else RIGHT


def _orientation_chest_wall_side(ds) -> str | None:
    """From Patient Orientation's row direction: "A" (towards nipple) means the chest wall is on the left."""
    orientation = ds.get("PatientOrientation")
    if not orientation or len(orientation) < 1:
        return None
    row = str(orientation[0]).upper()[:1]
    return {"A": LEFT, "P": RIGHT}.get(row)


def flip_to_side(image: np.ndarray, side: str | None, target: str | None) -> tuple[np.ndarray, bool]:
    """Mirror `image` left-right when its chest wall is on the other side than `target`."""
    if target is None or side is None or side == target:
        return image, False
    return np.ascontiguousarray(image[:, ::-1]), True


def validate_flip_target(flip_to: str | None) -> None:
    if flip_to not in (None, LEFT, RIGHT):
        raise ValueError(f"flip_to must be None, 'left' or 'right', got {flip_to!r}")


def read_dicom(path: str | Path, apply_voi: bool = True, flip_to: str | None = None) -> DicomImage:
    """Read one mammogram as displayed. `flip_to="left"` puts every chest wall on the image's left edge.

    The chest-wall side comes from Patient Orientation when the file has it, otherwise from the image
    (heavier half); laterality comes from the header, otherwise it is inferred from that side using the
    DICOM standard layout (left breast: chest wall on the image's left edge).
    """
    validate_flip_target(flip_to)
    path = Path(os.fspath(path))
    ds = read_dataset(path)
    with header_errors(path):
        pixels = _display_pixels(ds, path, apply_voi)

    side = _orientation_chest_wall_side(ds) or chest_wall_side(pixels)
    laterality, source = header_laterality(ds), "header"
    if laterality is None:
        laterality = {LEFT: "L", RIGHT: "R"}.get(side)
        source = None if laterality is None else "image"
    pixels, flipped = flip_to_side(pixels, side, flip_to)
    if flipped:
        side = flip_to

    spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
    return DicomImage(
        pixels=pixels,
        laterality=laterality,
        laterality_source=source,
        chest_wall_side=side or LEFT,
        flipped=flipped,
        photometric=str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip(),
        spacing=None if not spacing else (float(spacing[0]), float(spacing[1])),
        view=str(ds.get("ViewPosition", "")).strip() or None,
        path=path,
    )


_MG_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"
_CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


def write_dicom(path: str | Path, pixels: np.ndarray, photometric: str = "MONOCHROME2",
                bits_stored: int | None = None, rle: bool = False, modality: str = "MG", uid: str | None = None,
                **attributes) -> Path:
    """Write a minimal valid single-frame DICOM atomically (tests and synthetic datasets use it).

    `pixels` is uint8, uint16 or int16 stored values; `attributes` are DICOM keywords set verbatim
    (ImageLaterality="L", RescaleSlope=..., WindowCenter=..., ImagePositionPatient=[...] ...).
    `rle=True` stores RLE Lossless with pydicom's own encoder.
    `uid` is the SOP Instance UID (file meta and dataset alike, kept through RLE compression): with it, and
    Study/Series UIDs given as attributes, the file's bytes depend only on the inputs (reproducible synthetic
    datasets); None draws a fresh random UID, as a new acquisition would have.
    """
    pixels = np.asarray(pixels)
    if pixels.ndim != 2 or pixels.dtype not in (np.uint8, np.uint16, np.int16):
        raise ValueError(f"write_dicom needs a 2-D uint8/uint16/int16 array, got {pixels.dtype} {pixels.shape}")
    path = Path(path)
    sop_class = _CT_IMAGE_STORAGE if modality == "CT" else _MG_FOR_PRESENTATION
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = uid or generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = pixels.dtype.itemsize * 8
    ds.BitsStored = bits_stored or ds.BitsAllocated
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = int(pixels.dtype == np.int16)
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    if rle:
        ds.compress(RLELossless, generate_instance_uid=False)  # the UID names the image, not its encoding
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    atomic_write_bytes(path, buffer.getvalue())
    return path
