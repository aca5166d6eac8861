"""PoisonLab core: data-poisoning attacks and defenses on small classifiers.

A pure library (numpy, pandas, scikit-learn; no Dash, no plotly). The main
entry points are :func:`run_experiment` (one clean -> poisoned -> defended run),
:func:`run_sweep` (accuracy against poison rate over several seeds) and
:func:`run_matrix` (every attack against every defense over several seeds).
"""

from core.attacks import ATTACKS, make_attack
from core.datasets import DATASETS, make_dataset
from core.defenses import DEFENSES, make_defense
from core.experiment import DecisionGrid, ExperimentConfig, ExperimentResult, run_experiment
from core.matrix import run_matrix
from core.models import KERNELS, MODELS, make_model
from core.scenarios import SCENARIOS, scenario_config
from core.sweeps import run_sweep

__version__ = "0.1.0"

__all__ = [
    "ATTACKS", "DATASETS", "DEFENSES", "KERNELS", "MODELS", "SCENARIOS",
    "DecisionGrid", "ExperimentConfig", "ExperimentResult",
    "make_attack", "make_dataset", "make_defense", "make_model",
    "run_experiment", "run_matrix", "run_sweep", "scenario_config", "__version__",
]
