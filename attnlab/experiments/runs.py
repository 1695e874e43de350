"""Saved runs: each finished training run is written at once, and a re-run skips it.

A Colab session ends without warning (idle time-out, a few hours at most). An experiment of many
runs therefore saves each run's result the moment it finishes, and when the notebook is run again
it trains only the runs that are missing: a learner loses at most the run that was in progress::

    store = RunStore("attnlab-runs/ch07", "ch07-yolo-attention", config=recipe_dict)
    for seed in seeds:
        for variant in variants:
            # a dict of numbers
            row = store.run(variant, seed, lambda: train_one(variant, seed))

    rows = store.rows()  # every saved run of this configuration

One JSON file per run, ``<variant>__seed<seed>__<config hash>.json``, written atomically (a
temporary file, then a rename), so a kill mid-write never leaves half a file. The configuration's
hash is part of the name: runs made with another recipe are never mixed in by mistake.

:func:`pool` gathers the runs of several folders (several sessions, or a class whose groups
each trained some variants) into one list for :mod:`attnlab.experiments.verdict`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

__all__ = ["RunStore", "pool", "config_hash", "runs_folder", "reference_dir", "FORMAT"]

FORMAT = "attnlab.run/1"
_NAME = re.compile(r"^[A-Za-z0-9_.+-]+$")


def _jsonable(obj: Any) -> Any:
    from attnlab.bench import jsonable

    return jsonable(obj)


def config_hash(config: Mapping[str, Any]) -> str:
    """A short, stable hash of a configuration (sorted-key JSON): same recipe, same hash."""
    text = json.dumps(_jsonable(dict(config)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def runs_folder(name: str, base: str | os.PathLike | None = None) -> Path:
    """Where an experiment keeps its saved runs.

    ``base`` if given; else ``$ATTNLAB_RUNS_DIR``; else, in Colab with Google Drive mounted at
    ``/content/drive``, ``MyDrive/attnlab-runs`` (it outlives the runtime); else ``attnlab-runs``
    in the working folder. The experiment's ``name`` is a sub-folder.
    """
    if not _NAME.match(name):
        raise ValueError(f"runs_folder: name must be letters, digits and _.+-, got {name!r}")
    if base is None:
        env = os.environ.get("ATTNLAB_RUNS_DIR", "").strip()
        drive = Path("/content/drive/MyDrive")
        base = Path(env) if env else (drive / "attnlab-runs" if drive.is_dir() else Path("attnlab-runs"))
    return Path(base) / name


def reference_dir() -> Path | None:
    """The folder of the book's committed reference runs (``results/``): the checkout's when
    attnlab runs from one, else the copy installed with the package; None when neither exists."""
    from attnlab.bench import results_dir

    return results_dir()


class RunStore:
    """A folder of finished runs of one experiment and one configuration.

    Args:
        folder: where the JSON files go (created when the first run is saved).
        experiment: a name for the experiment (stored in every file; :func:`pool` groups by it).
        config: everything that defines a run besides variant and seed (the recipe); its hash
            separates runs of different configurations.
    """

    def __init__(self, folder: str | os.PathLike, experiment: str, config: Mapping[str, Any]) -> None:
        if not isinstance(experiment, str) or not experiment:
            raise ValueError(f"RunStore: experiment must be a non-empty string, got {experiment!r}")
        if not isinstance(config, Mapping):
            raise TypeError(f"RunStore: config must be a mapping (the recipe), got {type(config).__name__}")
        self.folder = Path(folder)
        self.experiment = experiment
        self.config = _jsonable(dict(config))
        self.hash = config_hash(config)

    def path(self, variant: str, seed: int) -> Path:
        if not isinstance(variant, str) or not _NAME.match(variant):
            raise ValueError(f"RunStore: variant must be letters, digits and _.+-, got {variant!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"RunStore: seed must be an int, got {type(seed).__name__}")
        return self.folder / f"{variant}__seed{seed}__{self.hash}.json"

    def get(self, variant: str, seed: int) -> dict[str, Any] | None:
        """The saved result of (variant, seed), or None when that run has not finished."""
        path = self.path(variant, seed)
        if not path.exists():
            return None
        return _read(path)["result"]

    def put(self, variant: str, seed: int, result: Mapping[str, Any]) -> Path:
        """Save one finished run (atomically; refuses to replace a saved run)."""
        if not isinstance(result, Mapping):
            raise TypeError(f"RunStore.put: result must be a dict of numbers, got {type(result).__name__}")
        for key, value in result.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"RunStore.put: result[{key!r}] is {value}; a run with a non-finite "
                                 "result is not saved (it would be pooled as a number)")
        path = self.path(variant, seed)
        if path.exists():
            raise FileExistsError(f"RunStore.put: {path} already holds this run; delete it to train it again")
        from attnlab.bench import environment, write_json

        payload = {"format": FORMAT, "experiment": self.experiment, "config_hash": self.hash,
                   "config": self.config, "variant": variant, "seed": seed,
                   "result": _jsonable(dict(result)), "provenance": environment()}
        return write_json(path, payload)   # atomic: a temporary file, then a rename

    def run(self, variant: str, seed: int, train: Callable[[], Mapping[str, Any]]) -> tuple[dict[str, Any], bool]:
        """``(result, trained_now)``: the saved result if this run finished before, else
        ``train()``'s, saved before it is returned."""
        saved = self.get(variant, seed)
        if saved is not None:
            return saved, False
        result = dict(train())
        self.put(variant, seed, result)
        return self.get(variant, seed), True

    def rows(self) -> list[dict[str, Any]]:
        """Every saved run of this configuration: ``{"variant", "seed", **result}``."""
        if not any(self.folder.glob(f"*__{self.hash}.json")):
            return []
        return pool([self.folder], experiment=self.experiment, config_hash=self.hash)

    def __repr__(self) -> str:
        return f"RunStore({str(self.folder)!r}, {self.experiment!r}, config {self.hash})"


