"""The `tracemill` command. Heavy imports wait inside each command, so `wrap` starts fast.

Each module registers its commands on the root group in `common`; importing them here is the registration.
"""

from __future__ import annotations

import sys

import click

from proxy.cli import curate, datasets, inspect, mcp, serve, store, tokens, traces, train, ui  # noqa: F401  (register commands)
from proxy.cli.common import main
from proxy.config import ConfigError
from recorder.store.location import StoreUnavailable

__all__ = ["main", "run"]


def run() -> None:
    try:
        main(obj={})
    except ConfigError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    except StoreUnavailable as exc:  # the server is down, the driver missing: one line, no traceback
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
