"""What the network pays attention to: feature importance, attributions, weights and units."""

from __future__ import annotations

from .attributions import COMPLETENESS_ATOL as COMPLETENESS_ATOL
from .attributions import COMPLETENESS_RTOL as COMPLETENESS_RTOL
from .attributions import MAX_ROWS_PER_PASS as MAX_ROWS_PER_PASS
from .attributions import Attribution as Attribution
from .attributions import FeatureImportance as FeatureImportance
from .attributions import _feature_names as _feature_names
from .attributions import class_attributions as class_attributions
from .attributions import dead_relu_units as dead_relu_units
from .attributions import dense_layers as dense_layers
from .attributions import gradient_x_input as gradient_x_input
from .attributions import input_gradients as input_gradients
from .attributions import integrated_gradients as integrated_gradients
from .attributions import layer_outputs as layer_outputs
from .attributions import neuron_importance as neuron_importance
from .attributions import permutation_importance as permutation_importance
from .attributions import plot_activation_histograms as plot_activation_histograms
from .attributions import plot_weights as plot_weights
from .attributions import saturated_units as saturated_units
from .attributions import unit_health as unit_health
