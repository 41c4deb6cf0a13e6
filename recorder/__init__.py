"""The recorder: the only package that writes tracemill's SQLite store.

Relays hand it events; it redacts them, turns them into rows and writes them from a single
writer task. Everything else reads through the small API re-exported here.
"""

from recorder.events import LLMExchange, MCPMessage
from recorder.ingest.redact import Redactor
from recorder.store.writer import Store, StoreConfig

__all__ = ["LLMExchange", "MCPMessage", "Redactor", "Store", "StoreConfig"]
