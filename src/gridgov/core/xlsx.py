"""A streaming XLSX writer: exports go out as a ``StreamingHttpResponse`` while rows are still
being read, with flat memory whatever the number of rows, and without a third-party library.

The zip is written to a sink that cannot seek, so ``zipfile`` puts each entry's sizes in a data
descriptor after its data and nothing is ever rewritten; the generator hands on what the sink
holds after every batch of rows. Text is made safe twice: for XML (characters XML 1.0 refuses
are dropped) and for whoever re-saves the file as CSV (a text cell that would start a formula
gets a leading quote, per OWASP's CSV-injection advice).
"""

from __future__ import annotations

import math
import re
import sys
import time
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["MAX_COLUMNS", "MAX_ROWS", "MAX_TEXT", "column_letter", "sheet_title", "stream_xlsx"]

# Excel's own limits: beyond them it calls the file corrupt or cuts the text.
MAX_ROWS = 1_048_576
MAX_COLUMNS = 16_384
MAX_TEXT = 32_767
MAX_SHEET_TITLE = 31
MAX_WIDTH = 255

# Rows are handed to the zip in batches (one write per batch keeps the per-cell cost low); the
# sink is drained after each, so memory holds one batch of XML and one of compressed bytes.
BATCH_ROWS = 500
BATCH_CHARS = 64 * 1024
# No ZIP64: Excel has refused streamed files that declare ZIP64 they do not need, and a sheet
# stays far below 4 GiB (a million rows of our columns, each capped, is about 3 GB of XML at
# worst; zipfile would fail loudly at the end rather than write a broken file).
FORCE_ZIP64 = False

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Serial numbers count days from 1899-12-30 (Excel's 1900 system, leap-year bug included);
# before 1900-03-01 they disagree with the calendar, so such dates are written as text.
_EPOCH = datetime(1899, 12, 30)
_FIRST_SERIAL_DATE = date(1900, 3, 1)

# Excel numbers are doubles: what is not finite, or beyond a double's range, is kept as text.
_LARGEST = sys.float_info.max
_LARGEST_EXPONENT = sys.float_info.max_10_exp

# Characters XML 1.0 refuses (C0 controls other than tab, newline and carriage return; lone
# surrogates, which UTF-8 cannot even encode) and the non-characters U+FFFE and U+FFFF.
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Excel reads "_xHHHH_" inside text as an escaped character; its own escape for the underscore
# keeps such text literal.
_EXCEL_ESCAPE = re.compile("_(?=x[0-9A-Fa-f]{4}_)")
# A cell starting with one of these becomes a formula once the sheet is saved as CSV and opened.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Characters Excel refuses in a sheet title.
_TITLE_REFUSED = re.compile(r"[\[\]:*?/\\]")


# Cell styles (indexes into cellXfs in styles.xml).
_STYLE_HEADER = 1
_STYLE_DATETIME = 2
_STYLE_DATE = 3

_NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

_CONTENT_TYPES = (
    _XML_DECL + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships'
    '+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sharedStrings+xml"/>'
    '<Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.extended-properties+xml"/>'
    "</Types>"
)

_ROOT_RELS = (
    _XML_DECL + f'<Relationships xmlns="{_NS_PKG_REL}">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/extended-properties" Target="docProps/app.xml"/>'
    "</Relationships>"
)

_APP_PROPS = (
    _XML_DECL
    + '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
    "<Application>gridgov</Application></Properties>"
)

_WORKBOOK_RELS = (
    _XML_DECL + f'<Relationships xmlns="{_NS_PKG_REL}">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/styles" Target="styles.xml"/>'
    '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/sharedStrings" Target="sharedStrings.xml"/>'
    "</Relationships>"
)

# Every string is written inline; the empty table is there for readers (Apple Numbers, some
# importers) that refuse a workbook without one.
_SHARED_STRINGS = _XML_DECL + f'<sst xmlns="{_NS_MAIN}" count="0" uniqueCount="0"/>'

_STYLES = (
    _XML_DECL + f'<styleSheet xmlns="{_NS_MAIN}">'
    '<numFmts count="2">'
    '<numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm:ss"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd"/>'
    "</numFmts>"
    '<fonts count="2">'
    '<font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    "</fonts>"
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="4">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


class _Sink:
    """A write-only file for ``zipfile``: with no ``tell``/``seek`` it streams (data descriptors,
    no going back to patch headers), and whatever it holds is taken out after each batch."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes, /) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: the bytes wait in memory until the generator takes them."""

    def close(self) -> None:
        """Nothing to close: the generator takes the last bytes after the zip is closed."""

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def column_letter(number: int) -> str:
    """Excel's name for the 1-based column ``number``: A … Z, AA … AZ, BA … XFD."""
    if not 1 <= number <= MAX_COLUMNS:
        raise ValueError(f"column {number} is outside 1..{MAX_COLUMNS}")
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def sheet_title(name: str) -> str:
    """A title Excel accepts: no ``[]:*?/\\``, no XML-illegal characters, no quote at either
    end, at most 31 characters; "Sheet1" when nothing is left."""
    title = _TITLE_REFUSED.sub("", _ILLEGAL_XML.sub("", name)).strip().strip("'")
    title = title[:MAX_SHEET_TITLE]
    while len(title.encode("utf-16-le")) > 2 * MAX_SHEET_TITLE:  # Excel counts UTF-16 units
        title = title[:-1]
    return title.strip().strip("'") or "Sheet1"


def _xml_text(value: str) -> str:
    """Escaped for element text and attribute values alike; a carriage return as a character
    reference, since XML parsers turn a literal one into a line feed."""
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&apos;")
        .replace("\r", "&#13;")
    )


def _safe_text(value: str) -> str:
    """Text as XML 1.0 can carry it, neutralised against formula injection, cut to Excel's
    limit, and escaped."""
    if _ILLEGAL_XML.search(value):
        value = _ILLEGAL_XML.sub("", value)
    if value.startswith(_FORMULA_START):
        value = "'" + value
    if len(value) > MAX_TEXT:
        value = value[:MAX_TEXT]
    if "_x" in value:
        # Escaping may lengthen the stored form; Excel counts the characters it shows.
        value = _EXCEL_ESCAPE.sub("_x005F_", value)
    return _xml_text(value)


def _text_cell(ref: str, value: str, style: int = 0) -> str:
    s = f' s="{style}"' if style else ""
    text = _safe_text(value)
    return f'<c r="{ref}"{s} t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def _serial(value: datetime) -> str:
    delta = value - _EPOCH
    return repr(delta.days + (delta.seconds + delta.microseconds / 1_000_000) / 86_400)


def _cell(ref: str, value: Any) -> str:
    """One ``<c>`` element; the type decides how Excel will read it back."""
    if isinstance(value, str):
        return _text_cell(ref, value)
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int):
        if -_LARGEST <= value <= _LARGEST:
            return f'<c r="{ref}"><v>{int(value)}</v></c>'
        return _text_cell(ref, str(value))
    if isinstance(value, float):
        if math.isfinite(value):
            return f'<c r="{ref}"><v>{float(value)!r}</v></c>'
        return _text_cell(ref, str(value))
    if isinstance(value, Decimal):
        if value.is_finite() and value.adjusted() < _LARGEST_EXPONENT:
            return f'<c r="{ref}"><v>{value}</v></c>'
        return _text_cell(ref, str(value))
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(SHANGHAI).replace(tzinfo=None)
        if value.date() < _FIRST_SERIAL_DATE:
            return _text_cell(ref, value.isoformat(sep=" "))
        return f'<c r="{ref}" s="{_STYLE_DATETIME}"><v>{_serial(value)}</v></c>'
    if isinstance(value, date):
        if value < _FIRST_SERIAL_DATE:
            return _text_cell(ref, value.isoformat())
        days = (value - _EPOCH.date()).days
        return f'<c r="{ref}" s="{_STYLE_DATE}"><v>{days}</v></c>'
    return _text_cell(ref, str(value))


