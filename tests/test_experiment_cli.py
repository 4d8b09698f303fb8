"""Every numbered experiment script shows one `--help` with the common options and its recipe's own."""

import pytest
from experiment_scripts import EXPERIMENTS, load_script

from mammoseg.experiment import experiment_main, from_run_option, ThesisTable

SCRIPTS = sorted(EXPERIMENTS.glob("[0-9][0-9]_*.py"))
COMMON = ("--data-root", "--scale", "--out", "--seed")
EXTRAS = {"kth_seg": ("--from-run", "--vgg16-weights", "--resnet18-weights"),
          "lrh_seg": ("--from-run", "--vgg16-weights", "--resnet18-weights"),
          "oulu_mass": ("--from-run", "--resnet22-weights", "--resnet34-weights", "--rows"),
          "pig_ct": ("--from-run",), "kth_cls": ("--from-run",)}


def test_every_table_has_a_script():
    assert len(SCRIPTS) == 21


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_help_lists_common_and_recipe_options(script, capsys):
    with pytest.raises(SystemExit) as exit_info:
        load_script(script.stem).main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    thesis = next(key for key in EXTRAS if f"_{key}_" in script.stem)
    for option in COMMON + EXTRAS[thesis]:
        assert option in text, f"{script.name} --help lacks {option}"
    assert text.count("usage:") == 1


def test_extra_options_reach_build_config(tmp_path):
    seen = {}

    def build(**kwargs):
        seen.update(kwargs)
        return {"scale": kwargs["scale"]}

    table = ThesisTable(thesis="t", table="Table 1", title="x", columns=("a",), headers=("A",), rows={})
    rc = experiment_main("00_test", table, build, lambda config, run_dir: ([], ""),
                         ["--out", str(tmp_path), "--from-run", "some/run", "--seed", "3"],
                         from_run_option("help"))
    assert rc == 0
    assert seen == {"scale": "smoke", "data_root": None, "seed": 3, "from_run": "some/run"}
    assert len(list((tmp_path / "00_test").glob("*/table.md"))) == 1