def _read(path: Path) -> dict[str, Any]:
    try:
        payload = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a readable run file ({e})") from e
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path}: not an attnlab run file (format {FORMAT!r} expected)")
    for key in ("experiment", "config_hash", "variant", "seed", "result"):
        if key not in payload:
            raise ValueError(f"{path}: run file lacks {key!r}")
    return payload


def pool(folders: Iterable[str | os.PathLike], *, experiment: str | None = None,
         config_hash: str | None = None) -> list[dict[str, Any]]:
    """Gather saved runs from ``folders`` (searched recursively) into rows for the verdict.

    Args:
        folders: folders (or single run files) from one or several sessions or students.
        experiment: keep only this experiment's runs (default: the folders must hold one).
        config_hash: keep only runs of this configuration (default: the folders must hold one, so
            that runs of different recipes are never compared as if they were alike).

    Returns:
        ``[{"variant", "seed", **result, "source": file}, ...]`` sorted by variant, then seed. A
        (variant, seed) saved twice (two students ran the same seed) is kept once, with a warning
        that counts the duplicates.

    Raises:
        ValueError: no runs found; or several experiments or configurations found and none chosen.
    """
    if isinstance(folders, (str, os.PathLike)):
        folders = [folders]
    files: list[Path] = []
    for f in folders:
        p = Path(f)
        if p.is_file():
            files.append(p)
        elif p.is_dir():
            files.extend(sorted(p.rglob("*.json")))
        else:
            raise FileNotFoundError(f"pool: {p} is neither a folder nor a run file")
    payloads = []
    for path in files:
        try:
            payload = _read(path)
        except ValueError:
            continue  # other JSON files (a results.json, a history) are not runs
        payloads.append((path, payload))
    if experiment is not None:
        payloads = [(p, d) for p, d in payloads if d["experiment"] == experiment]
    if not payloads:
        raise ValueError(f"pool: no run files{' of ' + repr(experiment) if experiment else ''} in "
                         f"{[str(f) for f in folders]}")
    for key, chosen, what in (("experiment", experiment, "experiments"),
                              ("config_hash", config_hash, "configurations (recipes)")):
        found = sorted({d[key] for _, d in payloads})
        if chosen is None and len(found) > 1:
            raise ValueError(f"pool: the folders hold runs of {len(found)} different {what} {found}; "
                             f"pass {key}= to choose one")
    if config_hash is not None:
        payloads = [(p, d) for p, d in payloads if d["config_hash"] == config_hash]
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    duplicates = 0
    for path, d in payloads:
        key = (d["variant"], int(d["seed"]))
        if key in rows:
            duplicates += 1
            continue
        rows[key] = {"variant": d["variant"], "seed": int(d["seed"]), **d["result"], "source": str(path)}
    if duplicates:
        warnings.warn(f"pool: {duplicates} run(s) repeated a (variant, seed) already found; the first was kept",
                      stacklevel=2)
    return [rows[k] for k in sorted(rows)]
