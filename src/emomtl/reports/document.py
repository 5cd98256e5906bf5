"""A report as plain data (sections of paragraphs, tables and figures) that every renderer reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union


@dataclass
class Cell:
    text: str
    bold: bool = False


@dataclass
class Table:
    """A table with a header row; the first column names the row (e.g. the strategy).

    ``numeric``: the columns after the first hold numbers and are right-aligned; otherwise every column is left-aligned.
    """

    columns: list[str]
    rows: list[list[Cell]]
    caption: str = ""
    numeric: bool = True


@dataclass
class Figure:
    """A PNG image; ``name`` is a file-name stem, unique within a report."""

    name: str
    png: bytes
    caption: str = ""


@dataclass
class Paragraph:
    text: str


Block = Union[Paragraph, Table, Figure]


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Report:
    title: str
    sections: list[Section] = field(default_factory=list)

    @property
    def figures(self) -> list[Figure]:
        return [block for section in self.sections for block in section.blocks if isinstance(block, Figure)]
