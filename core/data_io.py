"""Turn a user's CSV file into a binary classification :class:`~core.datasets.Dataset`.

Three steps, each usable on its own:

1. :func:`read_csv_table` reads bytes (a browser upload) or a path into a
   ``DataFrame``: size and row limits, encoding (UTF-8 with or without BOM),
   delimiter detection (comma, semicolon or tab), header checks.
2. :func:`prepare_xy` picks the label and feature columns, drops unusable rows
   and columns, and maps the label to ``{0, 1}``.
3. :func:`load_csv_dataset` does both and splits the rows (stratified, seeded)
   into training and test sets.

Anything that makes the file unusable raises :class:`DataError` with one
sentence telling the user what to fix; anything fixed along the way (dropped
rows, ignored columns, subsampling) is reported as a short human-readable note.
Features are *not* standardized here: the model pipeline does that on the
training data only.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import sys
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state

from core._validation import check_int, check_real
from core.datasets import Dataset

__all__ = ["DataError", "CSVLimits", "MIN_CLASS_ROWS", "read_csv_table", "numeric_columns",
           "prepare_xy", "load_csv_dataset"]

#: fewest rows each class needs for a stratified train/test split
MIN_CLASS_ROWS = 5

_DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
_SNIFF_CHARS = 64 * 1024  # text looked at to detect the delimiter
_SNIFF_ROWS = 50
_MAX_LISTED = 10  # values named in a message before "and N more"
_CHECK_FIRST = 64  # text values tried as numbers before a whole column is
_EXCEL_SIGNATURES = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")  # .xlsx (zip), .xls
_DECIMAL_COMMA = re.compile(r"[+-]?(\d+(,\d*)?|,\d+)([eE][+-]?\d+)?")


class DataError(ValueError):
    """The data cannot be used as it is; the message says, in one sentence, what to fix."""


@dataclass(frozen=True)
class CSVLimits:
    """Size limits for user data.

    Attributes
    ----------
    max_bytes : int, default=50 MiB
        Larger files are refused.
    max_rows : int, default=200,000
        Files with more data rows are refused.
    max_columns : int, default=500
        Files whose header names more columns (label and ignored columns included)
        are refused before any parsing. Every view and model uses each feature: the
        2-D view is a PCA of all of them, the models standardize and fit all of them,
        and an optimizing attack's gradients and its recorded path carry one value per
        feature. With at most ``max_train_rows`` rows (about 3,000 for training), 500
        columns already means more features than a kernel SVM can use from that many
        points; 5,000 rows x 499 features already take the default experiment 11 s
        on a 2-core machine, and reading 50 rows of 10,000 columns took 2 s. The
        dropdowns then list at most 500 (searchable) columns. To use a wider file,
        keep the label and the columns you want.
    max_cells : int, default=5,000,000
        Files with more values (data rows x columns) are refused, so no file takes
        more than a couple of seconds to read: 200,000 rows of 25 columns, or 10,000
        rows of 500. 50 MB of one-digit values is 26 million of them, which took
        6 s (numbers) and 27 s (text) to read. Only ``max_train_rows`` rows are used.
    max_train_rows : int, default=5,000
        Usable rows above this number are subsampled (stratified, seeded) before
        the train/test split, so training and plotting stay interactive; the
        training set then has about ``(1 - test_fraction) * max_train_rows`` rows.
    """

    max_bytes: int = 50 * 2**20
    max_rows: int = 200_000
    max_train_rows: int = 5_000
    max_columns: int = 500
    max_cells: int = 5_000_000

    def __post_init__(self):
        check_int("max_bytes", self.max_bytes, 1, sys.maxsize)
        check_int("max_rows", self.max_rows, 1, sys.maxsize)
        check_int("max_columns", self.max_columns, 2, sys.maxsize)
        check_int("max_cells", self.max_cells, 2, sys.maxsize)
        check_int("max_train_rows", self.max_train_rows, 2 * MIN_CLASS_ROWS, sys.maxsize)


# --------------------------------------------------------------------------- helpers

def _listing(values, limit: int = _MAX_LISTED) -> str:
    """``a, b, c`` — at most ``limit`` items, then ``and N more``."""
    values = [str(v) for v in values]
    shown = ", ".join(values[:limit])
    return shown if len(values) <= limit else f"{shown} and {len(values) - limit} more"


def _rows(n: int) -> str:
    return f"{n:,} row" if n == 1 else f"{n:,} rows"


def _size(n_bytes: int) -> str:
    if n_bytes < 1024:
        return f"{n_bytes} bytes"
    if n_bytes < 2**20:
        return f"{round(n_bytes / 1024, 1):g} KB"
    return f"{round(n_bytes / 2**20, 1):g} MB"


def _scalar(value):
    """A numpy scalar as the plain Python value (so ``str`` gives ``1``, not ``np.int64(1)``)."""
    return value.item() if isinstance(value, np.generic) else value


# --------------------------------------------------------------------------- reading

def _read_bytes(source, max_bytes: int) -> bytes:
    too_big = "the file is {}, over the {} limit; upload a smaller file or a sample of its rows"
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        try:
            size = os.path.getsize(path)
            if size > max_bytes:
                raise DataError(too_big.format(_size(size), _size(max_bytes)))
            with open(path, "rb") as fh:
                data = fh.read(max_bytes + 1)
        except FileNotFoundError:
            raise DataError(f"file not found: {path}; check the path") from None
        except IsADirectoryError:
            raise DataError(f"{path} is a folder, not a file; give the path of a CSV "
                            "file") from None
        except OSError as exc:
            raise DataError(f"could not read {path} ({exc.strerror or exc}); check the file "
                            "and its permissions") from None
    else:
        raise TypeError(f"source must be a path or bytes, got {type(source).__name__}")
    if len(data) > max_bytes:
        raise DataError(too_big.format(_size(len(data)), _size(max_bytes)))
    return data


def _decode(data: bytes) -> str:
    """UTF-8 text (BOM removed), or a ``DataError`` saying what the bytes look like instead."""
    binary = ("this is not a CSV text file (it contains binary data); upload comma-, semicolon- "
              "or tab-separated text")
    utf16 = "the file is UTF-16 encoded; save it as CSV with UTF-8 encoding and upload it again"
    empty = "the file is empty; upload a CSV with a header row and data rows"
    if not data.strip():
        raise DataError(empty)
    if data.startswith(_EXCEL_SIGNATURES):
        raise DataError("this looks like an Excel file; save it as CSV (UTF-8) and upload that")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(utf16)
    head = data[:_SNIFF_CHARS]
    if b"\x00" in head:
        half = max(len(head) // 2, 1)
        nul_even, nul_odd = head[0::2].count(0), head[1::2].count(0)
        if max(nul_even, nul_odd) > 0.4 * half and min(nul_even, nul_odd) < 0.05 * half:
            raise DataError(utf16)  # ASCII text as UTF-16 without a BOM: every other byte is NUL
        raise DataError(binary)
    controls = sum(head.count(b) for b in (*range(1, 9), *range(14, 32)))
    if controls > 0.01 * len(head):
        raise DataError(binary)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} at position "
                        f"{exc.start}); save it as CSV with UTF-8 encoding and upload it "
                        "again") from None
    if not text.strip():
        raise DataError(empty)
    return text


def _sniff(text: str) -> tuple[str, list[str]]:
    """Pick the delimiter (comma, semicolon or tab) that gives the widest consistent table.

    Returns the delimiter and the header fields it gives.
    """
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS and "\n" in sample:
        sample = sample[:sample.rfind("\n") + 1]  # no half line at the end
    candidates = []  # (usable, header width, typical row width, delimiter, header)
    for delim in _DELIMITERS:
        rows = []
        try:
            for row in csv.reader(io.StringIO(sample), delimiter=delim):
                if row:
                    rows.append(row)
                if len(rows) > _SNIFF_ROWS:
                    break
        except csv.Error:
            continue
        if not rows:
            continue
        header, data = rows[0], rows[1:]
        widths = Counter(len(r) for r in data)
        typical = widths.most_common(1)[0][0] if data else len(header)
        usable = len(header) >= 2 and widths[len(header)] >= 0.9 * len(data)
        candidates.append((usable, len(header), typical, delim, header))
    usable = [c for c in candidates if c[0]]
    if usable:
        _, _, _, delim, header = max(usable, key=lambda c: c[1])  # first of equals wins
        return delim, header
    wide = [c for c in candidates if max(c[1], c[2]) >= 2]
    if not wide:
        raise DataError("the file has a single column (no comma, semicolon or tab between "
                        "values); save it as CSV with one column per feature and one for the "
                        "label")
    _, width, typical, delim, _ = max(wide, key=lambda c: max(c[1], c[2]))
    raise DataError(f"the header names {width} column{'s' * (width != 1)} but most rows have "
                    f"{typical} {_DELIMITERS[delim]}-separated values; make every row have one "
                    "value per header column")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_header(header: list[str]) -> list[str]:
    names = [h.strip() for h in header]
    named = [n for n in names if n]
    counts = Counter(named)
    duplicated = [n for n in counts if counts[n] > 1]  # in order of first appearance
    if duplicated:
        raise DataError(f"duplicated column names: {_listing(duplicated)}; rename the columns so "
                        "each name appears once")
    if named and all(_is_number(n) for n in named):
        raise DataError(f"the first row looks like data, not column names (e.g. {named[0]!r}); "
                        "add a header row with a name for each column")
    return names


def _row_cap(n_columns: int, limits: CSVLimits) -> int:
    """The most data rows a file of ``n_columns`` columns may have."""
    return min(limits.max_rows, limits.max_cells // max(n_columns, 1))


def _check_width(header: Sequence[str], max_columns: int) -> None:
    if len(header) > max_columns:
        raise DataError(f"the file has {len(header):,} columns, over the limit of "
                        f"{max_columns:,}; keep the label and at most {max_columns - 1:,} "
                        "feature columns and upload that")


def _all_numbers(values: pd.Series) -> bool:
    return bool(pd.to_numeric(values, errors="coerce").notna().all())


def _tidy_strings(frame: pd.DataFrame, *, decimal_comma: bool) -> list[str]:
    """Strip text cells (blank → missing), turn all-number text columns into numbers.

    With ``decimal_comma`` (semicolon- or tab-separated files, as written by
    European spreadsheets) ``1,5`` is read as 1.5. Returns the columns read that way.
    """
    comma_columns = []
    for col in frame.columns:
        series = frame[col]
        if not (pd.api.types.is_string_dtype(series) or pd.api.types.is_object_dtype(series)):
            continue
        series = series.str.strip().replace("", np.nan)  # read_csv gives text or NaN here
        present = series.dropna()
        head = present.iloc[:_CHECK_FIRST]  # a text value among these: no need to look further
        if len(present) and _all_numbers(head) and _all_numbers(present):
            series = pd.to_numeric(series)
        elif (decimal_comma and len(present) and head.str.fullmatch(_DECIMAL_COMMA).all()
              and present.str.fullmatch(_DECIMAL_COMMA).all()
              and present.str.contains(",", regex=False).any()):
            series = pd.to_numeric(series.str.replace(",", ".", regex=False))
            comma_columns.append(col)
        frame[col] = series
    return comma_columns


def _parse_error(exc: Exception, delim: str) -> DataError:
    found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
    if found:
        expected, line, saw = found.groups()
        return DataError(f"line {line} has {saw} values but the header has {expected} columns; "
                         "fix that line or put quotes around values that contain a "
                         f"{_DELIMITERS[delim]}")
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DataError(f"could not read the file as {_DELIMITERS[delim]}-separated values "
                     f"({reason}); check that every row has one value per column")


def read_csv_table(
    source: str | os.PathLike | bytes,
    *,
    limits: CSVLimits = CSVLimits(),
) -> tuple[pd.DataFrame, list[str]]:
    """Read a CSV file into a ``DataFrame``, refusing what cannot be a usable table.

    Parameters
    ----------
    source : str, path-like or bytes
        A path to the file, or its raw bytes (as a browser upload gives them).
        A ``str`` is always a path, never CSV text.
    limits : CSVLimits, default=CSVLimits()
        ``max_bytes``, ``max_rows``, ``max_columns`` and ``max_cells`` are enforced here.

    Returns
    -------
    frame : DataFrame
        One column per named header field, names stripped of spaces; text
        cells stripped, blank cells missing; columns whose values are all numbers
        are numeric. Columns without a header name and columns with no values
        at all are left out.
    notes : list of str
        What was fixed or detected (e.g. the delimiter if it is not a comma).

    Raises
    ------
    DataError
        Empty file, header only, not UTF-8 text (binary, Excel, UTF-16), a
        single column, rows that do not match the header, duplicated column
        names, a data row where the header should be, or over a limit (size, rows,
        columns).
    """
    text = _decode(_read_bytes(source, limits.max_bytes))
    delim, header = _sniff(text)
    _check_width(header, limits.max_columns)
    names = _check_header(header)
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            frame = pd.read_csv(io.StringIO(text), sep=delim, skipinitialspace=True,
                                index_col=False, low_memory=False,
                                nrows=_row_cap(len(header), limits) + 1)
        except pd.errors.EmptyDataError:
            raise DataError("the file is empty; upload a CSV with a header row and data "
                            "rows") from None
        except (pd.errors.ParserError, pd.errors.ParserWarning) as exc:
            raise _parse_error(exc, delim) from None
    _check_width(frame.columns, limits.max_columns)  # a header longer than the sniffed text
    if len(frame) > limits.max_rows:
        raise DataError(f"the file has more than {limits.max_rows:,} data rows, the limit; upload "
                        f"a sample of at most {limits.max_rows:,} rows")
    if len(frame) > _row_cap(frame.shape[1], limits):
        rows = _row_cap(frame.shape[1], limits)
        raise DataError(f"the file has more than {rows:,} data rows of {frame.shape[1]} columns, "
                        f"over the limit of {limits.max_cells:,} values; upload a sample of at "
                        f"most {rows:,} rows, or fewer columns")
    if len(frame) == 0:
        raise DataError("the file has a header row but no data rows; add the data under the "
                        "header")
    if len(names) != frame.shape[1]:  # csv and pandas read the header line alike; just in case
        names = [str(c).strip() for c in frame.columns]
    notes = [] if delim == "," else [f"read as {_DELIMITERS[delim]}-separated values"]
    frame.columns = range(frame.shape[1])
    unnamed = [i for i, name in enumerate(names) if not name]
    unnamed_with_values = [i + 1 for i in unnamed if frame[i].notna().any()]
    if unnamed_with_values:
        notes.append(f"ignored columns without a name in the header: column "
                     f"{_listing(unnamed_with_values)}")
    keep = [i for i, name in enumerate(names) if name]
    frame = frame[keep]
    frame.columns = [names[i] for i in keep]
    comma_columns = _tidy_strings(frame, decimal_comma=delim != ",")
    if comma_columns:
        notes.append(f"read decimal commas in: {_listing(comma_columns)}")
    empty = [c for c in frame.columns if frame[c].isna().all()]
    if empty:
        notes.append(f"ignored empty columns: {_listing(empty)}")
        frame = frame.drop(columns=empty)
    return frame.reset_index(drop=True), notes


# --------------------------------------------------------------------------- X and y

def numeric_columns(frame: pd.DataFrame) -> list[str]:
    """Names of the columns of ``frame`` that hold numbers (booleans count as 0/1), in order."""
    return [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]


def _example_value(series: pd.Series) -> object:
    present = series.dropna()
    bad = present[pd.to_numeric(present, errors="coerce").isna()]
    return _scalar((bad if len(bad) else present).iloc[0]) if len(present) else None


def _select_features(frame, label, features, numeric) -> tuple[list[str], list[str]]:
    notes = []
    available = f"available columns: {_listing(frame.columns, 30)}"
    if features is None:
        others = [c for c in frame.columns if c != label]
        chosen = [c for c in others if c in numeric]
        ignored = [c for c in others if c not in numeric]
        if ignored:
            notes.append(f"ignored non-numeric columns: {_listing(ignored)}")
        if not chosen:
            raise DataError(f"no numeric feature columns besides the label {label!r}; the file "
                            "needs at least 2 columns of numbers")
        return chosen, notes
    chosen = [features] if isinstance(features, str) else list(features)
    missing = [f for f in chosen if f not in frame.columns]
    if missing:
        raise DataError(f"feature column{'s' * (len(missing) > 1)} not found: "
                        f"{_listing(missing)}; {available}")
    twice = sorted({f for f in chosen if chosen.count(f) > 1}, key=chosen.index)
    if twice:
        raise DataError(f"feature columns listed more than once: {_listing(twice)}; list each "
                        "column once")
    if label in chosen:
        raise DataError(f"the label column {label!r} cannot also be a feature; remove it from "
                        "the features")
    text = [f for f in chosen if f not in numeric]
    if text:
        examples = ", ".join(f"{f} (e.g. {_example_value(frame[f])!r})" for f in text[:3])
        raise DataError(f"feature columns must hold numbers, but these do not: {examples}; "
                        "choose numeric columns")
    return chosen, notes


def _label_values(series: pd.Series) -> pd.Series:
    """Whole-number floats (a numeric label column with gaps) back to ints, so 1.0 reads 1."""
    if pd.api.types.is_float_dtype(series) and np.all(np.mod(series.to_numpy(), 1) == 0):
        return series.astype(np.int64)
    return series


def _sorted_values(series: pd.Series) -> list:
    values = [_scalar(v) for v in series.unique()]
    try:
        return sorted(values)
    except TypeError:  # mixed types: order by their text
        return sorted(values, key=str)


def _match(positive, values: list) -> object | None:
    for value in values:
        try:
            if bool(value == positive):
                return value
        except (TypeError, ValueError):
            pass
    text = str(positive).strip()
    return next((v for v in values if str(v) == text), None)


def _stratified_subsample(y: np.ndarray, size: int, rs: np.random.RandomState) -> np.ndarray:
    """Sorted indices of ``size`` rows, classes in proportion, each keeping ``MIN_CLASS_ROWS``."""
    classes, counts = np.unique(y, return_counts=True)
    share = counts * size / counts.sum()
    alloc = np.maximum(np.floor(share).astype(int), np.minimum(counts, MIN_CLASS_ROWS))
    rest = size - int(alloc.sum())
    for i in np.argsort(-(share - np.floor(share)), kind="stable"):
        if rest > 0 and alloc[i] < counts[i]:
            alloc[i] += 1
            rest -= 1
    while rest < 0:  # the per-class minimum overshot: take from the biggest share
        i = int(np.argmax(alloc))
        alloc[i] -= 1
        rest += 1
    picked = [rs.choice(np.flatnonzero(y == c), a, replace=False)
              for c, a in zip(classes, alloc, strict=True)]
    return np.sort(np.concatenate(picked))


def prepare_xy(
    frame: pd.DataFrame,
    *,
    label: str,
    features: Sequence[str] | None = None,
    positive: object | None = None,
    max_rows: int | None = None,
    random_state=None,
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], tuple[str, str], list[str]]:
    """Pick features and label from ``frame`` and make a binary problem of them.

    Steps, in order: drop rows without a label; choose the features (by
    default every numeric column but the label; non-numeric ones are ignored
    with a note); drop rows with a missing or infinite feature value; drop
    constant feature columns; map the label to ``{0, 1}``; check that each class
    has at least ``MIN_CLASS_ROWS`` rows; subsample to ``max_rows``.

    Label mapping: with two distinct values, class 1 is ``positive`` if given,
    else the larger of the two in sorted order (``1`` for 0/1, ``True`` for
    booleans, ``"yes"`` for ``"no"``/``"yes"``); class 0 is the other one, and
    ``class_names`` are both values as text. With more than two values
    ``positive`` is required and the problem is one-vs-rest: class 1 is
    ``positive``, class 0 is every other value, named ``"not <positive>"``.
    ``positive`` matches a value if equal to it or to its text (``"1"`` matches 1).

    Parameters
    ----------
    frame : DataFrame
        As returned by :func:`read_csv_table`.
    label : str
        Name of the label column.
    features : sequence of str, optional
        Feature columns; they must exist and be numeric. ``None`` means every
        numeric column except the label.
    positive : object, optional
        The label value that becomes class 1 (required for more than two values).
    max_rows : int, optional
        If more usable rows remain, keep a stratified random sample of this size
        (at least ``2 * MIN_CLASS_ROWS``).
    random_state : int, RandomState or None
        Controls the subsample.

    Returns
    -------
    X : ndarray of shape (n_rows, n_features), float64
    y : ndarray of shape (n_rows,), int64 in {0, 1}
    feature_names : tuple of str
    class_names : tuple of (str, str)
        ``class_names[k]`` is what label ``k`` means.
    notes : list of str
        Rows and columns dropped or ignored, and the sample size used.

    Raises
    ------
    DataError
        Missing label or feature column, non-numeric feature asked for, fewer
        than 2 usable features, fewer than 2 classes, more than 2 classes without
        ``positive``, an unknown ``positive``, or a class with too few rows.
    """
    if label not in frame.columns:
        raise DataError(f"label column {label!r} not found; available columns: "
                        f"{_listing(frame.columns, 30)}")
    if max_rows is not None:
        max_rows = check_int("max_rows", max_rows, 2 * MIN_CLASS_ROWS, sys.maxsize)
    notes = []
    has_label = frame[label].notna().to_numpy()
    if not has_label.all():
        notes.append(f"dropped {_rows(int((~has_label).sum()))} with a missing label")
    numeric = set(numeric_columns(frame))
    chosen, feature_notes = _select_features(frame, label, features, numeric)
    notes += feature_notes

    values = frame.loc[has_label, chosen].astype(float)
    finite = np.isfinite(values.to_numpy())
    complete = finite.all(axis=1)
    if not complete.all():
        where = [c for c, ok in zip(chosen, finite.all(axis=0), strict=True) if not ok]
        notes.append(f"dropped {_rows(int((~complete).sum()))} with missing feature values "
                     f"(in {_listing(where)})")
    values = values[complete]
    labels = frame.loc[has_label, label][complete]
    if len(labels) == 0:
        raise DataError("no rows are left after dropping those with missing values; fill in the "
                        "missing values or choose other columns")

    constant = [c for c in chosen if values[c].nunique() <= 1]
    if constant:
        notes.append(f"dropped constant columns (the same value in every row): "
                     f"{_listing(constant)}")
        chosen = [c for c in chosen if c not in constant]
    if len(chosen) < 2:
        found = f"{len(chosen)} ({_listing(chosen)})" if chosen else "none"
        raise DataError(f"the data needs at least 2 numeric feature columns whose values vary, "
                        f"but has {found}; add numeric feature columns")

    labels = _label_values(labels)
    classes = _sorted_values(labels)
    if len(classes) < 2:
        after = " after dropping rows with missing values" if len(labels) < len(frame) else ""
        raise DataError(f"the label column {label!r} has a single class ({classes[0]!r}){after}; "
                        "a binary classifier needs rows of two classes")
    if positive is not None:
        pos = _match(positive, classes)
        if pos is None:
            raise DataError(f"positive={positive!r} is not a value of the label column "
                            f"{label!r}; its values are: {_listing(classes)}")
    elif len(classes) == 2:
        pos = classes[1]
    else:
        raise DataError(f"the label column {label!r} has {len(classes)} classes "
                        f"({_listing(classes)}); choose one as the positive class "
                        "(one-vs-rest)")
    if len(classes) == 2:
        class_names = (str(next(c for c in classes if c != pos)), str(pos))
    else:
        class_names = (f"not {pos}", str(pos))
    y = np.fromiter((_scalar(v) == pos for v in labels), dtype=bool, count=len(labels))
    y = y.astype(np.int64)

    counts = np.bincount(y, minlength=2)
    rare = int(np.argmin(counts))
    if counts[rare] < MIN_CLASS_ROWS:
        raise DataError(f"class {class_names[rare]!r} has only {_rows(int(counts[rare]))}; each "
                        f"class needs at least {MIN_CLASS_ROWS} rows for a train/test split, so "
                        "add rows of that class")

    X = np.ascontiguousarray(values[chosen].to_numpy(dtype=np.float64))
    if max_rows is not None and len(y) > max_rows:
        n_usable = len(y)
        keep = _stratified_subsample(y, max_rows, check_random_state(random_state))
        X, y = X[keep], y[keep]
        notes.append(f"using a stratified random sample of {len(y):,} of the {n_usable:,} "
                     f"usable rows (the limit is {max_rows:,})")
    return X, y, tuple(str(c) for c in chosen), class_names, notes


# --------------------------------------------------------------------------- Dataset

def _split_error(n, counts, class_names, test_fraction, part) -> DataError:
    rare = int(np.argmin(counts))
    return DataError(f"with {_rows(n)} ({_rows(int(counts[rare]))} of class "
                     f"{class_names[rare]!r}), test_fraction={test_fraction:g} leaves the {part} "
                     "set without a row of each class; add rows or change test_fraction")


def load_csv_dataset(
    source: str | os.PathLike | bytes,
    *,
    label: str,
    features: Sequence[str] | None = None,
    positive: object | None = None,
    test_fraction: float = 0.4,
    random_state=None,
    limits: CSVLimits = CSVLimits(),
    name: str | None = None,
) -> tuple[Dataset, list[str]]:
    """Read a CSV file and split it (stratified) into a binary :class:`Dataset`.

    :func:`read_csv_table`, then :func:`prepare_xy` (subsampling to
    ``limits.max_train_rows`` rows), then a stratified ``train_test_split``.
    The same bytes, arguments and integer ``random_state`` give identical arrays.

    Parameters
    ----------
    source : str, path-like or bytes
        Path to the file, or its raw bytes (a ``str`` is a path).
    label, features, positive
        See :func:`prepare_xy` (including how the label becomes 0/1).
    test_fraction : float, default=0.4
        Share of the rows held out for testing, in [0.1, 0.9].
    random_state : int, RandomState or None
        Controls the subsample and the split.
    limits : CSVLimits, default=CSVLimits()
        File size, row count and subsampling limits.
    name : str, optional
        ``Dataset.name``; by default the file name, or ``"uploaded CSV"`` for bytes.

    Returns
    -------
    dataset : Dataset
        ``X`` float64 (not standardized), ``y`` int64 in {0, 1}.
    notes : list of str
        Everything fixed on the way, for display to the user.

    Raises
    ------
    DataError
        The file cannot be used; the message says what to fix.
    """
    test_fraction = check_real("test_fraction", test_fraction, 0.1, 0.9)
    rs = check_random_state(random_state)
    frame, notes = read_csv_table(source, limits=limits)
    X, y, feature_names, class_names, more = prepare_xy(
        frame, label=label, features=features, positive=positive,
        max_rows=limits.max_train_rows, random_state=rs)
    notes += more
    n_test = math.ceil(test_fraction * len(y))
    counts = np.bincount(y, minlength=2)
    for part, n_part in (("test", n_test), ("training", len(y) - n_test)):
        if n_part < 2:  # too small to hold both classes
            raise _split_error(len(y), counts, class_names, test_fraction, part)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=n_test, random_state=rs, stratify=y)
    for part, y_part in (("training", y_train), ("test", y_test)):
        missing = np.flatnonzero(np.bincount(y_part, minlength=2) == 0)
        if len(missing):
            raise _split_error(len(y), counts, class_names, test_fraction, part)
    if name is None:
        name = "uploaded CSV" if isinstance(source, (bytes, bytearray, memoryview)) else \
            os.path.basename(os.fspath(source))
    return Dataset(name, X_train, y_train, X_test, y_test, feature_names, class_names), notes
