"""What the network pays attention to: feature importance, attributions, weights and units.

- :func:`permutation_importance`: how much a score worsens when one feature's
  column is shuffled (repeated; mean and spread), for the loss, a metric or any
  ``metric(y_true, y_pred)``.
- :func:`gradient_x_input` and :func:`integrated_gradients`: per-row attributions
  of one output (a class, or each class) to the input features. Integrated
  gradients satisfy *completeness*: ``sum_i attr_i = f(x) - f(baseline)``; the
  result reports the gap, which shrinks as ``steps`` grows.
- :func:`plot_weights` (heatmap or Hinton diagram per Dense layer),
  :func:`plot_activation_histograms`, :func:`unit_health` (dead ReLU units and
  saturated sigmoid/tanh units per layer) and :func:`neuron_importance`, the
  per-unit score ``dk.prune.neurons(..., criterion=neuron_importance)`` can use.
- :func:`trace`: one row's forward pass, backward pass and optimizer step, every number
  of every layer (``z``, ``a``, ``dL/dz``, ``dL/dW``, ``dL/db``, the step), as a table
  or a page with the network drawn.

One module per concern: :mod:`~densekit.explain.importance`,
:mod:`~densekit.explain.attributions`, :mod:`~densekit.explain.units`,
:mod:`~densekit.explain.plots`, :mod:`~densekit.explain.trace`, and
:mod:`~densekit.explain.results` (tables and figures).

Results are NumPy arrays, tables (pandas DataFrames when pandas is installed,
else lists of dicts) and matplotlib figures (the ``plot`` extra). Figures are
made with ``matplotlib.figure.Figure``, never pyplot: no window, no global state.
"""

from __future__ import annotations

from .attributions import COMPLETENESS_ATOL as COMPLETENESS_ATOL
from .attributions import COMPLETENESS_RTOL as COMPLETENESS_RTOL
from .attributions import MAX_ROWS_PER_PASS as MAX_ROWS_PER_PASS
from .attributions import Attribution as Attribution
from .attributions import class_attributions as class_attributions
from .attributions import gradient_x_input as gradient_x_input
from .attributions import input_gradients as input_gradients
from .attributions import integrated_gradients as integrated_gradients
from .importance import FeatureImportance as FeatureImportance
from .importance import permutation_importance as permutation_importance
from .plots import plot_activation_histograms as plot_activation_histograms
from .plots import plot_weights as plot_weights
from .trace import LayerTrace as LayerTrace
from .trace import Trace as Trace
from .trace import trace as trace
from .units import dead_relu_units as dead_relu_units
from .units import dense_layers as dense_layers
from .units import layer_outputs as layer_outputs
from .units import neuron_importance as neuron_importance
from .units import saturated_units as saturated_units
from .units import unit_health as unit_health
