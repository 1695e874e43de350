"""Command line: ``python -m attnlab <command> ...``.

Commands are looked up lazily so that ``python -m attnlab --help`` is fast and a broken
sub-command cannot break the others:

    python -m attnlab bench attention|yolo|data|train|map [options]
    python -m attnlab train|eval|predict|export [options]
    python -m attnlab profile
"""

from __future__ import annotations

import argparse
import importlib
import sys

# command -> (module, function, one-line help). Each function takes argv (a list of strings).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "profile": ("attnlab.__main__", "_profile", "print the experiment profile this machine gets"),
    "bench": ("attnlab.__main__", "_bench", "benchmarks: attention | yolo | data | train | map"),
    "train": ("attnlab.train.cli", "train_main", "train YOLOv4-tiny (synthetic shapes by default)"),
    "eval": ("attnlab.train.cli", "eval_main", "evaluate a checkpoint: mAP, JSON results"),
    "predict": ("attnlab.train.cli", "predict_main", "detect objects in images"),
    "export": ("attnlab.train.cli", "export_main", "export a checkpoint to ONNX"),
}

# bench topic -> module whose ``main(argv)`` runs it
BENCHES: dict[str, str] = {
    "attention": "attnlab.attention.bench",
    "yolo": "attnlab.models.bench",
    "data": "attnlab.data.bench",
    "train": "attnlab.train.bench",
    "map": "attnlab.metrics.bench",
}


def _profile(argv: list[str]) -> int:
    from attnlab.profiles import get_profile

    parser = argparse.ArgumentParser(prog="python -m attnlab profile", description=COMMANDS["profile"][2])
    parser.add_argument("--name", choices=["quick", "full"], default=None)
    args = parser.parse_args(argv)
    print(get_profile(args.name).describe())
    return 0


def _bench(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m attnlab bench {" + ",".join(BENCHES) + "} [options]\n")
        print("Each topic accepts --help and writes a JSON file (see --out).")
        return 0 if argv else 2
    topic, rest = argv[0], argv[1:]
    if topic not in BENCHES:
        print(f"bench: unknown topic {topic!r}; expected one of {sorted(BENCHES)}", file=sys.stderr)
        return 2
    module = importlib.import_module(BENCHES[topic])
    return int(module.main(rest) or 0)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m attnlab <command> [options]\n\ncommands:")
        for name, (_, _, text) in COMMANDS.items():
            print(f"  {name:<8} {text}")
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"attnlab: unknown command {command!r}; expected one of {sorted(COMMANDS)}", file=sys.stderr)
        return 2
    module_name, func_name, _ = COMMANDS[command]
    func = getattr(importlib.import_module(module_name), func_name)
    return int(func(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
