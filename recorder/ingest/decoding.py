"""Undoing Content-Encoding for the record, never past a size cap (a small gzip bomb stays small).

The client got the encoded bytes untouched; only the stored copy is decoded.
"""

from __future__ import annotations

import zlib

_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def decode_body(body: bytes, encoding: str, limit: int) -> tuple[bytes, bool]:
    """(the decoded body, at most `limit` bytes; True when it was cut there). Bytes that do not
    decode are kept as they came."""
    encoding = encoding.strip().lower()
    try:
        if encoding in _WBITS:
            return _inflate(body, _WBITS[encoding], limit)
        if encoding == "br":
            return _unbrotli(body, limit)
    except (zlib.error, ValueError, RuntimeError, ImportError):
        return body, False
    return body, False


def _inflate(body: bytes, wbits: int, limit: int) -> tuple[bytes, bool]:
    try:
        inflater = zlib.decompressobj(wbits)
        out = inflater.decompress(body, limit + 1)
    except zlib.error:
        if wbits != zlib.MAX_WBITS:
            raise
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # "deflate" sent raw, without the zlib header
        out = inflater.decompress(body, limit + 1)
    return (out[:limit], True) if len(out) > limit else (out, False)


def _unbrotli(body: bytes, limit: int) -> tuple[bytes, bool]:
    import brotli  # optional: only when an upstream sends br

    decompressor = brotli.Decompressor()
    try:
        out = decompressor.process(body, output_buffer_limit=limit + 1)
    except TypeError:  # an older brotli without output limits
        out = brotli.decompress(body)
    out = bytes(out)
    return (out[:limit], True) if len(out) > limit else (out, False)
