"""The streaming XLSX writer: files that Excel-compatible readers open with the right types,
text that can neither break the XML nor turn into a formula, and memory that stays flat while
the bytes go out as the rows are read."""

from __future__ import annotations

import io
import re
import tracemalloc
import zipfile
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from gridgov.core import xlsx
from gridgov.core.xlsx import MAX_TEXT, column_letter, sheet_title, stream_xlsx


def build(headers: Sequence[str], rows: Any, **options: Any) -> bytes:
    return b"".join(stream_xlsx(headers, rows, **options))


def open_sheet(data: bytes) -> Any:
    return load_workbook(io.BytesIO(data)).active


def sheet_xml(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read("xl/worksheets/sheet1.xml").decode()


def test_round_trip_keeps_types_and_layout() -> None:
    headers = ["名称", "数量", "金额", "比例", "有效", "备注", "时间", "日期"]
    rows = [
        [
            "网格员 张三",
            42,
            Decimal("1234.50"),
            0.25,
            True,
            None,
            datetime(2024, 3, 1, 16, 30, tzinfo=UTC),
            date(2024, 2, 29),
        ],
        [
            "a & b < c > d \"e\" 'f'",
            -7,
            Decimal("-0.001"),
            -1.5e-7,
            False,
            "",
            datetime(2024, 3, 1, 8, 0, 15, tzinfo=timezone(timedelta(hours=-5))),
            datetime(2024, 12, 31, 23, 59),
        ],
        [12345678901234, 0, Decimal("NaN"), float("inf"), None, float("nan"), None, None],
    ]
    data = build(headers, rows, sheet="导出", widths=[12, 40])

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        assert archive.namelist()[0] == "[Content_Types].xml"
        assert set(archive.namelist()) >= {
            "_rels/.rels",
            "xl/workbook.xml",
            "xl/_rels/workbook.xml.rels",
            "xl/styles.xml",
            "xl/worksheets/sheet1.xml",
        }
    ws = open_sheet(data)
    assert ws.title == "导出"
    assert [cell.value for cell in ws[1]] == headers
    assert all(cell.font.b for cell in ws[1])
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:H4"
    assert ws.column_dimensions["A"].width == 12
    assert ws.column_dimensions["B"].width == 40

    first = [cell.value for cell in ws[2]]
    assert first[:5] == ["网格员 张三", 42, 1234.5, 0.25, True]
    assert first[5] is None
    assert first[6] == datetime(2024, 3, 2, 0, 30)  # 16:30 UTC is 00:30 next day in Shanghai
    assert first[7] == datetime(2024, 2, 29)
    assert ws["G2"].is_date and ws["H2"].is_date
    assert ws["G2"].number_format == "yyyy-mm-dd hh:mm:ss"
    assert ws["H2"].number_format == "yyyy-mm-dd"

    second = [cell.value for cell in ws[3]]
    assert second[:5] == ["a & b < c > d \"e\" 'f'", -7, -0.001, -1.5e-7, False]
    assert ws["B3"].data_type == "n"
    assert second[5] == ""
    assert second[6] == datetime(2024, 3, 1, 21, 0, 15)  # UTC-5 08:00:15 is 21:00:15 here
    assert second[7] == datetime(2024, 12, 31, 23, 59)

    third = [cell.value for cell in ws[4]]
    assert third[:2] == [12345678901234, 0]
    # NaN and infinity have no cell value in Excel: they are kept as text.
    assert third[2:6] == ["NaN", "inf", None, "nan"]
    assert ws["C4"].data_type == "s"


def test_numbers_beyond_a_double_are_text() -> None:
    ws = open_sheet(
        build(["n", "d"], [[10**400, Decimal("1E+400")], [-(10**20), Decimal("1E+20")]])
    )
    assert ws["A2"].value == str(10**400)
    assert ws["B2"].value == "1E+400"
    assert ws["A3"].value == -(10**20) and ws["B3"].value == 1e20


@pytest.mark.parametrize(
    "text", ["=1+1", "+1", "-1", "@SUM(A1:A2)", "\t=cmd", "\r=cmd", '=HYPERLINK("http://x")']
)
def test_text_that_would_start_a_formula_gets_a_leading_quote(text: str) -> None:
    data = build(["value", "number"], [[text, -5]])
    ws = open_sheet(data)
    assert ws["A2"].value == "'" + text
    assert ws["A2"].data_type == "s"
    assert ws["B2"].value == -5 and ws["B2"].data_type == "n"
    assert "<f>" not in sheet_xml(data)


def test_formula_check_runs_on_the_cleaned_text_and_headers() -> None:
    ws = open_sheet(build(["=evil"], [["\x00=1+1"], ["a=b"], ["1-2"], ["  =1"]]))
    assert ws["A1"].value == "'=evil"
    assert [ws[f"A{n}"].value for n in range(2, 6)] == ["'=1+1", "a=b", "1-2", "  =1"]


def test_characters_illegal_in_xml_are_removed() -> None:
    dirty = "a\x00b\x01c\x08d\x0be\x0cf\x1fg\ud800h\udfffi\ufffej\uffffk"
    ws = open_sheet(build(["t"], [[dirty], ["tab\there\nnew line\r\nend"]]))
    assert ws["A2"].value == "abcdefghijk"
    assert ws["A3"].value == "tab\there\nnew line\r\nend"


def test_excel_escape_sequences_stay_literal() -> None:
    xml = sheet_xml(build(["t"], [["id_x0041_end"]]))
    assert "id_x005F_x0041_end" in xml


def test_long_text_is_cut_to_excels_limit() -> None:
    ws = open_sheet(build(["t"], [["x" * 40_000], ["=" + "y" * 40_000]]))
    assert ws["A2"].value == "x" * MAX_TEXT
    assert len(ws["A3"].value) == MAX_TEXT
    assert ws["A3"].value.startswith("'=y")


def test_more_than_26_columns() -> None:
    headers = [f"h{n}" for n in range(1, 31)]
    ws = open_sheet(build(headers, [list(range(1, 31))]))
    assert ws.max_column == 30
    assert ws["Z1"].value == "h26"
    assert ws["AA1"].value == "h27"
    assert ws["AD2"].value == 30
    assert ws.auto_filter.ref == "A1:AD2"


def test_column_letters() -> None:
    assert [column_letter(n) for n in (1, 26, 27, 52, 53, 702, 703, 16_384)] == [
        "A",
        "Z",
        "AA",
        "AZ",
        "BA",
        "ZZ",
        "AAA",
        "XFD",
    ]
    assert all(column_letter(n) == get_column_letter(n) for n in range(1, 16_385))
    for bad in (0, 16_385):
        with pytest.raises(ValueError):
            column_letter(bad)


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ('a[b]c:d*e?f/g\\h <&>"', 'abcdefgh <&>"'),
        ("[]:*?/\\", "Sheet1"),
        ("", "Sheet1"),
        ("'quoted'", "quoted"),
        ("x\x00y", "xy"),
        ("区" * 40, "区" * 31),
        ("😀" * 20, "😀" * 15),  # Excel counts UTF-16 units
    ],
)
def test_hostile_sheet_names(name: str, title: str) -> None:
    assert sheet_title(name) == title
    ws = open_sheet(build(["a"], [[1]], sheet=name))
    assert ws.title == title


