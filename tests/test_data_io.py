"""CSV upload: parsing, validation and the clean-up notes (core/data_io.py).

Fixture files live in tests/fixtures/csv/ (regenerate with its _generate.py).
"""

import pathlib

import numpy as np
import pandas as pd
import pytest

from core.data_io import (
    MIN_CLASS_ROWS,
    CSVLimits,
    DataError,
    load_csv_dataset,
    numeric_columns,
    prepare_xy,
    read_csv_table,
)
from core.datasets import Dataset

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures" / "csv"
FEATURES = ("age", "income", "score")


def fixture(name: str) -> pathlib.Path:
    return FIXTURES / name


def load(name_or_bytes, **kwargs):
    source = fixture(name_or_bytes) if isinstance(name_or_bytes, str) else name_or_bytes
    kwargs.setdefault("label", "approved")
    kwargs.setdefault("random_state", 0)
    return load_csv_dataset(source, **kwargs)


def test_fixtures_are_small():
    files = list(FIXTURES.glob("*.csv"))
    assert len(files) >= 20
    assert all(f.stat().st_size < 10_000 for f in files)


# --------------------------------------------------------------------------- good files

def test_good_binary_file_gives_a_split_dataset():
    d, notes = load("good_binary.csv", test_fraction=0.4)
    assert isinstance(d, Dataset) and notes == []
    assert d.name == "good_binary.csv"
    assert d.feature_names == FEATURES and d.class_names == ("no", "yes")
    assert d.X_train.shape == (24, 3) and d.X_test.shape == (16, 3)
    assert d.X_train.dtype == np.float64 and d.y_train.dtype == np.int64
    for y in (d.y_train, d.y_test):
        assert np.array_equal(np.bincount(y), [len(y) // 2, len(y) // 2])  # stratified 20/20


def test_binary_labels_keep_their_values_and_the_larger_one_is_class_1():
    frame = pd.read_csv(fixture("good_binary.csv"))
    X, y, names, classes, notes = prepare_xy(frame, label="approved")
    assert classes == ("no", "yes") and names == FEATURES and notes == []
    assert np.array_equal(y, (frame["approved"] == "yes").to_numpy().astype(int))
    assert np.array_equal(X, frame[list(FEATURES)].to_numpy(dtype=float))  # not standardized
    _, y_flip, _, classes_flip, _ = prepare_xy(frame, label="approved", positive="no")
    assert classes_flip == ("yes", "no") and np.array_equal(y_flip, 1 - y)


def test_numeric_labels_name_classes_by_value_and_positive_matches_text():
    frame = pd.read_csv(fixture("label_nan.csv"))
    _, y, _, classes, _ = prepare_xy(frame, label="approved")
    assert classes == ("0", "1")  # not "0.0"/"1.0" although the NaNs made the column float
    _, y_text, _, classes_text, _ = prepare_xy(frame, label="approved", positive="0")
    assert classes_text == ("1", "0") and np.array_equal(y_text, 1 - y)


def test_three_classes_need_a_positive_class_then_one_vs_rest():
    with pytest.raises(DataError, match=r"the label column 'species' has 3 classes \(setosa, "
                                        r"versicolor, virginica\); choose one as the positive"):
        load("good_multiclass.csv", label="species")
    d, notes = load("good_multiclass.csv", label="species", positive="virginica")
    assert d.class_names == ("not virginica", "virginica") and notes == []
    assert np.bincount(np.concatenate([d.y_train, d.y_test])).tolist() == [20, 10]


def test_many_classes_are_listed_up_to_ten():
    frame = pd.DataFrame({"a": np.arange(60.0), "b": np.arange(60.0) % 7,
                          "c": np.arange(60) % 12})
    with pytest.raises(DataError, match=r"has 12 classes \(0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 2 "
                                        r"more\)"):
        prepare_xy(frame, label="c")


def test_unknown_positive_lists_the_values():
    with pytest.raises(DataError, match=r"positive='maybe' is not a value of the label column "
                                        r"'approved'; its values are: no, yes"):
        load("good_binary.csv", positive="maybe")


@pytest.mark.parametrize("name, note", [
    ("semicolon.csv", "read as semicolon-separated values"),
    ("tab_separated.csv", "read as tab-separated values"),
    ("utf8_bom.csv", None),
])
def test_other_delimiters_and_bom_give_the_same_data(name, note):
    reference, _ = load("good_binary.csv")
    d, notes = load(name)
    assert notes == ([note] if note else [])
    assert d.feature_names == FEATURES  # the BOM is not glued to the first column name
    assert np.array_equal(d.X_train, reference.X_train)
    assert np.array_equal(d.y_test, reference.y_test)


def test_semicolon_file_with_decimal_commas():
    reference, _ = load("good_binary.csv")
    d, notes = load("semicolon_decimal_comma.csv")
    assert notes == ["read as semicolon-separated values", "read decimal commas in: score"]
    assert np.array_equal(d.X_train, reference.X_train)


def test_a_semicolon_file_is_never_read_as_one_column():
    frame, _ = read_csv_table(fixture("semicolon.csv").read_bytes())
    assert list(frame.columns) == ["age", "income", "score", "approved"]


# --------------------------------------------------------------------------- unreadable files

@pytest.mark.parametrize("name, message", [
    ("empty.csv", r"^the file is empty; upload a CSV with a header row and data rows$"),
    ("header_only.csv", r"^the file has a header row but no data rows"),
    ("binary_garbage.csv", r"^this is not a CSV text file \(it contains binary data\)"),
    ("excel_renamed.csv", r"^this looks like an Excel file; save it as CSV"),
    ("utf16_bom.csv", r"^the file is UTF-16 encoded; save it as CSV with UTF-8 encoding"),
    ("duplicate_columns.csv", r"^duplicated column names: age; rename the columns"),
    ("single_column.csv", r"^the file has a single column \(no comma, semicolon or tab"),
    ("ragged_rows.csv", r"^line 7 has 5 values but the header has 4 columns"),
    ("no_header.csv", r"^the first row looks like data, not column names \(e\.g\. '1\.5'\)"),
])
def test_unreadable_files_are_refused_with_a_message(name, message):
    with pytest.raises(DataError, match=message):
        read_csv_table(fixture(name))
    with pytest.raises(DataError, match=message):  # the same for an upload
        load(fixture(name).read_bytes())


@pytest.mark.parametrize("data, message", [
    (b"  \n\n", "the file is empty"),
    (b"\xef\xbb\xbf", "the file is empty"),
    ("age,income,label\n1,2,0\n".encode("utf-16-le"), "the file is UTF-16 encoded"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "this looks like an Excel file"),
    ("caf\u00e9,x,label\n1,2,0\n".encode("latin-1"),
     r"the file is not UTF-8 text \(byte 0xe9 at position 3\); save it as CSV with UTF-8"),
    (b"a,b,c\n1,2,3,\n4,5,6,\n", "the header names 3 columns but most rows have 4 comma-"),
])
def test_more_unreadable_bytes(data, message):
    with pytest.raises(DataError, match=message):
        read_csv_table(data)


def test_a_missing_path_is_a_data_error():
    with pytest.raises(DataError, match=r"file not found: .*nope\.csv; check the path"):
        read_csv_table(FIXTURES / "nope.csv")
    with pytest.raises(TypeError, match="source must be a path or bytes"):
        read_csv_table(12)


def test_byte_limit_names_the_size_and_the_limit():
    limits = CSVLimits(max_bytes=500)
    message = r"^the file is 771 bytes, over the 500 bytes limit; upload a smaller file"
    with pytest.raises(DataError, match=message):
        read_csv_table(fixture("good_binary.csv"), limits=limits)
    with pytest.raises(DataError, match=message):
        read_csv_table(fixture("good_binary.csv").read_bytes(), limits=limits)
    big = b"a,b\n" + b"1,2\n" * (2**20 // 4)
    with pytest.raises(DataError, match=r"the file is 1 MB, over the 512 KB limit"):
        read_csv_table(big, limits=CSVLimits(max_bytes=2**19))


def test_row_limit_is_refused_with_the_limit():
    with pytest.raises(DataError, match=r"^the file has more than 30 data rows, the limit; "
                                        r"upload a sample of at most 30 rows"):
        load("good_binary.csv", limits=CSVLimits(max_rows=30))
    frame, _ = read_csv_table(fixture("good_binary.csv"), limits=CSVLimits(max_rows=40))
    assert len(frame) == 40


def wide_csv(n_columns: int, n_rows: int = 50, name_length: int = 0) -> bytes:
    """``n_columns - 1`` numeric features and a label, as a spreadsheet would save them."""
    rs = np.random.RandomState(0)
    names = [f"f{i}".ljust(name_length, "x") for i in range(n_columns - 1)] + ["label"]
    rows = [",".join(names)] + [",".join(map(str, rs.randint(0, 10, n_columns - 1)))
                                + f",{i % 2}" for i in range(n_rows)]
    return ("\n".join(rows) + "\n").encode()


def test_column_limit_is_refused_at_once_naming_the_limit():
    import time
    start = time.perf_counter()
    with pytest.raises(DataError, match=r"^the file has 10,001 columns, over the limit of 500; "
                                        r"keep the label and at most 499 feature columns"):
        read_csv_table(wide_csv(10_001))
    assert time.perf_counter() - start < 1.0  # refused from the header, not parsed (was 2-4 s)
    with pytest.raises(DataError, match=r"has 4 columns, over the limit of 3"):
        read_csv_table(wide_csv(4), limits=CSVLimits(max_columns=3))
    frame, _ = read_csv_table(wide_csv(500))  # at the limit: read, every column numeric
    assert frame.shape == (50, 500) and len(numeric_columns(frame)) == 500


def test_column_limit_holds_when_the_header_is_longer_than_the_sniffed_text():
    # 600 names of 150 characters: the first 64 KB of text hold only part of the header
    data = wide_csv(600, n_rows=20, name_length=150)
    assert data.index(b"\n") > 64 * 1024
    with pytest.raises(DataError, match=r"^the file has 600 columns, over the limit of 500"):
        read_csv_table(data)


def test_value_limit_bounds_rows_times_columns():
    with pytest.raises(DataError, match=r"^the file has more than 100 data rows of 10 columns, "
                                        r"over the limit of 1,000 values; upload a sample of at "
                                        r"most 100 rows, or fewer columns$"):
        read_csv_table(wide_csv(10, n_rows=101), limits=CSVLimits(max_cells=1_000))
    frame, _ = read_csv_table(wide_csv(10, n_rows=100), limits=CSVLimits(max_cells=1_000))
    assert frame.shape == (100, 10)
    # the row limit still speaks for itself when it is the tighter one
    with pytest.raises(DataError, match=r"more than 30 data rows, the limit"):
        read_csv_table(wide_csv(10, n_rows=31), limits=CSVLimits(max_rows=30))


def test_the_largest_accepted_table_reads_in_about_a_second():
    import time
    # 10,000 rows x 500 one-letter text columns: the most values a file may have, of the
    # slowest kind (each cell a string to strip and try as a number)
    rs = np.random.RandomState(0)
    cells = np.full((10_000, 1_000), ord(","), dtype=np.uint8)
    cells[:, 0::2] = rs.randint(0, 3, (10_000, 500)) + ord("a")
    cells[:, -2], cells[:, -1] = rs.randint(0, 2, 10_000) + ord("0"), ord("\n")
    data = (",".join([*(f"f{i}" for i in range(499)), "label"]) + "\n").encode() + cells.tobytes()
    start = time.perf_counter()
    frame, _ = read_csv_table(data)
    elapsed = time.perf_counter() - start
    assert frame.shape == (10_000, 500) and numeric_columns(frame) == ["label"]
    assert elapsed < 5.0, f"{elapsed:.1f} s (0.9 s on a quiet 2-core machine; was 27 s for 50 MB)"


def test_limits_are_validated():
    with pytest.raises(ValueError, match=r"max_train_rows=3 is out of range"):
        CSVLimits(max_train_rows=3)
    with pytest.raises(ValueError, match=r"max_columns=1 is out of range"):
        CSVLimits(max_columns=1)


# --------------------------------------------------------------------------- labels and features

def test_single_class_is_an_error():
    with pytest.raises(DataError, match=r"the label column 'approved' has a single class "
                                        r"\('yes'\); a binary classifier needs rows of two"):
        load("single_class.csv")


def test_rows_without_a_label_are_dropped_with_a_note():
    d, notes = load("label_nan.csv")
    assert notes == ["dropped 3 rows with a missing label"]
    assert len(d.y_train) + len(d.y_test) == 21


def test_missing_labels_leaving_one_class_is_an_error():
    data = b"x,y,label\n" + b"".join(b"%d,%d,1\n" % (i, i * i) for i in range(8)) + b"9,3,\n"
    with pytest.raises(DataError, match=r"has a single class \(1\) after dropping rows with "
                                        r"missing values"):
        load(data, label="label")


def test_missing_label_column_lists_the_columns():
    with pytest.raises(DataError, match=r"label column 'target' not found; available columns: "
                                        r"age, income, score, approved$"):
        load("good_binary.csv", label="target")


def test_non_numeric_columns_are_ignored_with_a_note():
    d, notes = load("non_numeric_features.csv")
    assert notes == ["ignored non-numeric columns: name, city"]
    assert d.feature_names == FEATURES


def test_no_numeric_feature_is_an_error():
    with pytest.raises(DataError, match=r"no numeric feature columns besides the label "
                                        r"'approved'; the file needs at least 2 columns"):
        load("only_text_features.csv")


def test_explicit_features_must_exist_and_be_numeric():
    d, notes = load("non_numeric_features.csv", features=["score", "age"])
    assert d.feature_names == ("score", "age") and notes == []
    with pytest.raises(DataError, match=r"feature column not found: height; available columns: "
                                        r"name, age, city"):
        load("non_numeric_features.csv", features=["age", "height"])
    with pytest.raises(DataError, match=r"feature columns must hold numbers, but these do not: "
                                        r"city \(e\.g\. 'Paris'\); choose numeric columns"):
        load("non_numeric_features.csv", features=["age", "city"])
    with pytest.raises(DataError, match=r"the label column 'approved' cannot also be a feature"):
        load("good_binary.csv", features=["age", "approved"])
    with pytest.raises(DataError, match=r"feature columns listed more than once: age"):
        load("good_binary.csv", features=["age", "age", "score"])


def test_rows_with_missing_feature_values_are_dropped_with_the_count():
    d, notes = load("missing_features.csv")
    assert notes == ["dropped 4 rows with missing feature values (in age, income, score)"]
    assert len(d.y_train) + len(d.y_test) == 20
    assert np.isfinite(d.X_train).all() and np.isfinite(d.X_test).all()


def test_only_the_chosen_features_decide_which_rows_are_dropped():
    d, notes = load("missing_features.csv", features=["age", "score"])
    assert notes == ["dropped 2 rows with missing feature values (in age, score)"]
    assert len(d.y_train) + len(d.y_test) == 22  # the 2 gaps in income do not count


def test_constant_columns_are_dropped_with_a_note():
    d, notes = load("constant_column.csv")
    assert notes == ["dropped constant columns (the same value in every row): country_code"]
    assert d.feature_names == FEATURES


def test_fewer_than_two_varying_features_is_an_error():
    with pytest.raises(DataError, match=r"needs at least 2 numeric feature columns whose values "
                                        r"vary, but has 1 \(age\); add numeric feature columns"):
        load("constant_column.csv", features=["age", "country_code"])


def test_one_row_per_class_is_an_error():
    with pytest.raises(DataError, match=rf"class 'no' has only 1 row; each class needs at least "
                                        rf"{MIN_CLASS_ROWS} rows for a train/test split"):
        load("one_row_per_class.csv")


def test_a_class_with_too_few_rows_says_how_many_it_has():
    with pytest.raises(DataError, match=r"class 'yes' has only 3 rows"):
        load("few_rows_of_a_class.csv")


def test_a_split_that_would_lose_a_class_is_an_error():
    data = b"x,y,label\n" + b"".join(b"%d,%d,%d\n" % (i, i % 3, i % 2) for i in range(10))
    with pytest.raises(DataError, match=r"test_fraction=0\.1 leaves the test set without a row "
                                        r"of each class"):
        load(data, label="label", test_fraction=0.1)


def test_unnamed_and_empty_columns_are_left_out_with_a_note():
    frame = pd.read_csv(fixture("good_binary.csv"))
    frame["comment"] = np.nan
    data = frame.to_csv().encode()  # pandas writes its index as a column without a name
    table, notes = read_csv_table(data)
    assert list(table.columns) == ["age", "income", "score", "approved"]
    assert notes == ["ignored columns without a name in the header: column 1",
                     "ignored empty columns: comment"]


def test_numeric_columns():
    frame, _ = read_csv_table(fixture("non_numeric_features.csv"))
    assert numeric_columns(frame) == ["age", "income", "score"]


# --------------------------------------------------------------------------- size and determinism

def test_big_data_is_subsampled_stratified_with_a_note():
    d, notes = load("good_binary.csv", limits=CSVLimits(max_train_rows=20), test_fraction=0.5)
    assert notes == ["using a stratified random sample of 20 of the 40 usable rows (the limit is "
                     "20)"]
    y = np.concatenate([d.y_train, d.y_test])
    assert len(y) == 20 and np.bincount(y).tolist() == [10, 10]
    again, _ = load("good_binary.csv", limits=CSVLimits(max_train_rows=20), test_fraction=0.5)
    assert np.array_equal(d.X_train, again.X_train)


def test_subsampling_keeps_enough_rows_of_a_rare_class():
    n = 400
    frame = pd.DataFrame({"a": np.arange(n, dtype=float), "b": np.arange(n) % 13,
                          "label": (np.arange(n) < 6).astype(int)})
    X, y, _, _, notes = prepare_xy(frame, label="label", max_rows=50, random_state=0)
    assert len(y) == 50 and np.bincount(y).tolist() == [45, MIN_CLASS_ROWS]
    assert notes == ["using a stratified random sample of 50 of the 400 usable rows (the limit "
                     "is 50)"]


def test_same_bytes_and_seed_give_identical_arrays_and_seeds_matter():
    a, _ = load("good_binary.csv", random_state=3)
    b, _ = load(fixture("good_binary.csv").read_bytes(), random_state=3)
    c, _ = load("good_binary.csv", random_state=4)
    for field in ("X_train", "y_train", "X_test", "y_test"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    assert (a.feature_names, a.class_names) == (b.feature_names, b.class_names)
    assert b.name == "uploaded CSV"
    assert not np.array_equal(a.X_train, c.X_train)


def test_path_and_bytes_read_the_same_table():
    by_path, notes_path = read_csv_table(str(fixture("semicolon.csv")))
    by_bytes, notes_bytes = read_csv_table(fixture("semicolon.csv").read_bytes())
    pd.testing.assert_frame_equal(by_path, by_bytes)
    assert notes_path == notes_bytes
