"""Choosing a training backend: Unsloth with CUDA and Unsloth installed, else TRL + PEFT.

Deciding must not import Unsloth or transformers: Unsloth patches transformers and has to be
imported first, and only by `tracemill finetune` itself.
"""

from __future__ import annotations

import importlib.util


class BackendError(RuntimeError):
    """A backend that cannot run here, in one line."""


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def unsloth_installed() -> bool:
    return importlib.util.find_spec("unsloth") is not None


def select(requested: str = "auto") -> tuple[str, str]:
    """(backend, why) for `--backend auto|unsloth|trl`."""
    cuda, unsloth = cuda_available(), unsloth_installed()
    if requested == "trl":
        return "trl", "forced with --backend trl"
    if requested == "unsloth":
        if not cuda:
            raise BackendError(
                "Unsloth needs an NVIDIA GPU with CUDA, and this machine has none: use --backend trl (or run on a GPU box)"
            )
        if not unsloth:
            raise BackendError(
                "Unsloth is not installed: pip install 'tracemill[unsloth]' on the GPU machine, or use --backend trl"
            )
        return "unsloth", "forced with --backend unsloth"
    if requested != "auto":
        raise BackendError(f"unknown backend {requested!r}: use auto, unsloth or trl")
    if cuda and unsloth:
        return "unsloth", "CUDA and Unsloth are available"
    return "trl", "no CUDA" if not cuda else "CUDA, but Unsloth is not installed"
