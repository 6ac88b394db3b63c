"""runs.log pages: read_lines returns about a page of complete lines, says when more follow, and always makes
progress (a line longer than a page comes whole)."""

from __future__ import annotations

from pathlib import Path

from specflowd.runner.tail import read_lines


def test_pages_cover_the_file_once_in_order(tmp_path: Path) -> None:
    path = tmp_path / "output.jsonl"
    lines = [f'{{"n": {i}, "pad": "{"x" * 50}"}}'.encode() for i in range(200)]
    path.write_bytes(b"\n".join(lines) + b"\n")
    seen: list[bytes] = []
    offset, more, pages = 0, True, 0
    while more:
        page, offset, more = read_lines(path, offset, limit=1000)
        assert page, "every page before the end holds at least one line"
        assert all(len(line) + 1 <= 1000 for _, line in page) and sum(len(line) + 1 for _, line in page) <= 1000
        seen += [line for _, line in page]
        pages += 1
    assert seen == lines and offset == path.stat().st_size and pages > 10


def test_a_line_longer_than_a_page_comes_whole(tmp_path: Path) -> None:
    path = tmp_path / "output.jsonl"
    path.write_bytes(b"a" * 5000 + b"\nshort\n")
    page, offset, more = read_lines(path, 0, limit=100)
    assert [line for _, line in page] == [b"a" * 5000] and offset == 5001 and more
    page, offset, more = read_lines(path, offset, limit=100)
    assert page == [(5001, b"short")] and not more


def test_a_partial_last_line_waits_and_is_not_more(tmp_path: Path) -> None:
    path = tmp_path / "output.jsonl"
    path.write_bytes(b"one\ntwo-still-being-writ")
    page, offset, more = read_lines(path, 0, limit=100)
    assert page == [(0, b"one")] and offset == 4 and not more
    assert read_lines(path, offset, limit=100) == ([], 4, False)
    assert read_lines(tmp_path / "missing", 7) == ([], 7, False)
