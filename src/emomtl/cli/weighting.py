"""``emomtl weighting list``: the loss-weighting strategies emomtl knows, with their kind and DDP safety."""

from __future__ import annotations

import argparse
import json

from emomtl.weighting import describe


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("weighting", help="loss-weighting strategies", description=__doc__)
    commands = parser.add_subparsers(dest="weighting_command", required=True)
    listing = commands.add_parser("list", help="list the strategies (name, kind, ddp_safe, description, equation)")
    listing.add_argument("--json", action="store_true", help="print JSON records, with formulas and parameters")
    listing.set_defaults(handler=list_strategies)


def list_strategies(args: argparse.Namespace) -> int:
    records = describe()
    if args.json:
        print(json.dumps(records, indent=2))
        return 0
    columns = ("name", "kind", "ddp_safe", "description")
    rows = [[str(r[c]).lower() if c == "ddp_safe" else str(r[c]) for c in columns] for r in records]
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(columns)]
    print("  ".join(cell.ljust(width) for cell, width in zip(columns, widths)).rstrip())
    for row, record in zip(rows, records):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        print(f"    {record['formula']}")  # the strategy's equation (its class's ``equation``)
    return 0
