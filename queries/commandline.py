"""Shared by the command lines (`python -m queries`, `python -m forecasting`): run a command, print a frame."""

from __future__ import annotations

import argparse
import sys

import polars as pl

from queries.errors import SourceError

FORMATS = ("json", "csv", "table")


def render(frame: pl.DataFrame, fmt: str, float_precision: int = 4) -> str:
    """The frame as JSON records (ISO dates, null for missing), CSV, or a Markdown table."""
    if fmt == "json":
        return frame.write_json()
    if fmt == "csv":
        return frame.write_csv().rstrip("\n")
    with pl.Config(
        tbl_rows=-1,
        tbl_cols=-1,
        tbl_hide_dataframe_shape=True,
        tbl_formatting="MARKDOWN",
        float_precision=float_precision,
    ):
        return str(frame)


def command_parser(prog: str, description: str) -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    """A command line of subcommands (`prog COMMAND ...`): the parser and where to add its commands."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    return parser, parser.add_subparsers(required=True, metavar="COMMAND")


def run(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    """Parse and run one command; bad input prints `error: …` with the fix and exits 1, never a traceback."""
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (SourceError, ValueError) as exc:  # bad input or a request the command cannot answer
        print(f"error: {exc}", file=sys.stderr)
        return 1
