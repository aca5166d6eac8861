"""Exports of results: tables a spreadsheet can open safely, and re-runnable JSON."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from core.experiment import ExperimentConfig, ExperimentResult

__all__ = ["poisoned_training_frame", "to_safe_csv", "escape_formula", "experiment_document",
           "config_from_document", "read_config_file", "CONFIG_MAX_BYTES"]

#: largest config file :func:`read_config_file` reads; an exported experiment is a few KB
CONFIG_MAX_BYTES = 2**20

#: cell prefixes that make Excel, LibreOffice or Sheets evaluate a cell as a formula
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def escape_formula(value: Any) -> Any:
    """Prefix a text cell that a spreadsheet would run as a formula with a quote (OWASP)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def to_safe_csv(frame: pd.DataFrame) -> str:
    """CSV text with formula-like text cells (and column names) escaped; numbers untouched."""
    safe = frame.copy()
    safe.columns = [escape_formula(str(c)) for c in safe.columns]
    for col in safe.columns:
        if safe[col].dtype == object or pd.api.types.is_string_dtype(safe[col]):
            safe[col] = safe[col].map(escape_formula)
    return safe.to_csv(index=False)


def poisoned_training_frame(result: ExperimentResult) -> pd.DataFrame:
    """The poisoned training set as the victim saw it, with the truth and the defense's verdict.

    Columns: the features, ``label`` (as the victim saw it, by class name),
    ``is_poison`` (changed or added by the attacker), ``flagged_by_defense``,
    ``label_after_defense`` (differs only for relabelling defenses) and
    ``kept_by_defense`` (used to train the defended model).
    """
    frame = pd.DataFrame(result.X_train, columns=list(result.feature_names))
    names = list(result.class_names)
    frame["label"] = [names[k] for k in result.y_train]
    frame["is_poison"] = result.is_poison
    frame["flagged_by_defense"] = ~result.is_clean
    frame["label_after_defense"] = [names[k] for k in result.y_defended]
    frame["kept_by_defense"] = result.kept
    return frame


def experiment_document(result: ExperimentResult, *, version: str) -> dict[str, Any]:
    """Config + results as one JSON-ready dict; ``config_from_document`` reads it back."""
    return {
        "poisonlab_version": version,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **result.summary(),
    }


def config_from_document(text: str) -> ExperimentConfig:
    """The config inside an exported experiment (or a bare config object), validated."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not a JSON file: {exc.msg} at line {exc.lineno}") from None
    except RecursionError:  # the parser recurses per level: [[[[...]]]] x 100,000
        raise ValueError("the JSON is nested too deeply to be an experiment; give an exported "
                         "experiment or a config object") from None
    if not isinstance(doc, dict):
        raise ValueError("expected a JSON object with a 'config' entry")
    config = doc.get("config", doc)
    if not isinstance(config, dict):
        raise ValueError("'config' must be a JSON object")
    return ExperimentConfig.from_dict(config)


def read_config_file(path: str | os.PathLike, *, max_bytes: int = CONFIG_MAX_BYTES
                     ) -> ExperimentConfig:
    """The config in a JSON file (:func:`config_from_document`); ``ValueError`` in one
    sentence, naming the file, if it cannot be read, is too large, is not UTF-8 or is not
    a config."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise ValueError(f"cannot read --config {path}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise ValueError(f"--config {path} is over {max_bytes // 2**10:,} KB, too large for an "
                         "experiment config; give an exported experiment (.json)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"--config {path} is not UTF-8 text (byte 0x{data[exc.start]:02x} at "
                         f"position {exc.start}); give an exported experiment (.json)") from None
    try:
        return config_from_document(text)
    except ValueError as exc:
        raise ValueError(f"--config {path}: {exc}") from None
