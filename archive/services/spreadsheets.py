"""CSV exports that a spreadsheet opens safely: what users typed (titles, names, reasons)
reaches the registers and reports, and a cell that begins like a formula (=, +, -, @, a
tab or a carriage return) would be run by Excel as one. Such a cell is written with a
leading apostrophe, which spreadsheets show as text."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value) -> str:
    """`value` as a CSV cell no spreadsheet runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in FORMULA_STARTS else text


def row(values) -> list[str]:
    return [cell(value) for value in values]
