"""Build the class-balanced crop datasets of thesis §4.1 (L857-921) from a merged `kth-seg` dataset.

Every crop owns a 63-bit seed derived from (dataset seed, case name, crop number), so a crop can be rebuilt alone
from its manifest row (`reproduce_crop`), and adding or removing a case never changes the crops of another case.
The crop seed feeds two independent streams: one samples the centre and the elastic coin, the other draws the
elastic displacement field.
"""
from __future__ import annotations

import hashlib
import json
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from mammoseg.data.augment import ElasticParams, elastic_crop, elastic_params_for, extract_crop
from mammoseg.data.sampling import LabelIndex, class_balanced_centre, exclude_ids_for
from mammoseg.errors import ConfigError, DataError
from mammoseg.io.annotations import (DEFAULT_MERGE_SIGMA, LABEL_FILE, LABELS_FILE, MERGE_RECORD, dataset_label_set,
                                     find_case_image, list_cases, merge_case)
from mammoseg.io.atomic import atomic_write_bytes
from mammoseg.io.raster import read_image
from mammoseg.io.store import CropStore, CropStoreWriter, iter_store_labels, read_crop_store
from mammoseg.labels import MAMMO13, LabelSet, get_label_set

IMAGE_PAD = 0  # mammogram surroundings are dark air, so zero padding continues the image naturally
CROP_SPLITS = ("train", "val")


# ------------------------------------------------------------------------------------------------- seeding
def stable_case_key(case: str) -> int:
    """A 64-bit integer from the case name that is the same on every run and machine (unlike hash())."""
    return int.from_bytes(hashlib.sha256(case.encode("utf-8")).digest()[:8], "little")


def crop_seed(seed: int, case: str, index: int) -> int:
    """The crop's own seed: non-negative and below 2**63 so that it fits the manifest's int64 column."""
    state = np.random.SeedSequence([int(seed), stable_case_key(case), int(index)]).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))


def crop_streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """(sampling stream: centre + elastic coin, warp stream: displacement field) of one crop."""
    return np.random.default_rng([seed, 0]), np.random.default_rng([seed, 1])


# ------------------------------------------------------------------------------------------------- one crop
def make_crop(image: np.ndarray, label: np.ndarray, cy: int, cx: int, size: int, elastic: bool,
              warp_rng: np.random.Generator, params: ElasticParams, label_set: LabelSet = MAMMO13):
    """The stored (image, label) crop: border-padded, elastically deformed when `elastic`."""
    label_pad = label_pad_of(label_set)
    if elastic:
        return elastic_crop(image, label, cy, cx, size, warp_rng, params, IMAGE_PAD, label_pad)
    return extract_crop(image, cy, cx, size, IMAGE_PAD), extract_crop(label, cy, cx, size, label_pad)


def label_pad_of(label_set: LabelSet) -> int:
    """Label of padding outside the image: the background class, else the first class."""
    return label_set.id(label_set.background) if label_set.background is not None else 0


def _require_dir(root: Path) -> Path:
    if not root.is_dir():
        raise DataError(root, "dataset root not found")
    return root