def _letters(letters: list[str], count: int) -> list[str]:
    """Column letters, computed once per column rather than once per cell."""
    while len(letters) < count:
        letters.append(column_letter(len(letters) + 1))
    return letters


def _row(number: int, values: Sequence[Any], letters: list[str]) -> str:
    if not isinstance(values, list | tuple):
        values = list(values)
    if len(values) > len(letters):
        _letters(letters, len(values))
    row = str(number)
    cells = [
        _cell(letter + row, value)
        for letter, value in zip(letters, values, strict=False)
        if value is not None
    ]
    return f'<row r="{row}">{"".join(cells)}</row>'


def _sheet_head(header_count: int, widths: Sequence[int] | None) -> str:
    parts = [_XML_DECL, f'<worksheet xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}">']
    parts.append('<sheetViews><sheetView tabSelected="1" workbookViewId="0">')
    if header_count:
        parts.append(
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
        )
    parts.append('</sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>')
    if widths:
        parts.append("<cols>")
        for number, width in enumerate(widths[:MAX_COLUMNS], start=1):
            width = min(max(int(width), 1), MAX_WIDTH)
            parts.append(f'<col min="{number}" max="{number}" width="{width}" customWidth="1"/>')
        parts.append("</cols>")
    parts.append("<sheetData>")
    return "".join(parts)


