"""Defenses: data sanitization before (re)training.

Every defense has one verb,
``sanitize(X, y, *, model, random_state, is_poison, trusted)``, and returns a
:class:`Sanitized` report: per-point ``is_clean`` flags (False = flagged as
poison), a continuous ``score`` (higher = more suspicious), and the training
set to refit on (``keep`` rows with labels ``y``). Defenses that drop points
keep the unflagged rows; defenses that relabel keep every row and change the
flagged labels (``relabels`` is then True; ``trusted_relabel(thorough=True)``
also drops the flagged rows it is unsure of).

Only :class:`Oracle` may look at the true ``is_poison`` mask; every other
defense ignores it. ``model`` is the (unfitted) victim, for defenses that
retrain it; ``trusted`` is an optional ``(X, y)`` sample the defender knows to
be clean, held out of both the training and the test data (required by the
defenses with ``needs_trusted``). ``DEFENSES`` is the registry the CLI and the
dashboard read; each defense declares its parameters once, in ``params``
(:mod:`core.params`), and a new one is a module in this package whose class
is decorated with ``@DEFENSES.register`` (from ``core.defenses.base``; see
``docs/extending.md``).

The registry, in order (what each defense sees besides the features):

- ``none``: keep everything, the poisoned baseline;
- ``oracle``: drop exactly the poison, the upper bound (sees the true mask);
- ``isolation_forest``: feature outliers (Liu et al. 2008);
- ``knn_sanitize``: relabel points the neighbours outvote (Paudice et al. 2018; labels);
- ``lof``: density outliers (Breunig et al. 2000);
- ``label_aware_iforest``: outliers of the class they claim (labels);
- ``sphere``: far from the class centroid (Steinhardt et al. 2017; labels);
- ``slab``: far along the centroid axis (Steinhardt et al. 2017; labels);
- ``roni``: hurts the model on trusted data (Nelson et al. 2008; model, trusted data);
- ``trim``: high loss under trimmed refits (Jagielski et al. 2018; model);
- ``trusted_knn``: the nearest trusted points disagree (Paudice et al. 2018; labels, trusted data);
- ``trusted_relabel``: relabel batches whose flipped labels fit trusted data better
  (after DUTI, Zhang et al. 2018; model, trusted data);
- ``trusted_reject``: drop those batches instead, better against injected points
  (model, trusted data);
- ``duti``: relabel the fewest points that make a kernel fit of all the data fit the
  trusted data (Zhang et al. 2018; model's kernel, trusted data);
- ``activation_clustering``: a small, separate 2-means cluster per class in the victim's
  representation (Chen et al. 2018; labels, model's scaling and kernel);
- ``spectral_signature``: the largest projections on each class's top singular vector in the
  victim's representation (Tran et al. 2018; labels, model's scaling and kernel).
"""

from __future__ import annotations

from core.defenses._memo import clear_memos
from core.defenses.base import DEFENSES, Defense, Sanitized, check_contamination
from core.defenses.baseline import NoDefense, Oracle
from core.defenses.centroids import AUTO_SHARE, Slab, Sphere
from core.defenses.duti import DUTI
from core.defenses.labels import KNNSanitize
from core.defenses.outliers import (
    IsolationForestDefense,
    LabelAwareIsolationForest,
    LocalOutlierFactorDefense,
)
from core.defenses.relabel import TrustedReject, TrustedRelabel
from core.defenses.training import RONI, Trim
from core.defenses.trusted import TrustedKNN
from core.params import discover

__all__ = ["Sanitized", "Defense", "NoDefense", "Oracle", "IsolationForestDefense",
           "LocalOutlierFactorDefense", "LabelAwareIsolationForest", "KNNSanitize", "Sphere",
           "Slab", "RONI", "Trim", "TrustedKNN", "TrustedRelabel", "TrustedReject", "DUTI",
           "DEFENSES", "AUTO_SHARE", "make_defense", "defense_from_config", "check_contamination",
           "clear_memos"]

for _cls in (NoDefense, Oracle, IsolationForestDefense, KNNSanitize, LocalOutlierFactorDefense,
             LabelAwareIsolationForest, Sphere, Slab, RONI, Trim, TrustedKNN, TrustedRelabel,
             TrustedReject, DUTI):
    DEFENSES.register(_cls)
#: any other module of this package registers its defense itself (``@DEFENSES.register``)
discover(__name__, __path__)


def make_defense(name: str, **params) -> Defense:
    """Build the registered defense ``name`` with its declared parameters."""
    return DEFENSES.get_class(name)(**params)


def defense_from_config(config) -> Defense:
    """The defense a :class:`~core.experiment.ExperimentConfig` names, with its parameters."""
    return make_defense(config.defense, **config.defense_params)
