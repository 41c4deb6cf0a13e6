import time

from recorder.sse import SSEParser, parse_all


def test_splits_events_across_arbitrary_chunk_boundaries():
    stream = b'data: {"a":1}\n\n: keep-alive\n\ndata: {"b":2}\r\n\r\nevent: endpoint\rdata: /x\r\r'
    for size in (1, 2, 3, 7, len(stream)):
        chunks = [stream[i : i + size] for i in range(0, len(stream), size)]
        events = parse_all(chunks)
        assert [e.data for e in events] == ['{"a":1}', '{"b":2}', "/x"]
        assert events[2].event == "endpoint"


def test_multiline_data_and_ids_and_trailing_event_without_blank_line():
    events = parse_all([b"id: 7\ndata: one\ndata: two\n\ndata: last"])
    assert [(e.data, e.id) for e in events] == [("one\ntwo", "7"), ("last", "7")]


def test_comment_only_stream_yields_nothing():
    parser = SSEParser()
    assert list(parser.feed(b": ping\n\n: ping\n\n")) == []


def cpu_seconds(run, repeat: int = 3) -> float:
    """The best of a few runs' CPU time: a ratio of two of these says how the cost grows."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        run()
        best = min(best, time.process_time() - t0)
    return best


def chat_stream(n: int) -> list[bytes]:
    return [b'data: {"choices":[{"index":0,"delta":{"content":"tok%d "}}]}\n\n' % i for i in range(n)]


def test_many_events_cost_linear_time_whether_chunked_or_joined():
    """The writer parses a whole recorded stream as one buffer; a relay feeds it chunk by chunk.
    Ten times the events must cost about ten times the time (a quadratic parser: about 100)."""
    small, large = chat_stream(3_000), chat_stream(30_000)
    for joined in (True, False):
        big, little = ([b"".join(large)], [b"".join(small)]) if joined else (large, small)
        events = parse_all(big)
        assert len(events) == 30_000 and events[-1].data.endswith('"tok29999 "}}]}')
        ratio = cpu_seconds(lambda b=big: parse_all(b)) / cpu_seconds(lambda s=little: parse_all(s))
        assert ratio < 30, (joined, ratio)


def test_one_huge_event_arriving_in_pieces_costs_linear_time():
    """An MCP tool result of 50 MB is one SSE event spread over hundreds of reads."""

    def event(size: int) -> list[bytes]:
        body = b"data: " + b"x" * size + b"\n\n"
        return [body[i : i + 65536] for i in range(0, len(body), 65536)]

    small, large = event(2_000_000), event(20_000_000)
    (only,) = parse_all(large)
    assert len(only.data) == 20_000_000
    ratio = cpu_seconds(lambda: parse_all(large), 2) / cpu_seconds(lambda: parse_all(small), 2)
    assert ratio < 30, ratio


def test_a_lone_cr_at_a_chunk_boundary_and_at_the_end():
    assert [e.data for e in parse_all([b"data: a\r", b"\ndata: b\r", b"\r", b"data: c\r"])] == ["a\nb", "c"]


def test_the_100k_chunk_stream_and_the_50_mb_event_of_the_issue():
    events = parse_all(chat_stream(100_000))
    assert len(events) == 100_000
    body = b"data: " + b"y" * 50_000_000 + b"\n\n"
    (event,) = parse_all(body[i : i + 65536] for i in range(0, len(body), 65536))
    assert len(event.data) == 50_000_000
