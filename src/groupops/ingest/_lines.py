"""Streaming a text file as numbered lines in large blocks, never whole-file in memory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LineBlock", "read_line_blocks"]

_BLOCK_BYTES = 16 * 1024 * 1024


@dataclass
class LineBlock:
    """Consecutive lines of a file: ``lines[i]`` is line ``first_line + i`` (1-based)."""

    first_line: int
    lines: list[str]
    bad_lines: list[tuple[int, str, bytes]]  # (line number, reason, raw bytes) found while decoding
    bytes_read: int


def _decode_lines(raw_lines: list[bytes], first_line: int, max_line_bytes: int) -> LineBlock:
    lines: list[str] = []
    bad: list[tuple[int, str, bytes]] = []
    for offset, raw in enumerate(raw_lines):
        number = first_line + offset
        if len(raw) > max_line_bytes:
            bad.append((number, f"line longer than {max_line_bytes} bytes ({len(raw)} bytes)", raw))
            lines.append("")
            continue
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError as error:
            bad.append((number, f"not valid UTF-8 at byte {error.start}", raw))
            lines.append("")
    return LineBlock(first_line, lines, bad, 0)


def _block_to_lines(block: bytes, first_line: int, max_line_bytes: int) -> LineBlock:
    try:
        text_lines = block.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        text_lines = None
    if text_lines is not None and max(map(len, text_lines)) * 4 <= max_line_bytes:
        return LineBlock(first_line, text_lines, [], len(block))
    result = _decode_lines(block.split(b"\n"), first_line, max_line_bytes)
    result.bytes_read = len(block)
    return result


def read_line_blocks(path: Path, max_line_bytes: int, block_bytes: int = _BLOCK_BYTES) -> Iterator[LineBlock]:
    """Yield blocks of decoded lines with their numbers; bad UTF-8 and oversize lines are reported.

    A trailing ``\\r`` is stripped (CRLF files) and a UTF-8 BOM at the start is skipped. A line
    longer than ``max_line_bytes`` is never held whole in memory: its first bytes are kept
    for the quarantine and the rest is skipped.
    """
    reader = _BlockReader(max_line_bytes)
    with path.open("rb") as handle:
        chunk = handle.read(block_bytes)
        if chunk.startswith(b"\xef\xbb\xbf"):
            chunk = chunk[3:]
        while chunk:
            yield from reader.feed(chunk)
            chunk = handle.read(block_bytes)
    yield from reader.finish()


class _BlockReader:
    def __init__(self, max_line_bytes: int) -> None:
        self.max_line_bytes = max_line_bytes
        self.next_line = 1
        self.carry = b""
        self.oversize_sample: bytes | None = None  # set while skipping the rest of a huge line
        self.oversize_length = 0

    def feed(self, chunk: bytes) -> Iterator[LineBlock]:
        if self.oversize_sample is not None:
            cut = chunk.find(b"\n")
            if cut < 0:
                self.oversize_length += len(chunk)
                return
            yield self._end_oversize(cut)
            chunk = chunk[cut + 1 :]
        data = self.carry + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            self._carry_or_skip(data)
            return
        block, self.carry = data[:cut], data[cut + 1 :]
        yield self._emit(block)
        self._carry_or_skip(self.carry)

    def _carry_or_skip(self, data: bytes) -> None:
        if len(data) > self.max_line_bytes:
            self.oversize_sample, self.oversize_length, self.carry = data[:1000], len(data), b""
        else:
            self.carry = data

    def _end_oversize(self, extra: int) -> LineBlock:
        length = self.oversize_length + extra
        reason = f"line longer than {self.max_line_bytes} bytes ({length} bytes; first 1000 kept)"
        block = LineBlock(
            self.next_line, [""], [(self.next_line, reason, self.oversize_sample or b"")], length
        )
        self.next_line += 1
        self.oversize_sample = None
        return block

    def _emit(self, block: bytes) -> LineBlock:
        block = block.replace(b"\r\n", b"\n")
        if block.endswith(b"\r"):
            block = block[:-1]
        result = _block_to_lines(block, self.next_line, self.max_line_bytes)
        self.next_line += len(result.lines)
        return result

    def finish(self) -> Iterator[LineBlock]:
        if self.oversize_sample is not None:
            yield self._end_oversize(0)
        elif self.carry:
            yield self._emit(self.carry)
            self.carry = b""
