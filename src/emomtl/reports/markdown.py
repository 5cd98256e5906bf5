"""Render a :class:`Report` as Markdown; figures are linked as PNG files in a folder next to it."""

from __future__ import annotations

from emomtl.reports.document import Cell, Figure, Paragraph, Report, Table

#: Folder, relative to the Markdown file, that holds its figures.
FIGURE_FOLDER = "report_figures"


def render_markdown(report: Report, figure_folder: str = FIGURE_FOLDER) -> str:
    """The report as GitHub-flavoured Markdown; figure ``name`` is linked as ``<figure_folder>/<name>.png``."""
    lines = [f"# {report.title}", ""]
    for section in report.sections:
        lines += [f"## {section.title}", ""]
        for block in section.blocks:
            if isinstance(block, Table):
                lines += table_markdown(block)
            elif isinstance(block, Figure):
                lines.append(f"![{_escape(block.caption or block.name)}]({figure_folder}/{block.name}.png)")
                if block.caption:
                    lines += ["", f"*{_escape(block.caption)}*"]
            elif isinstance(block, Paragraph):
                lines.append(_escape(block.text))
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def table_markdown(table: Table) -> list[str]:
    """Pipe-table lines; the first column is left-aligned, the others right-aligned when the table is numeric."""
    other = "---:" if table.numeric else ":---"
    lines = [
        "| " + " | ".join(_escape(column) for column in table.columns) + " |",
        "|" + "|".join([":---"] + [other] * (len(table.columns) - 1)) + "|",
    ]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in table.rows]
    if table.caption:
        lines += ["", f"*{_escape(table.caption)}*"]
    return lines


def _cell(cell: Cell) -> str:
    text = _escape(cell.text)
    return f"**{text}**" if cell.bold and text else text


def _escape(text: str) -> str:
    """Escape characters Markdown would read as table separators, emphasis or HTML tags."""
    for character in "\\|*_<>":
        text = text.replace(character, "\\" + character)
    return text
