"""Named presets: a scenario is a set of config values with a one-line story."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core._validation import check_choice
from core.experiment import ExperimentConfig

__all__ = ["Scenario", "SCENARIOS", "scenario_config"]


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    story: str
    values: tuple[tuple[str, Any], ...]

    def config(self, **overrides: Any) -> ExperimentConfig:
        """The scenario's config; ``overrides`` win over the scenario's values."""
        return ExperimentConfig.from_dict({**dict(self.values), **overrides})


_ALL = (
    Scenario(
        "seed-demo",
        "Injected cluster vs. Isolation Forest",
        "80 fake points with the wrong label are injected far beyond one class; a linear SVM "
        "tilts to fit them and accuracy collapses; Isolation Forest spots the outliers and the "
        "retrained model recovers.",
        (("dataset", "blobs"), ("n_samples", 500), ("noise", 0.2), ("test_fraction", 0.4),
         ("attack", "injection"), ("poison_rate", 0.2667), ("defense", "isolation_forest"),
         ("contamination", 0.25), ("model", "svm"), ("kernel", "linear"), ("C", 1.0)),
    ),
    Scenario(
        "label-flip-moons",
        "Random label flips vs. kNN sanitization",
        "20% of the training labels are flipped at random; the RBF SVM's boundary frays; kNN "
        "label sanitization relabels points their neighbours disagree with.",
        (("dataset", "moons"), ("attack", "label_flip"), ("poison_rate", 0.2),
         ("defense", "knn_sanitize"), ("model", "svm"), ("kernel", "rbf")),
    ),
    Scenario(
        "loan-fraud",
        "Loan fraud: fake approved applications",
        "Fraudsters slip fake applications with poor credit and heavy debt, all marked "
        "approved, into next month's retraining set; the approval boundary swings and the model "
        "approves risky applicants; Isolation Forest filters the fakes before retraining.",
        (("dataset", "loan"), ("attack", "injection"), ("poison_rate", 0.2),
         ("defense", "isolation_forest"), ("contamination", 0.2), ("model", "svm"),
         ("kernel", "linear")),
    ),
    Scenario(
        "loan-insider",
        "Loan insider: borderline denials relabelled (a hard case)",
        "An insider relabels the denied applications closest to the approval boundary as "
        "approved. The flips sit where real data sits, so feature outlier detection cannot see "
        "them and kNN sanitization finds few: watch how little it wins back.",
        (("dataset", "loan"), ("attack", "targeted_flip"), ("poison_rate", 0.15),
         ("defense", "knn_sanitize"), ("model", "svm"), ("kernel", "rbf")),
    ),
    Scenario(
        "digits-gradient",
        "Handwritten digits: optimized poison (Biggio et al. 2012)",
        "The classic setting of the poisoning literature on real data: a linear SVM learns "
        "to tell 5 from 9 from 100 8x8 images; 15 poison images, each pixel optimized by "
        "gradient ascent on the SVM's validation loss, are added to the training set.",
        (("dataset", "digits"), ("n_samples", 250), ("test_fraction", 0.6),
         ("attack", "gradient"), ("poison_rate", 0.15), ("defense", "isolation_forest"),
         ("contamination", 0.15), ("model", "svm"), ("kernel", "linear")),
    ),
)
SCENARIOS: dict[str, Scenario] = {s.name: s for s in _ALL}


def scenario_config(name: str, **overrides: Any) -> ExperimentConfig:
    """The config of scenario ``name`` with ``overrides`` applied."""
    check_choice("scenario", name, SCENARIOS)
    return SCENARIOS[name].config(**overrides)
