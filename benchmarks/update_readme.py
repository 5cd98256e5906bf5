"""Copy the benchmark tables of ``benchmarks/results/*.md`` into README.md, between their markers.

    python benchmarks/update_readme.py            # rewrite the blocks in place
    python benchmarks/update_readme.py --check    # exit 1 if README.md is out of date

A block is ``<!-- results:NAME -->`` ... ``<!-- /results:NAME -->``; its content becomes
``benchmarks/results/NAME.md`` as the last benchmark run wrote it, so README numbers are never typed by hand.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(<!-- results:(?P<name>[\w./-]+) -->\n)(?P<body>.*?)(<!-- /results:(?P=name) -->)", re.S)


def render(readme: str, results: Path) -> str:
    """``readme`` with every results block replaced by its table; a block without a table is an error."""

    def table(match: re.Match[str]) -> str:
        source = results / f"{match['name']}.md"
        if not source.exists():
            raise SystemExit(f"error: README block {match['name']!r} has no table {source}")
        return f"{match[1]}{source.read_text().rstrip()}\n{match[4]}"

    return BLOCK.sub(table, readme)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--check", action="store_true", help="only report whether the README is up to date")
    args = parser.parse_args()
    before = args.readme.read_text()
    after = render(before, args.results)
    if args.check:
        sys.exit(0 if after == before else 1)
    args.readme.write_text(after)
    print(f"{args.readme}: {len(BLOCK.findall(before))} results block(s) written")


if __name__ == "__main__":
    main()
