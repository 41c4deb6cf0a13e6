"""The recorder: everything between a relay's byte copies and the rows the offline side reads.

Write side: relays hand events (`LLMExchange`, `MCPMessage`) to a `Recorder`; `Store` is the one
that writes (`Store.from_config(config)`), `NullRecorder` the one that does not. Read side:
`open_reader(location)` gives the `TraceReader`, the only way the CLI, `finetune` and the viewer
read a store (episodes, exchanges, MCP calls, links, curation).
"""

from recorder.episodes.chain import Episode
from recorder.episodes.curation import Curation
from recorder.episodes.filters import Filters
from recorder.events import LLMExchange, MCPMessage
from recorder.ingest.redact import Redactor
from recorder.recording import NullRecorder, Recorder
from recorder.store import open_reader
from recorder.store.migrate import SchemaError
from recorder.store.reader import TraceReader
from recorder.store.writer import Store, WriterConfig

__all__ = [
    "Curation",
    "Episode",
    "Filters",
    "LLMExchange",
    "MCPMessage",
    "NullRecorder",
    "Recorder",
    "Redactor",
    "SchemaError",
    "Store",
    "TraceReader",
    "WriterConfig",
    "open_reader",
]
