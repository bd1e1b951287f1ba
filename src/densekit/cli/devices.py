"""The device arguments, ``--device`` and ``--precision``, of the commands that run a model."""

from __future__ import annotations

import argparse


def add_device_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--device`` (cpu or gpu) and ``--precision`` (fp32, tf32, bf16).

    Parameters
    ----------
    parser
        The command's parser.
    """
    parser.add_argument(
        "--device",
        choices=["cpu", "gpu"],
        default="cpu",
        help="run on the CPU (NumPy) or a CUDA GPU (CuPy: pip install 'densekit[gpu]')",
    )
    parser.add_argument(
        "--precision",
        choices=["fp32", "tf32", "bf16"],
        default="fp32",
        help="how float32 matrix products run on the GPU (default fp32)",
    )
