"""``emomtl data``: describe a corpus, write its table, show a protocol's splits.

Examples::

    emomtl data describe --corpus emodb --root ../shared/data/emodb --json
    emomtl data manifest --corpus iemocap --root IEMOCAP_full_release -O four_class=true -o iemocap.csv
    emomtl data splits --corpus emodb --root ../shared/data/emodb --protocol loso --seed 0
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from rich.console import Console
from rich.table import Table

from emomtl.data.corpora import CorpusLoad, available_corpora, load_corpus
from emomtl.data.corpora.checks import DEFAULT_MIN_DURATION
from emomtl.data.describe import describe
from emomtl.data.label_maps import apply_label_map, available_label_maps, load_label_map
from emomtl.data.protocols import available_protocols, make_splits
from emomtl.errors import ConfigError
from emomtl.runtime.files import refuse_input_as_output, write_csv

#: Skipped files listed in full before the rest is summarised as a count.
SHOWN_SKIPS = 20
#: Speakers listed one by one in ``describe`` up to this many.
MAX_SPEAKERS_SHOWN = 30


def parse_options(pairs: list[str] | None, flag: str) -> dict[str, Any]:
    """``["four_class=true", "sessions=[1, 2]"]`` -> ``{"four_class": True, "sessions": [1, 2]}`` (YAML values)."""
    options: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{flag} {pair!r}: expected KEY=VALUE")
        try:
            options[key.strip()] = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError as error:
            raise ConfigError(f"{flag} {pair!r}: the value is not valid YAML ({error})") from None
    return options


def _load(args: argparse.Namespace) -> tuple[CorpusLoad, pd.DataFrame, int]:
    """The corpus of ``args``, with its label map applied when one is given (and how many rows it dropped)."""
    loaded = load_corpus(args.corpus, args.root, check_audio=args.check_audio, min_duration=args.min_duration,
                         **parse_options(args.option, "--option"))
    table = loaded.table
    dropped = 0
    if getattr(args, "label_map", None):
        table, dropped = apply_label_map(table, load_label_map(args.label_map))
    return loaded, table, dropped


def _print_skipped(console: Console, skipped: list[dict[str, str]] | list[Any]) -> None:
    if not skipped:
        return
    console.print(f"[yellow]skipped {len(skipped)} file(s):[/yellow]")
    for item in skipped[:SHOWN_SKIPS]:
        path, reason = (item["path"], item["reason"]) if isinstance(item, dict) else (item.path, item.reason)
        console.print(f"  {path}: {reason}", markup=False, highlight=False)
    if len(skipped) > SHOWN_SKIPS:
        console.print(f"  ... and {len(skipped) - SHOWN_SKIPS} more (use --json for all)")


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "unknown (audio not checked)"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d} ({seconds:.1f} s)"


def run_describe(args: argparse.Namespace) -> int:
    summary = describe(args.corpus, args.root, check_audio=args.check_audio, min_duration=args.min_duration,
                       **parse_options(args.option, "--option"))
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
        return 0
    console = Console(soft_wrap=True)
    console.print(f"[bold]{summary['corpus']}[/bold]  {summary['root'] or ''}")
    console.print(f"files: {summary['files']}   speakers: {summary['speakers']}   "
                  f"duration: {_hours(summary['total_duration_s'])}")
    per_speaker = summary["files_per_speaker"]
    if len(per_speaker) <= MAX_SPEAKERS_SHOWN:
        console.print("files per speaker: " + ", ".join(f"{s} ({n})" for s, n in per_speaker.items()),
                      markup=False, highlight=False)
    for column, counts in summary["labels"].items():
        table = Table(title=column, show_header=True, title_justify="left")
        table.add_column("value")
        table.add_column("files", justify="right")
        for value, count in counts.items():
            table.add_row(value, str(count))
        console.print(table)
    if summary["numeric"]:
        table = Table(title="numeric labels", title_justify="left")
        for heading in ("column", "count", "mean", "min", "max"):
            table.add_column(heading, justify="left" if heading == "column" else "right")
        for column, stats in summary["numeric"].items():
            table.add_row(column, *(str(stats[k]) for k in ("count", "mean", "min", "max")))
        console.print(table)
    _print_skipped(console, summary["skipped"])
    return 0


def run_manifest(args: argparse.Namespace) -> int:
    loaded, table, dropped = _load(args)
    output = Path(args.output).expanduser()
    refuse_input_as_output(output, [*([args.root] if args.root else []), *table["path"]], "data manifest -o")
    output.parent.mkdir(parents=True, exist_ok=True)
    separator = "\t" if output.suffix.lower() in (".tsv", ".tab") else ","
    write_csv(output, table, index=False, sep=separator)
    console = Console(stderr=True)
    console.print(f"wrote {len(table)} row(s) of {loaded.name} to {output}"
                  + (f" ({dropped} dropped by the label map)" if dropped else ""))
    _print_skipped(console, loaded.skipped)
    return 0


def run_splits(args: argparse.Namespace) -> int:
    loaded, table, _ = _load(args)
    options = parse_options(args.protocol_option, "--protocol-option")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        splits = make_splits(table, args.protocol, seed=args.seed, **options)
    for warning in caught:
        Console(stderr=True).print(f"[yellow]warning:[/yellow] {warning.message}", highlight=False)
    if args.json:
        print(json.dumps({"corpus": loaded.name, "protocol": args.protocol, "seed": args.seed,
                          "splits": [s.summary() for s in splits]}, indent=2, ensure_ascii=False))
        return 0
    console = Console(soft_wrap=True)
    view = Table(title=f"{loaded.name}: {args.protocol} (seed {args.seed}), {len(splits)} split(s)",
                 title_justify="left")
    for heading in ("split", "train", "validation", "test", "test speakers", "validation speakers"):
        view.add_column(heading, justify="right" if heading in ("train", "validation", "test") else "left")
    for split in splits:
        sizes = split.sizes()
        view.add_row(split.name, str(sizes["train"]), str(sizes["validation"]), str(sizes["test"]),
                     _speaker_list(split.test_speakers), _speaker_list(split.validation_speakers))
    console.print(view)
    _print_skipped(console, loaded.skipped)
    return 0


def _speaker_list(speakers: list[str], limit: int = 8) -> str:
    shown = ", ".join(speakers[:limit])
    return shown + (f", ... ({len(speakers)})" if len(speakers) > limit else "")


def run_list(args: argparse.Namespace) -> int:
    listing = {"corpora": available_corpora(), "protocols": available_protocols(), "label_maps": available_label_maps()}
    if args.json:
        print(json.dumps(listing, indent=2))
    else:
        for key, names in listing.items():
            print(f"{key}: {', '.join(names)}")
    return 0


def _corpus_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpus", required=True, help=f"corpus name: {', '.join(available_corpora())}")
    parser.add_argument("--root", help="folder the corpus is stored in (a manifest file for --corpus manifest)")
    parser.add_argument("-O", "--option", action="append", metavar="KEY=VALUE",
                        help="adapter option, value in YAML (e.g. four_class=true); repeatable")
    parser.add_argument("--no-check-audio", dest="check_audio", action="store_false",
                        help="do not open the audio files (faster, but bad files are not caught)")
    parser.add_argument("--min-duration", type=float, default=DEFAULT_MIN_DURATION,
                        help="skip files shorter than this many seconds (default: %(default)s)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``emomtl data {describe,manifest,splits,list}``."""
    data = subparsers.add_parser("data", help="corpora: describe, write tables, show splits",
                                 description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = data.add_subparsers(dest="data_command", required=True)

    describe_parser = commands.add_parser("describe", help="files, duration, speakers, label counts, skipped files")
    _corpus_arguments(describe_parser)
    describe_parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    describe_parser.set_defaults(handler=run_describe)

    manifest_parser = commands.add_parser("manifest", help="write the corpus table as CSV (TSV for .tsv)")
    _corpus_arguments(manifest_parser)
    manifest_parser.add_argument("-o", "--output", required=True, help="output file (.csv or .tsv)")
    manifest_parser.add_argument("--label-map", help="apply a label map (bundled name or YAML file) first")
    manifest_parser.set_defaults(handler=run_manifest)

    splits_parser = commands.add_parser("splits", help="each split's sizes and speakers under a protocol")
    _corpus_arguments(splits_parser)
    splits_parser.add_argument("--protocol", default="loso", help=f"{', '.join(available_protocols())} (default: loso)")
    splits_parser.add_argument("--seed", type=int, default=0, help="seed of the speaker draws (default: 0)")
    splits_parser.add_argument("-P", "--protocol-option", action="append", metavar="KEY=VALUE",
                               help="protocol option, value in YAML (e.g. validation_speakers=2); repeatable")
    splits_parser.add_argument("--label-map", help="apply a label map (bundled name or YAML file) first")
    splits_parser.add_argument("--json", action="store_true", help="print the splits as JSON")
    splits_parser.set_defaults(handler=run_splits)

    list_parser = commands.add_parser("list", help="available corpora, protocols and label maps")
    list_parser.add_argument("--json", action="store_true", help="print as JSON")
    list_parser.set_defaults(handler=run_list)
