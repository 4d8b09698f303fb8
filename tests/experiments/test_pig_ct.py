"""pig-ct Tables 5.1, 5.2 and 6.1 at smoke scale: each script alone from the command line, and 5.2 / 6.1 again
from the Table 5.1 run (--from-run), which must agree with 5.1's per-scan numbers exactly."""
import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from experiment_scripts import load_script, run_as_command

pytestmark = pytest.mark.experiment

COLUMNS = ("transverse", "sagittal", "coronal", "transverse+sagittal", "transverse+coronal", "sagittal+coronal",
           "combined", "3D")
STEMS = {"5.1": "15_pig_ct_table5_1", "5.2": "16_pig_ct_table5_2", "6.1": "17_pig_ct_table6_1"}


def results(run_dir: Path) -> pd.DataFrame:
    """The rows of results.csv we computed (thesis-only rows have empty cells)."""
    with open(run_dir / "results.csv", newline="") as f:
        rows = [row for row in csv.DictReader(f) if row["transverse"] != ""]
    return pd.DataFrame(rows).set_index("row")


def table_row_names(table_md: str) -> list[str]:
    return [line.split("|")[1].strip() for line in table_md.splitlines() if line.startswith("| ")][1:]


@pytest.fixture(scope="module")
def table_5_1(tmp_path_factory):
    return run_as_command(STEMS["5.1"], tmp_path_factory.mktemp("pig51"))


def per_scan(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(run_dir / "per_scan_iou.csv", dtype={"scan": str}).set_index("scan")[list(COLUMNS)]


def test_table_5_1(table_5_1):
    text = (table_5_1 / "table.md").read_text()
    names = table_row_names(text)
    assert set(load_script(STEMS["5.1"]).TABLE.rows) <= set(names)  # all 37 thesis pigs, each with its note
    ours = results(table_5_1)
    test_scans = [line.split(",")[0] for line in (table_5_1 / "data" / "splits.csv").read_text().splitlines()
                  if line.endswith(",test")]
    assert sorted(ours.index) == sorted(test_scans)
    values = ours[list(COLUMNS)].astype(float).to_numpy()
    assert np.all((values > 0) & (values <= 1))
    assert (ours["note"] == "smoke scale, synthetic scan").all()
    assert "Norsvin scan, not in this data set (private)" in text
    assert (table_5_1 / "iou_boxplot.png").stat().st_size > 0
    for network in ("transverse", "sagittal", "coronal", "3d"):
        assert (table_5_1 / "networks" / network / "best.weights.h5").is_file()


@pytest.mark.parametrize("table", ["5.2", "6.1"])
def test_derived_tables_from_the_5_1_run(table, table_5_1, tmp_path):
    run_dir = run_as_command(STEMS[table], tmp_path, "--from-run", str(table_5_1))
    source = per_scan(table_5_1)
    ours = results(run_dir)
    assert not (run_dir / "networks").exists()  # nothing trained
    if table == "5.2":
        relative = ours.loc[source.index, list(COLUMNS)].astype(float)
        np.testing.assert_allclose(relative.to_numpy(), source.div(source["transverse"], axis=0).to_numpy())
        assert (relative["transverse"] == 1.0).all()
    else:
        stats = ours.loc[["count", "mean", "std", "min", "max"], list(COLUMNS)].astype(float)
        assert (stats.loc["count"] == len(source)).all()
        np.testing.assert_allclose(stats.loc["mean"], source.mean().to_numpy())
        np.testing.assert_allclose(stats.loc["std"], source.std(ddof=1).to_numpy())
        np.testing.assert_allclose(stats.loc["min"], source.min().to_numpy())


@pytest.mark.parametrize("table", ["5.2", "6.1"])
def test_derived_tables_run_alone(table, tmp_path):
    run_dir = run_as_command(STEMS[table], tmp_path)
    text = (run_dir / "table.md").read_text()
    assert set(load_script(STEMS[table]).TABLE.rows) <= set(table_row_names(text))
    ours = results(run_dir)
    numbers = ours[list(COLUMNS)].astype(float)
    assert len(numbers) >= 2
    if table == "5.2":
        assert (numbers["transverse"] == 1.0).all() and (numbers.to_numpy() > 0).all()
    else:
        iou_rows = numbers.drop(index="count")
        assert ((iou_rows.drop(index="std") > 0) & (iou_rows.drop(index="std") <= 1)).all().all()
        assert (numbers.loc["min"] <= numbers.loc["50%"]).all() and (numbers.loc["50%"] <= numbers.loc["max"]).all()
