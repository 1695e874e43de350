"""Issue #16, findings 3 and 7 (and the CLI half of 4): the command line refuses bad arguments and
missing inputs with one line on stderr and exit status 2, never overwrites a run or falls back to
an untrained model, and shows a traceback only with --debug."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from attnlab.__main__ import main as attnlab_main
from attnlab.train import cli


SIZES = {"--image-size": "64", "--n-train": "8", "--n-val": "4", "--epochs": "1", "--batch-size": "8"}
TINY = [a for flag, value in SIZES.items() for a in (flag, value)] + ["--no-progress", "--no-plot"]


def _run(argv: list[str], capsys) -> tuple[int, str]:
    """Exit status and stderr of ``python -m attnlab <argv>``, in this process."""
    try:
        code = attnlab_main(argv)
    except SystemExit as exc:  # argparse's errors
        code = exc.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize("argv, expected", [
    (["train", "--epochs", "0"], "argument --epochs: must be an int >= 1, got '0'"),
    (["train", "--mode", "fast"], "argument --mode: invalid choice: 'fast'"),
    (["train", "--epochs", "-1"], "argument --epochs: must be an int >= 1, got '-1'"),
    (["train", "--mosaic", "2"], "argument --mosaic: must be a number in [0, 1], got '2'"),
    (["train", "--mosaic", "nan"], "argument --mosaic: must be a number in [0, 1], got 'nan'"),
    (["train", "--n-train", "0"], "argument --n-train: must be an int >= 1, got '0'"),
    (["train", "--image-size", "100"], "argument --image-size: must be a positive multiple of 32, got '100'"),
    (["train", "--lr", "0"], "argument --lr: must be a number > 0, got '0'"),
    (["train", "--threads", "0"], "argument --threads: must be an int >= 1, got '0'"),
    (["train", "--optimizer", "adam"], "argument --optimizer: invalid choice: 'adam'"),
    (["train", "--resume", "--overwrite"], "--resume and --overwrite exclude each other"),
    (["eval", "--conf", "2"], "argument --conf: must be a number in [0, 1], got '2'"),
    (["eval", "--n", "0"], "argument --n: must be an int >= 1, got '0'"),
    (["eval", "--nms", "-0.1"], "argument --nms: must be a number in [0, 1], got '-0.1'"),
    (["predict", "--demo", "--conf", "1.5"], "argument --conf: must be a number in [0, 1], got '1.5'"),
])
def test_bad_arguments_are_one_line_and_exit_2(argv, expected, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # whatever happens, nothing is written into the repository
    if argv[0] == "train":  # tiny sizes, unless the flag under test is one of them
        argv = argv + [a for flag, value in SIZES.items() if flag not in argv for a in (flag, value)] + ["--no-plot"]
    code, err = _run(argv, capsys)
    assert code == 2
    assert expected in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_train_refuses_to_overwrite_a_run(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "last.pt").write_bytes(b"finished run")
    code, err = _run(["train", "--out", str(out), *TINY], capsys)
    assert code == 2 and "already holds a run (last.pt); pass --resume to continue it or --overwrite" in err
    assert (out / "last.pt").read_bytes() == b"finished run"  # untouched


def test_overwrite_removes_only_the_run_files(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    for name in ("last.pt", "best.pt", "history.json", "notes.txt"):
        (out / name).write_text("x")
    cli._prepare_run_folder(out, resume=False, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    (out / "results.json").write_text("{}")  # a run without last.pt cannot be resumed
    with pytest.raises(cli.CLIError, match="holds results.json but no last.pt"):
        cli._prepare_run_folder(out, resume=True, overwrite=False)


@pytest.mark.parametrize("command", ["predict", "export", "eval"])
def test_a_missing_checkpoint_is_an_error_not_an_untrained_model(command, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    extra = ["--demo"] if command == "predict" else []
    code, err = _run([command, "--checkpoint", "typo", *extra], capsys)
    assert code == 2 and "--checkpoint typo: no such file or folder" in err
    assert not (tmp_path / "typo").exists() and not (tmp_path / "runs").exists()  # nothing written


def test_without_checkpoint_untrained_needs_asking(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, err = _run(["predict", "--demo"], capsys)
    assert code == 2 and "or --untrained to try an untrained model" in err
    code, err = _run(["export", "--untrained"], capsys)
    assert code == 2 and "--untrained needs --out" in err
    code, err = _run(["predict", "--checkpoint", "x", "--untrained", "--demo"], capsys)
    assert code == 2 and "--checkpoint and --untrained exclude each other" in err


def test_predict_names_a_folder_given_as_image(tmp_path, capsys):
    code, err = _run(["predict", str(tmp_path), "--untrained"], capsys)
    assert code == 2 and f"images: {tmp_path} is a folder; expected image files" in err


def test_traceback_only_with_debug(tmp_path, capsys):
    bad = tmp_path / "random.pt"
    bad.write_bytes(bytes(range(256)) * 4)
    code, err = _run(["eval", "--checkpoint", str(bad)], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "weights_only=False" not in err  # never point users at the unsafe option
    with pytest.raises(ValueError):
        attnlab_main(["eval", "--checkpoint", str(bad), "--debug"])
    with pytest.raises(ValueError):
        attnlab_main(["--debug", "eval", "--checkpoint", str(bad)])
