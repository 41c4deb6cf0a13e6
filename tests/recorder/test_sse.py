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