def _workbook(title: str, filter_ref: str | None) -> str:
    names = ""
    if filter_ref:
        quoted = "'" + title.replace("'", "''") + "'"
        names = (
            '<definedNames><definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">'
            f"{_xml_text(quoted)}!{filter_ref}</definedName></definedNames>"
        )
    return (
        _XML_DECL + f'<workbook xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}">'
        '<bookViews><workbookView activeTab="0"/></bookViews>'
        f'<sheets><sheet name="{_xml_text(title)}" sheetId="1" r:id="rId1"/></sheets>'
        f"{names}</workbook>"
    )


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def stream_xlsx(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    sheet: str = "Sheet1",
    widths: Sequence[int] | None = None,
) -> Iterator[bytes]:
    """Yield the bytes of a one-sheet .xlsx file as the rows are read.

    The header row is bold, frozen and carries an autofilter over the data. ``None`` leaves a
    cell empty; bools, numbers, dates and datetimes keep their type (aware datetimes are shown
    in Asia/Shanghai time); anything else is written as text. More rows than Excel can open
    (1,048,576 with the header) raise ``ValueError`` rather than give a file Excel rejects.
    """
    title = sheet_title(sheet)
    header_count = len(headers)
    if header_count > MAX_COLUMNS:
        raise ValueError(f"{header_count} columns; Excel opens at most {MAX_COLUMNS}")
    letters = _letters([], header_count)
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        # The fixed parts first, so the client gets bytes before the first row is read.
        archive.writestr(_entry("[Content_Types].xml"), _CONTENT_TYPES)
        archive.writestr(_entry("_rels/.rels"), _ROOT_RELS)
        archive.writestr(_entry("docProps/app.xml"), _APP_PROPS)
        archive.writestr(_entry("xl/_rels/workbook.xml.rels"), _WORKBOOK_RELS)
        archive.writestr(_entry("xl/styles.xml"), _STYLES)
        archive.writestr(_entry("xl/sharedStrings.xml"), _SHARED_STRINGS)
        yield sink.take()

        number = 0
        sheet_entry = _entry("xl/worksheets/sheet1.xml")
        with archive.open(sheet_entry, "w", force_zip64=FORCE_ZIP64) as out:
            head = [_sheet_head(header_count, widths)]
            if header_count:
                number = 1
                cells = "".join(
                    _text_cell(f"{letters[i]}1", str(h), _STYLE_HEADER)
                    for i, h in enumerate(headers)
                )
                head.append(f'<row r="1">{cells}</row>')
            out.write("".join(head).encode())

            batch: list[str] = []
            batch_chars = 0
            for values in rows:
                number += 1
                if number > MAX_ROWS:
                    raise ValueError(f"more than {MAX_ROWS} rows; Excel would not open the file")
                line = _row(number, values, letters)
                batch.append(line)
                batch_chars += len(line)
                if len(batch) >= BATCH_ROWS or batch_chars >= BATCH_CHARS:
                    out.write("".join(batch).encode())
                    batch.clear()
                    batch_chars = 0
                    chunk = sink.take()
                    if chunk:
                        yield chunk

            tail = ["".join(batch), "</sheetData>"]
            filter_ref = None
            if header_count:
                filter_ref = f"$A$1:${letters[header_count - 1]}${number}"
                tail.append(f'<autoFilter ref="{filter_ref.replace("$", "")}"/>')
            tail.append("</worksheet>")
            out.write("".join(tail).encode())

        # Zip entries may come in any order: the workbook goes last, once the filter's extent
        # (its hidden defined name) is known.
        archive.writestr(_entry("xl/workbook.xml"), _workbook(title, filter_ref))
    yield sink.take()
