"""The device arguments, ``--device`` and ``--precision``, of the commands that run a model."""

from __future__ import annotations

import argparse

from ..errors import ArgumentError


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
        help="how float32 matrix products run on the GPU (default fp32; tf32 and bf16 need "
        "--device gpu)",
    )


def check_device_arguments(args: argparse.Namespace) -> None:
    """Refuse ``--precision`` tf32/bf16 on the CPU, where it would silently change nothing.

    Parameters
    ----------
    args
        The parsed arguments of :func:`add_device_arguments`.

    Raises
    ------
    ArgumentError
        If ``--precision`` is not fp32 and ``--device`` is cpu.
    """
    if args.precision != "fp32" and args.device == "cpu":
        raise ArgumentError(
            f"--precision {args.precision} sets how a GPU multiplies float32 matrices; the CPU "
            "computes in fp32 only: add --device gpu, or leave --precision out"
        )
