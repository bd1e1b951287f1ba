"""The order of the gallery's examples (sphinx-gallery's ``within_subsection_order``)."""

from __future__ import annotations

from pathlib import Path


class ExampleOrder:
    """The gallery's order: from one neuron to compression, the comparison last."""

    ORDER = [
        "one_neuron.py",
        "relu_bias.py",
        "parameter_counts.py",
        "quickstart.py",
        "overfitting.py",
        "tune_size.py",
        "pruning_int8.py",
        "pipeline_vs_mlp.py",
    ]

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        """Known examples in ORDER, then any new one by name."""
        name = Path(filename).name
        return (self.ORDER.index(name), name) if name in self.ORDER else (len(self.ORDER), name)