def test_no_rows_and_no_headers() -> None:
    ws = open_sheet(build(["a", "b", "c"], []))
    assert [cell.value for cell in ws[1]] == ["a", "b", "c"]
    assert ws.auto_filter.ref == "A1:C1"
    ws = open_sheet(build([], [[1, 2]]))
    assert ws.freeze_panes is None
    assert [cell.value for cell in ws[1]] == [1, 2]


def test_dates_excel_cannot_show_are_written_as_text() -> None:
    ws = open_sheet(build(["d"], [[date(1899, 1, 2)], [datetime(1900, 2, 28, 12, 0)]]))
    assert ws["A2"].value == "1899-01-02"
    assert ws["A3"].value == "1900-02-28 12:00:00"


def test_more_rows_than_excel_opens_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx, "MAX_ROWS", 3)
    build(["a"], [[1], [2]])
    with pytest.raises(ValueError, match="rows"):
        build(["a"], [[1], [2], [3]])


def test_bytes_go_out_while_rows_are_still_being_read() -> None:
    total = 20_000
    consumed = 0

    def rows() -> Iterator[list[Any]]:
        nonlocal consumed
        for n in range(total):
            consumed += 1
            yield [n, f"row {n}", n * 0.5]

    chunks: list[bytes] = []
    consumed_at_chunk: list[int] = []
    for chunk in stream_xlsx(["n", "text", "half"], rows()):
        assert isinstance(chunk, bytes) and chunk
        chunks.append(chunk)
        consumed_at_chunk.append(consumed)

    assert len(chunks) > 2
    assert consumed_at_chunk[0] == 0  # the fixed parts go out before the first row is read
    assert any(0 < seen < total for seen in consumed_at_chunk)  # sheet data mid-stream
    data = b"".join(chunks)
    assert zipfile.ZipFile(io.BytesIO(data)).testzip() is None
    ws = open_sheet(data)
    assert ws.max_row == total + 1
    assert [cell.value for cell in ws[total + 1]] == [total - 1, f"row {total - 1}", 9999.5]


def test_stopping_early_is_harmless() -> None:
    stream = stream_xlsx(["n"], ([n] for n in range(10_000)))
    next(stream)
    next(stream)
    stream.close()


def test_memory_stays_flat() -> None:
    def rows() -> Iterator[list[Any]]:
        stamp = datetime(2024, 1, 1, tzinfo=UTC)
        for n in range(200_000):
            yield [
                n,
                -n,
                n * 1.5,
                Decimal("12.34"),
                f"name {n}",
                "网格事件描述文本",
                stamp,
                n % 2 == 0,
                None,
                "x" * 40,
            ]

    headers = [f"h{n}" for n in range(10)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        size = 0
        for chunk in stream_xlsx(headers, rows()):
            size += len(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert size > 1_000_000
    assert peak - before < 20 * 1024 * 1024


def test_inline_strings_only() -> None:
    xml = sheet_xml(build(["a"], [["x"]]))
    assert re.search(r'<c r="A2" t="inlineStr"><is><t xml:space="preserve">x</t></is></c>', xml)
