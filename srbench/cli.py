"""``srbench`` command line: ``main(argv) -> int``; exit 0 ok, 1 regression/failure, 2 bad input.

Each sub-command lives in ``srbench/commands/<name>.py`` with ``add_arguments(parser)`` and
``run(args) -> int``; modules are imported only for the command that runs.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from srbench import __version__
from srbench.errors import SrbenchError

COMMANDS = {
    "run": "evaluate models on benchmark sets",
    "score": "score a folder of precomputed SR images",
    "sweep": "run a plan file (models x sets x scales x protocols) as one resumable job",
    "list": "list models, datasets, metrics or protocols",
    "fetch": "download and verify weights or datasets (cache under SRBENCH_HOME)",
    "profile": "parameters and Mult-Adds (or NTIRE figures), runtime and memory of a model under a named convention",
    "leaderboard": "regenerate the markdown leaderboards from results",
    "check": "compare results with a baseline (CI regression gate, exit 1 on drift)",
    "baseline": "write a baseline file from results",
    "compare-visual": "one PNG grid of the same crop across models",
    "tradeoff": "Mult-Adds and params saved per 0.01 dB of PSNR loss against a reference model (from results)",
    "pareto": "which models are Pareto-dominated in (PSNR/SSIM, Mult-Adds, params) per set and scale (from results)",
    "export": "a zoo model as an ONNX file, checked against PyTorch with onnxruntime",
    "compare": "is A better than B? paired bootstrap CI, Wilcoxon p and wins per metric (from results)",
    "worst": "the images where a model loses most against a reference (or scores worst), from results",
    "fid": "FID and KID (clean-fid) of SR images against HR on a grid of fixed-size patches",
    "certify": "recompute the certified metrics on their reference inputs against the official values (exit 1 on failure)",
    "ntire-score": "a x4 model scored as the NTIRE efficient-SR challenge of a year scored it (gate, counts, score)",
}


# Loggers of the engines srbench drives, silenced below ERROR unless -v.
QUIET_LOGGERS = ("onnxscript", "torch.onnx", "onnxruntime")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse's own convention)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="srbench", description="Faithful, reproducible super-resolution evaluation.")
    parser.add_argument("--version", action="version", version=f"srbench {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=name.replace("-", "_"))
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # The command is the first non-option word; only its module is imported, to add its arguments
    # (before any parsing, so `srbench run --help` lists them).
    command = next((a for a in argv if not a.startswith("-")), None)
    if command in COMMANDS:
        module = importlib.import_module(f"srbench.commands.{command.replace('-', '_')}")
        module.add_arguments(parser._subparsers._group_actions[0].choices[command])
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="srbench: %(message)s",
        stream=sys.stderr,
        force=True,  # main() may run more than once in a process (tests): log to the current stderr
    )
    if not args.verbose:  # third-party chatter (cluster tokens, exporter progress) only with -v
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)
    module = importlib.import_module(f"srbench.commands.{args._module}")
    try:
        return int(module.run(args) or 0)
    except SrbenchError as exc:
        print(f"srbench: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`srbench list models | head`): nothing left to say
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        again = "rerun the same sweep" if args.command == "sweep" else "rerun with --resume"
        print(f"srbench: interrupted; results computed so far are saved ({again} to continue)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
