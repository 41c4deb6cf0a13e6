"""split_lines: the stdio framing on both sides of `tracemill wrap` and the stdio channel."""

from __future__ import annotations

from proxy.mcp.outbound import split_lines


def feed(chunks: list[bytes]) -> tuple[list[bytes], bytes]:
    buffer = bytearray()
    lines = [line for chunk in chunks for line in split_lines(buffer, chunk)]
    return lines, bytes(buffer)


def test_lines_are_cut_at_newlines_across_chunks_and_the_rest_waits():
    lines, rest = feed([b'{"a":', b"1}\n{", b'"b":2}\n{"c"'])
    assert lines == [b'{"a":1}', b'{"b":2}'] and rest == b'{"c"'


def test_crlf_is_trimmed_and_blank_lines_are_skipped():
    lines, rest = feed([b"one\r\n\r\n  \ntwo\n"])
    assert lines == [b"one", b"two"] and rest == b""


def test_a_chunk_without_newline_only_grows_the_buffer():
    buffer = bytearray(b"ab")
    assert split_lines(buffer, b"cd") == [] and buffer == b"abcd"


def test_no_limit_on_line_length():
    big = b"x" * (5 * 1024 * 1024)
    lines, rest = feed([big[: len(big) // 2], big[len(big) // 2 :] + b"\nnext"])
    assert lines == [big] and rest == b"next"