def read_case(root: str | Path, case: str, label_set: LabelSet | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(image, label map) of a merged case, checked for matching shapes and valid label ids (of `label_set`,
    default the dataset's own: `dataset_label_set`)."""
    label_set = dataset_label_set(root, label_set)
    case_dir = Path(root) / case
    image = read_image(find_case_image(case_dir))
    label_path = case_dir / LABEL_FILE
    if not label_path.is_file():
        raise DataError(label_path, "label map not found; run `mammoseg-prep merge` first")
    label = read_image(label_path)
    if image.ndim != 2:
        raise DataError(case_dir, f"expected a 2-D grayscale image, got shape {image.shape}")
    if label.dtype != np.uint8:
        raise DataError(label_path, f"label map must be uint8, got {label.dtype}")
    if label.shape != image.shape:
        raise DataError(label_path, f"label map shape {label.shape} differs from image shape {image.shape}")
    label_set.check_ids(label, label_path)
    return image, label


def _merge_sigma_of(root: Path) -> float:
    """The sigma recorded by `merge_dataset`, else the library default (label maps merged by other means)."""
    record = root / MERGE_RECORD
    if record.is_file():
        try:
            return float(json.loads(record.read_text(encoding="utf-8"))["sigma"])
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(record, f"cannot read merge record: {exc}") from None
    return DEFAULT_MERGE_SIGMA


# ------------------------------------------------------------------------------------------------- datasets
def merge_dataset(root: str | Path, sigma: float = DEFAULT_MERGE_SIGMA, label_set: LabelSet | str | None = None,
                  progress: bool = True) -> list[str]:
    """Merge the masks of every case in splits.csv into label.png; record sigma for the crop stores' provenance.

    The label set (names = mask file names, merge priority) is `label_set`, else the dataset's labels.json, else
    MAMMO13 (every mask file name is checked against it); it is written to labels.json so later steps read the
    label maps with it."""
    root = _require_dir(Path(root))
    label_set = dataset_label_set(root, label_set, from_masks=True)
    cases = list_cases(root)
    for case in tqdm(cases, desc="merge", unit="case", disable=not progress):
        merge_case(root / case, label_set=label_set, sigma=sigma, write=True)
    write_merge_record(root, sigma, label_set)
    return cases


def write_merge_record(root: str | Path, sigma: float, label_set: LabelSet = MAMMO13) -> Path:
    """Note next to splits.csv how the label maps were merged (sigma, label set), so crop stores can record it,
    and declare the label maps' label set in labels.json."""
    label_set.save_json(Path(root) / LABELS_FILE)
    record = {"sigma": float(sigma), "label_set": label_set.name}
    return atomic_write_bytes(Path(root) / MERGE_RECORD, (json.dumps(record, indent=2) + "\n").encode("utf-8"))


def build_crops(root: str | Path, out_path: str | Path, crop_size: int, crops_per_image: int, split: str,
                seed: int = 0, elastic_p: float = 0.25, label_set: LabelSet | str | None = None, progress: bool = True,
                elastic: ElasticParams | None = None, layout: str = "contiguous") -> Path:
    """Write the class-balanced crop store of one split: `crops_per_image` crops per case, centres by the thesis
    rule, elastic deformation with probability `elastic_p` (thesis: 0.25). `layout`: "contiguous" (memory-mappable,
    fastest to stream) or "chunked" (gzip, about half the disk space; `mammoseg.io.store`)."""
    root, out_path = _require_dir(Path(root)), Path(out_path)
    if split not in CROP_SPLITS:
        raise ConfigError(f"crop datasets are built for {CROP_SPLITS}, not {split!r} (the test set is full images)")
    if crop_size <= 0 or crops_per_image <= 0:
        raise ConfigError(f"crop size and crops per image must be positive, got {crop_size}, {crops_per_image}")
    if not 0.0 <= elastic_p <= 1.0:
        raise ConfigError(f"elastic probability must be in [0, 1], got {elastic_p}")
    if seed < 0:
        raise ConfigError(f"seed must be >= 0, got {seed}")
    label_set = dataset_label_set(root, label_set)
    cases = list_cases(root, split)
    if not cases:
        raise DataError(root, f"no cases in split {split!r}")
    params = elastic or elastic_params_for(crop_size)
    exclude = exclude_ids_for(label_set)
    config = {"root": str(root), "crop_size": crop_size, "crops_per_image": crops_per_image, "split": split,
              "seed": seed, "elastic_p": elastic_p, "label_set": label_set.name, "exclude_ids": list(exclude),
              "image_pad": IMAGE_PAD, "label_pad": label_pad_of(label_set)}
    meta = {"label_set": label_set.name, "label_set_json": label_set.to_json(), "merge_sigma": _merge_sigma_of(root), "elastic_alpha": params.alpha,
            "elastic_sigma": params.sigma, "elastic_p": elastic_p, "split": split, "config": config}
    with ExitStack() as stack, tqdm(total=len(cases) * crops_per_image, desc=f"crops {split} {crop_size}",
                                    unit="crop", disable=not progress) as bar:
        writer = None
        for case in cases:
            image, label = read_case(root, case, label_set)
            if writer is None:  # the first image fixes the stored image dtype
                writer = stack.enter_context(CropStoreWriter(out_path, crop_size, image.dtype, meta, layout))
            elif image.dtype != writer.image_dtype:
                raise DataError(root / case, f"image dtype {image.dtype} differs from earlier cases "
                                             f"({writer.image_dtype}); convert the dataset to one dtype")
            index = LabelIndex(label)
            for k in range(crops_per_image):
                own_seed = crop_seed(seed, case, k)
                sample_rng, warp_rng = crop_streams(own_seed)
                cy, cx, chosen = class_balanced_centre(index, sample_rng, exclude)
                deform = bool(sample_rng.random() < elastic_p)
                crop_image, crop_label = make_crop(image, label, cy, cx, crop_size, deform, warp_rng, params,
                                                   label_set)
                writer.append(crop_image, crop_label, case=case, split=split, index=k, cy=cy, cx=cx,
                              chosen_id=chosen, elastic=deform, seed=own_seed)
                bar.update()
    return out_path


def store_elastic_params(store: CropStore) -> ElasticParams:
    return ElasticParams(alpha=float(store.attrs["elastic_alpha"]), sigma=float(store.attrs["elastic_sigma"]))


def reproduce_crop(root: str | Path, manifest_row, crop_size: int, label_set: LabelSet | None = None,
                   elastic: ElasticParams | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rebuild one stored crop bit-exactly from its manifest row (a DataFrame row or a dict).

    `elastic` must be the store's parameters when it was built with non-default ones (`store_elastic_params`).
    """
    row = dict(manifest_row)
    label_set = dataset_label_set(root, label_set)
    image, label = read_case(root, row["case"], label_set)
    cy, cx, chosen = int(row["cy"]), int(row["cx"]), int(row["chosen_id"])
    if not (0 <= cy < label.shape[0] and 0 <= cx < label.shape[1]) or (chosen >= 0 and label[cy, cx] != chosen):
        raise DataError(Path(root) / row["case"] / LABEL_FILE,
                        f"centre ({cy}, {cx}) no longer holds label {chosen}: the label map changed after the store "
                        "was built")
    _, warp_rng = crop_streams(int(row["seed"]))
    return make_crop(image, label, cy, cx, crop_size, bool(row["elastic"]), warp_rng,
                     elastic or elastic_params_for(crop_size), label_set)


# ------------------------------------------------------------------------------------------------- statistics
def store_label_set(store: CropStore) -> LabelSet:
    """The label set a crop store was built with: its recorded JSON, else the registered name (older stores)."""
    recorded = store.attrs.get("label_set_json")
    try:
        if recorded is not None:
            return LabelSet.from_json(json.loads(recorded) if isinstance(recorded, str) else recorded)
        return get_label_set(str(store.attrs.get("label_set")))
    except KeyError as exc:
        raise DataError(store.path, f"crop store names an unknown label set: {exc.args[0]}") from None
    except (DataError, ValueError) as exc:
        raise DataError(store.path, f"crop store's recorded label set is unreadable: {exc}") from None

def _count_ids(batches, label_set: LabelSet, source) -> np.ndarray:
    counts = np.zeros(256, np.int64)
    for batch in batches:
        counts += np.bincount(np.asarray(batch, np.uint8).ravel(), minlength=256)
    valid = np.zeros(256, bool)
    valid[:label_set.num_classes] = True
    if label_set.ignore_id is not None:
        valid[label_set.ignore_id] = True
    if counts[~valid].any():
        raise DataError(source, f"unknown label ids {np.flatnonzero(counts * ~valid).tolist()} for label set "
                                f"{label_set.name}")
    return counts[:label_set.num_classes]


def class_pixel_percentages(source, label_set: LabelSet | None = None) -> pd.Series:
    """% of (non-ignored) pixels per class, rows in the order of thesis Table 4.2 (merge priority, background last).

    `source`: a store path (streamed in batches), a CropStore, or label arrays ((N, s, s) or a list of maps).
    The label set defaults to the store's own.
    """
    path = None
    if isinstance(source, (str, Path)):
        path = Path(source)
        store = read_crop_store(path, arrays=False)
        batches = iter_store_labels(path)
    elif isinstance(source, CropStore):
        store, path = source, source.path
        batches = source.label_blocks()  # bounded memory whether the store is loaded, mapped or on disk
    else:
        store = None
        batches = [np.asarray(source)] if isinstance(source, np.ndarray) else source
    if label_set is None and store is not None:
        label_set = store_label_set(store)
    if label_set is None:
        raise ConfigError("class_pixel_percentages of label arrays needs their label set")
    counts = _count_ids(batches, label_set, path)
    total = counts.sum()
    percent = counts / total * 100.0 if total else np.full(label_set.num_classes, np.nan)
    order = label_set.priority or label_set.names
    series = pd.Series({name: float(percent[label_set.id(name)]) for name in order}, name="% of pixels")
    series.index.name = "class"
    return series
