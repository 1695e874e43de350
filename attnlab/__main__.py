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
import os
import sys
from typing import Callable, Sequence

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


#: exceptions that mean "the input or the arguments are wrong" (exit status 2); anything else is a
#: bug or an environment failure (exit status 1). Both print one line unless --debug is given.
from attnlab.book import MissingDependency  # noqa: E402  (an optional package: say how to install it)

USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, OSError, LookupError, MissingDependency)


def debug_requested(argv: Sequence[str] | None) -> bool:
    """``--debug`` among the arguments, or ``$ATTNLAB_DEBUG`` set to something other than 0/empty."""
    args = sys.argv[1:] if argv is None else argv
    return "--debug" in args or os.environ.get("ATTNLAB_DEBUG", "0") not in ("", "0")


def report_errors(command: str, func: Callable[..., int], argv: Sequence[str] | None, *, debug: bool | None = None) -> int:
    """Run ``func(argv)``; an exception becomes one line on stderr and an exit status (2 for user
    errors, 1 otherwise) unless ``--debug`` (or ``debug=True``) asks for the traceback."""
    debug = debug_requested(argv) if debug is None else debug
    try:
        return int(func(argv) or 0)
    except USER_ERRORS as exc:
        if debug:
            raise
        print(f"attnlab {command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - a bug or an environment failure: one line, --debug for more
        if debug:
            raise
        print(f"attnlab {command}: error: {_one_line(exc)} (run again with --debug for the traceback)", file=sys.stderr)
        return 1


def _one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line; its type in front unless it is a ValueError (ours)."""
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    text = " ".join(text.split())
    if isinstance(exc, ValueError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


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
    """Run a command. Errors end in one line on stderr (exit status 2 for a bad argument or input,
    1 otherwise); ``--debug`` anywhere on the line (or ``$ATTNLAB_DEBUG=1``) shows the traceback."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = debug_requested(argv)
    if argv[:1] == ["--debug"]:
        argv = argv[1:]
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
    if command in ("bench", "profile"):  # their parsers know no --debug: it is the launcher's flag here
        rest = [a for a in rest if a != "--debug"]
    elif debug and "--debug" not in rest:
        rest.append("--debug")

    def run(args: list[str]) -> int:
        func = getattr(importlib.import_module(module_name), func_name)
        return int(func(args) or 0)

    return report_errors(command, run, rest, debug=debug)


if __name__ == "__main__":
    sys.exit(main())
