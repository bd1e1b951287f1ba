"""densekit.tabular: table files in, float arrays out, and back again."""

from __future__ import annotations

import copy
import json
import sys

import numpy as np
import pytest

from densekit.errors import (
    ArgumentError,
    ArgumentTypeError,
    InputError,
    MissingDependencyError,
    ModelFileError,
    NotBuiltError,
)
from densekit.tabular import Table, TabularPreprocessor, is_missing, read_table

PEOPLE = """\
age,color,income,bought
30,red,100.5,yes
40,blue,80,no
50,red,120,yes
20,green,60,no
"""


def write(tmp_path, text: str, name: str = "data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def table_of(**columns) -> Table:
    """A Table of CSV-like string cells, built in memory."""
    data = {name: [str(v) for v in values] for name, values in columns.items()}
    return Table(columns=list(data), data=data, n_rows=len(next(iter(data.values()))))


def fitted(**kwargs) -> tuple[TabularPreprocessor, Table]:
    table = table_of(
        age=[30, 40, 50, 20],
        color=["red", "blue", "red", "green"],
        bought=["yes", "no", "yes", "no"],
    )
    return TabularPreprocessor(target="bought", **kwargs).fit(table), table


# --------------------------------------------------------------------------- read_table


def test_read_csv_gives_columns_rows_and_raw_string_cells(tmp_path):
    table = read_table(write(tmp_path, PEOPLE))
    assert table.columns == ["age", "color", "income", "bought"]
    assert table.n_rows == 4
    assert table.data["age"] == ["30", "40", "50", "20"]
    assert table.data["income"][0] == "100.5"


def test_read_tsv_uses_tabs_and_txt_sniffs_the_delimiter(tmp_path):
    tsv = read_table(write(tmp_path, "a\tb\n1\t2\n", "data.tsv"))
    txt = read_table(write(tmp_path, "a;b;c\n1;2;3\n4;5;6\n", "data.txt"))
    assert tsv.columns == ["a", "b"] and tsv.data["b"] == ["2"]
    assert txt.columns == ["a", "b", "c"] and txt.data["c"] == ["3", "6"]


def test_read_csv_skips_blank_lines_and_a_utf8_byte_order_mark(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffx,y\n1,2\n\n3,4\n\n".encode())
    table = read_table(path)
    assert table.columns == ["x", "y"] and table.n_rows == 2


@pytest.mark.parametrize("cell", ["", "  ", "NA", "NaN", "nan", "null", "None", "?", "NULL"])
def test_missing_markers_count_as_missing(cell):
    assert is_missing(cell)


@pytest.mark.parametrize("cell", ["0", "red", "n/a is text", 0, 0.0, False])
def test_ordinary_values_are_not_missing(cell):
    assert not is_missing(cell)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_table(tmp_path / "nope.csv")


def test_empty_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="is empty"):
        read_table(write(tmp_path, ""))


def test_header_without_rows_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no data rows"):
        read_table(write(tmp_path, "a,b\n"))


def test_numeric_first_row_is_reported_as_a_missing_header(tmp_path):
    with pytest.raises(InputError, match="looks like data, not a header"):
        read_table(write(tmp_path, "1,2,3\n4,5,6\n"))


def test_ragged_row_error_names_the_row_and_line(tmp_path):
    path = write(tmp_path, "a,b,c\n1,2,3\n4,5\n7,8,9\n")
    with pytest.raises(InputError, match=r"row 2 \(line 3\) has 2 fields, but the header has 3"):
        read_table(path)


def test_duplicate_column_names_are_an_input_error(tmp_path):
    with pytest.raises(InputError, match=r"duplicate column names \['a'\]"):
        read_table(write(tmp_path, "a,b,a\n1,2,3\n"))


def test_blank_column_name_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="header column 2 is blank"):
        read_table(write(tmp_path, "a,,c\n1,2,3\n"))


def test_unsupported_suffix_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match=r"unsupported file type '\.xlsx'"):
        read_table(write(tmp_path, "a\n1\n", "data.xlsx"))


def test_parquet_round_trip_keeps_python_values_and_nulls(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    source = pa.table({"x": [1.5, None, 3.0], "kind": ["a", "b", None], "y": [0, 1, 0]})
    pq.write_table(source, tmp_path / "data.parquet")
    table = read_table(tmp_path / "data.parquet")
    assert table.columns == ["x", "kind", "y"] and table.n_rows == 3
    assert table.data["x"] == [1.5, None, 3.0]
    assert table.data["kind"] == ["a", "b", None]
    prep = TabularPreprocessor("y", fill_missing="most_frequent").fit(table)
    assert prep.feature_names == ["x", "kind=a", "kind=b"]
    assert prep.classes_ == [0, 1]


def test_parquet_and_csv_of_the_same_data_encode_the_same(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    csv_table = read_table(write(tmp_path, PEOPLE))
    columns = {
        "age": [30, 40, 50, 20],
        "color": ["red", "blue", "red", "green"],
        "income": [100.5, 80.0, 120.0, 60.0],
        "bought": ["yes", "no", "yes", "no"],
    }
    pq.write_table(pa.table(columns), tmp_path / "data.pq")
    pq_table = read_table(tmp_path / "data.pq")
    prep = TabularPreprocessor("bought").fit(csv_table)
    np.testing.assert_array_equal(prep.transform(csv_table), prep.transform(pq_table))
    np.testing.assert_array_equal(prep.encode_target(csv_table), prep.encode_target(pq_table))


def test_parquet_without_pyarrow_names_the_extra(tmp_path, monkeypatch):
    path = tmp_path / "data.parquet"
    path.write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # makes `import pyarrow` fail
    with pytest.raises(MissingDependencyError, match=r"densekit\[parquet\]"):
        read_table(path)


def test_a_file_that_is_not_parquet_is_an_input_error(tmp_path):
    pytest.importorskip("pyarrow")
    path = write(tmp_path, "a,b\n1,2\n", "data.parquet")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        read_table(path)


def test_a_csv_that_is_not_utf8_is_an_input_error(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("name,city\nJos\xe9,K\xf6ln\n".encode("latin-1"))
    with pytest.raises(InputError, match="is not UTF-8 text"):
        read_table(path)


# --------------------------------------------------------------------------- column typing


def test_numeric_columns_stay_one_column_and_text_columns_become_one_hot(tmp_path):
    prep = TabularPreprocessor("bought").fit(read_table(write(tmp_path, PEOPLE)))
    assert prep.feature_names == ["age", "color=blue", "color=green", "color=red", "income"]
    assert prep.n_features_out == 5


def test_a_column_with_any_non_number_is_categorical():
    table = table_of(code=["1", "2", "x"], y=["a", "b", "a"])
    prep = TabularPreprocessor("y").fit(table)
    assert prep.feature_names == ["code=1", "code=2", "code=x"]


def test_text_target_is_classification_with_classes_in_string_order():
    prep, _ = fitted()
    assert prep.task == "classification"
    assert prep.classes_ == ["no", "yes"] and prep.n_classes == 2


def test_integer_target_with_few_values_is_classification_in_numeric_order():
    table = table_of(x=[1, 2, 3, 4, 5], y=[10, 2, 1, 2, 10])
    prep = TabularPreprocessor("y").fit(table)
    assert prep.task == "classification"
    assert prep.classes_ == [1, 2, 10]


def test_integer_target_with_more_than_max_classes_values_is_regression():
    table = table_of(x=[1, 2, 3, 4], y=[1, 2, 3, 4])
    assert TabularPreprocessor("y", max_classes=3).fit(table).task == "regression"
    assert TabularPreprocessor("y", max_classes=4).fit(table).task == "classification"


def test_float_target_is_regression():
    table = table_of(x=[1, 2, 3], y=[0.5, 1.5, 2.0])
    prep = TabularPreprocessor("y").fit(table)
    assert prep.task == "regression" and prep.classes_ == []


def test_whole_numbers_written_as_floats_are_regression():
    table = table_of(x=[1, 2, 3], y=["10.0", "20.0", "10.0"])
    assert TabularPreprocessor("y").fit(table).task == "regression"


def test_task_argument_overrides_the_inferred_task():
    table = table_of(x=[1, 2, 3, 4], y=[0, 1, 0, 1])
    assert TabularPreprocessor("y", task="regression").fit(table).task == "regression"
    floats = table_of(x=[1, 2, 3], y=[0.5, 1.5, 0.5])
    prep = TabularPreprocessor("y", task="classification").fit(floats)
    assert prep.task == "classification" and prep.classes_ == [0.5, 1.5]


def test_refitting_infers_the_task_afresh():
    prep = TabularPreprocessor("y").fit(table_of(x=[1, 2, 3], y=["a", "b", "a"]))
    prep.fit(table_of(x=[1, 2, 3], y=[0.5, 1.5, 2.5]))
    assert prep.task == "regression" and prep.classes_ == []


def test_regression_on_a_text_target_names_the_row_and_value():
    with pytest.raises(InputError, match=r"row 1: got 'yes'; regression needs numbers"):
        fitted(task="regression")


def test_target_with_one_class_is_an_input_error():
    with pytest.raises(InputError, match="at least 2 classes"):
        TabularPreprocessor("y").fit(table_of(x=[1, 2], y=["a", "a"]))


def test_absent_target_column_is_named_with_a_suggestion():
    with pytest.raises(InputError, match=r"target column 'Bought' .*did you mean 'bought'"):
        TabularPreprocessor("Bought").fit(fitted()[1])


# --------------------------------------------------------------------------- encoding


def test_numeric_columns_are_standardized_with_training_mean_and_std():
    table = table_of(a=[1, 2, 3, 4], b=[5, 5, 5, 5], y=["p", "q", "p", "q"])
    X = TabularPreprocessor("y").fit(table).transform(table)
    assert X.dtype == np.float32 and X.shape == (4, 2)
    expected = (np.array([1, 2, 3, 4]) - 2.5) / np.std([1, 2, 3, 4])
    np.testing.assert_allclose(X[:, 0], expected, rtol=1e-6)
    np.testing.assert_array_equal(X[:, 1], 0.0)  # constant column: std 1, not NaN


def test_new_data_is_standardized_with_the_training_statistics():
    prep, _ = fitted()
    new = table_of(age=[35, 35], color=["red", "red"])
    mean, std = np.mean([30, 40, 50, 20]), np.std([30, 40, 50, 20])
    np.testing.assert_allclose(prep.transform(new)[:, 0], (35 - mean) / std, rtol=1e-6)


def test_one_hot_uses_the_sorted_training_vocabulary():
    prep, table = fitted()
    X = prep.transform(table)
    assert prep.feature_names[1:] == ["color=blue", "color=green", "color=red"]
    np.testing.assert_array_equal(X[:, 1:], [[0, 0, 1], [1, 0, 0], [0, 0, 1], [0, 1, 0]])


def test_unseen_category_encodes_as_all_zeros():
    prep, _ = fitted()
    X = prep.transform(table_of(age=[30], color=["purple"]))
    np.testing.assert_array_equal(X[0, 1:], [0, 0, 0])


def test_transform_ignores_the_target_extra_columns_and_column_order():
    prep, table = fitted()
    reordered = table_of(
        note=["x", "y", "z", "w"],
        color=["red", "blue", "red", "green"],
        age=[30, 40, 50, 20],
    )
    np.testing.assert_array_equal(prep.transform(reordered), prep.transform(table))


def test_transform_names_absent_feature_columns():
    prep, _ = fitted()
    with pytest.raises(InputError, match=r"lacks feature columns \['color'\]"):
        prep.transform(table_of(age=[30]))


def test_text_in_a_numeric_column_at_transform_names_column_row_and_value():
    prep, _ = fitted()
    with pytest.raises(InputError, match=r"column 'age', row 2: got 'old', expected a finite"):
        prep.transform(table_of(age=[30, "old"], color=["red", "red"]))


def test_infinite_values_are_an_input_error():
    with pytest.raises(InputError, match=r"column 'x', row 2: got 'inf'"):
        TabularPreprocessor("y").fit(table_of(x=[1, "inf"], y=["a", "b"]))


def test_encode_target_gives_int64_class_indices_for_classification():
    prep, table = fitted()
    y = prep.encode_target(table)
    assert y.dtype == np.int64 and y.shape == (4,)
    np.testing.assert_array_equal(y, [1, 0, 1, 0])


def test_encode_target_gives_standardized_float32_column_for_regression():
    table = table_of(x=[1, 2, 3], y=[10.0, 20.0, 60.0])
    prep = TabularPreprocessor("y").fit(table)
    y = prep.encode_target(table)
    assert y.dtype == np.float32 and y.shape == (3, 1)
    assert prep.target_mean == 30.0
    np.testing.assert_allclose(y.mean(), 0.0, atol=1e-6)
    np.testing.assert_allclose(y.std(), 1.0, rtol=1e-6)


def test_encode_target_rejects_a_label_not_seen_in_training():
    prep, _ = fitted()
    with pytest.raises(InputError, match=r"row 2: label 'maybe' was not seen in training"):
        prep.encode_target(table_of(age=[1, 2], color=["red", "red"], bought=["yes", "maybe"]))


def test_integer_labels_match_by_value():
    prep = TabularPreprocessor("y").fit(table_of(x=[1, 2, 3], y=[0, 1, 2]))
    np.testing.assert_array_equal(prep.encode_target(table_of(x=[1], y=["2.0"])), [2])


# --------------------------------------------------------------------------- decoding


def test_decode_target_maps_indices_and_probabilities_back_to_labels():
    prep = TabularPreprocessor("y").fit(table_of(x=[1, 2, 3], y=["cat", "dog", "eel"]))
    assert prep.decode_target(np.array([2, 0])) == ["eel", "cat"]
    probabilities = np.array([[0.1, 0.7, 0.2], [0.8, 0.1, 0.1]])
    assert prep.decode_target(probabilities) == ["dog", "cat"]


def test_decode_target_reads_binary_sigmoid_outputs():
    prep, _ = fitted()
    assert prep.decode_target(np.array([[0.9], [0.2]])) == ["yes", "no"]


def test_decode_target_round_trips_labels():
    table = table_of(x=[1, 2, 3, 4], y=[7, 3, 3, 9])
    prep = TabularPreprocessor("y").fit(table)
    assert prep.decode_target(prep.encode_target(table)) == [7, 3, 3, 9]


def test_decode_target_round_trips_regression_values_in_original_units():
    values = [12.5, -3.0, 40.25, 7.0]
    table = table_of(x=[1, 2, 3, 4], y=values)
    prep = TabularPreprocessor("y").fit(table)
    decoded = prep.decode_target(prep.encode_target(table))
    assert decoded.shape == (4,)
    np.testing.assert_allclose(decoded, values, rtol=1e-6)


def test_decode_target_rejects_out_of_range_indices():
    prep, _ = fitted()
    with pytest.raises(InputError, match="class index 2 is out of range"):
        prep.decode_target(np.array([0, 2]))


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (["a", "b", "c"], ("sparse_categorical_crossentropy", 3)),
        (["a", "b", "a"], ("binary_crossentropy", 1)),
        ([0.5, 1.25, 3.0], ("mean_squared_error", 1)),
    ],
)
def test_suggest_loss_matches_the_task(target, expected):
    prep = TabularPreprocessor("y").fit(table_of(x=[1, 2, 3], y=target))
    assert prep.suggest_loss() == expected


# --------------------------------------------------------------------------- missing values

HOLES = table_of(
    a=[1, "", 3, "NA", 5],
    b=["x", "y", "", "x", "x"],  # "?" would be a category in a text column
    c=[1, 2, 3, 4, 5],
    y=["p", "q", "p", "q", "p"],
)


def test_missing_values_raise_naming_columns_and_counts():
    with pytest.raises(InputError) as error:
        TabularPreprocessor("y", fill_missing=None).fit(HOLES)
    message = str(error.value)
    assert "'a': 2 of 5" in message and "'b': 1 of 5" in message and "'c'" not in message
    assert "--fill-missing" in message


def test_missing_values_at_transform_raise_too():
    prep, _ = fitted(fill_missing=None)
    with pytest.raises(InputError, match=r"'age': 1 of 2"):
        prep.transform(table_of(age=[30, ""], color=["red", "red"]))


@pytest.mark.parametrize(
    ("mode", "a_fill", "b_row"),
    [
        ("mean", 3.0, [1, 0]),  # text falls back to the most frequent category
        ("median", 3.0, [1, 0]),
        ("most_frequent", 1.0, [1, 0]),  # a tie among 1, 3, 5: the smallest wins
        ("zero", 0.0, [0, 0]),  # text: all zeros
    ],
)
def test_fill_missing_modes(mode, a_fill, b_row):
    prep = TabularPreprocessor("y", fill_missing=mode).fit(HOLES)
    X = prep.transform(HOLES)
    assert prep.feature_names == ["a", "b=x", "b=y", "c"]
    column = prep.columns_[0]
    assert column.fill == a_fill
    np.testing.assert_allclose(X[1, 0], (a_fill - column.mean) / column.std, rtol=1e-6)
    np.testing.assert_array_equal(X[2, 1:3], b_row)


def test_standardization_statistics_come_from_observed_values_only():
    prep = TabularPreprocessor("y", fill_missing="zero").fit(HOLES)
    assert prep.columns_[0].mean == 3.0
    assert prep.columns_[0].std == pytest.approx(np.std([1, 3, 5]))


def test_median_fill_differs_from_mean_fill():
    table = table_of(a=[1, 2, 100, ""], y=["p", "q", "p", "q"])
    assert TabularPreprocessor("y", fill_missing="median").fit(table).columns_[0].fill == 2.0
    assert TabularPreprocessor("y", fill_missing="mean").fit(table).columns_[0].fill == 103 / 3


def test_missing_target_always_raises_naming_the_rows():
    table = table_of(x=[1, 2, 3, 4], y=["a", "", "b", "NA"])
    with pytest.raises(InputError, match=r"target 'y' is missing in rows 2, 4"):
        TabularPreprocessor("y", fill_missing="mean").fit(table)


def test_many_missing_targets_are_listed_briefly():
    table = table_of(x=list(range(30)), y=[""] * 25 + ["a", "b", "a", "b", "a"])
    with pytest.raises(InputError, match=r"rows 1, 2, .*, 10, \.\.\. \(25 rows\)"):
        TabularPreprocessor("y").fit(table)


def test_all_missing_column_is_an_input_error():
    with pytest.raises(InputError, match="column 'a' has no values"):
        TabularPreprocessor("y", fill_missing="zero").fit(table_of(a=["", ""], y=["p", "q"]))


# --------------------------------------------------------------------------- config


def json_round_trip(prep: TabularPreprocessor) -> TabularPreprocessor:
    return TabularPreprocessor.from_config(json.loads(json.dumps(prep.get_config())))


@pytest.mark.parametrize("fill", [None, "mean", "median", "most_frequent", "zero"])
def test_config_round_trip_transforms_bit_for_bit(fill):
    table = table_of(
        a=[0.1, 0.7, 1 / 3, 2.9, 11.0],
        b=["x", "y", "x", "z", "x"],
        y=[3, 1, 2, 3, 1],
    )
    prep = TabularPreprocessor("y", fill_missing=fill).fit(table)
    copy_ = json_round_trip(prep)
    new = table_of(a=[0.3, "" if fill else 9.9, 1e6], b=["y", "w", "x"])
    assert copy_.get_config() == prep.get_config()
    assert copy_.transform(new).tobytes() == prep.transform(new).tobytes()
    assert copy_.encode_target(table).tobytes() == prep.encode_target(table).tobytes()
    assert copy_.classes_ == [1, 2, 3] and copy_.feature_names == prep.feature_names


def test_config_round_trip_keeps_regression_decoding_bit_for_bit():
    table = table_of(x=[1, 2, 3, 4], y=[0.1, 2.7, 3.3, 1e3])
    prep = TabularPreprocessor("y").fit(table)
    copy_ = json_round_trip(prep)
    outputs = np.array([[-1.0], [0.25], [3.0]], dtype=np.float32)
    assert copy_.decode_target(outputs).tobytes() == prep.decode_target(outputs).tobytes()
    assert copy_.encode_target(table).tobytes() == prep.encode_target(table).tobytes()


def test_config_holds_only_json_values():
    prep, _ = fitted(fill_missing="mean")
    config = prep.get_config()
    assert json.loads(json.dumps(config)) == config


def _break(path, value):
    def mutate(config):
        target = config
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (_break(["format"], "other"), "format"),
        (_break(["version"], 3), "version"),
        (_break(["task"], "clustering"), "task"),
        (_break(["target"], ""), "target"),
        (_break(["max_classes"], 1), "max_classes"),
        (_break(["fill_missing"], "mode"), "fill_missing"),
        (_break(["features"], []), "features"),
        (_break(["features", 0, "scale"], 0.0), "scale"),
        (_break(["features", 0, "center"], "NaN"), "center"),
        (_break(["features", 0, "kind"], "image"), "kind"),
        (_break(["features", 0, "extra"], 1), "unknown keys"),
        (_break(["features", 1, "categories"], ["red", "blue"]), "sorted"),
        (_break(["features", 1, "categories"], ["a", 1]), "categories"),
        (_break(["features", 1, "name"], "age"), "unique"),
        (_break(["target_encoding", "classes"], ["yes"]), "at least 2"),
        (_break(["target_encoding", "classes"], [True, False]), "classes"),
        (_break(["target_encoding"], KeyError), "lacks keys"),
    ],
)
def test_malformed_config_is_a_model_file_error(mutate, message):
    config = copy.deepcopy(fitted()[0].get_config())
    mutate(config)
    with pytest.raises(ModelFileError, match=message):
        TabularPreprocessor.from_config(config)


def test_config_that_is_not_a_dict_is_a_model_file_error():
    with pytest.raises(ModelFileError, match="must be an object"):
        TabularPreprocessor.from_config(["not", "a", "config"])


def test_fill_value_must_agree_with_fill_missing():
    config = fitted(fill_missing="mean")[0].get_config()
    config["features"][0]["fill"] = None
    with pytest.raises(ModelFileError, match="fill"):
        TabularPreprocessor.from_config(config)


# --------------------------------------------------------------------------- arguments, state


def test_unfitted_preprocessor_says_to_call_fit():
    with pytest.raises(NotBuiltError, match=r"call fit\(table\) first"):
        TabularPreprocessor("y").transform(table_of(x=[1]))


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"target": ""}, ArgumentTypeError),
        ({"target": "y", "task": "ranking"}, ArgumentError),
        ({"target": "y", "fill_missing": "interpolate"}, ArgumentError),
        ({"target": "y", "max_classes": 1}, ArgumentError),
        ({"target": "y", "max_classes": 2.5}, ArgumentTypeError),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs, error):
    with pytest.raises(error):
        TabularPreprocessor(**kwargs)


# --------------------------------------------------------------------------- real data


def test_iris_csv_is_a_three_class_problem(tmp_path):
    datasets = pytest.importorskip("sklearn.datasets")
    frame = datasets.load_iris(as_frame=True).frame
    frame["target"] = frame["target"].map(dict(enumerate(["setosa", "versicolor", "virginica"])))
    frame.to_csv(tmp_path / "iris.csv", index=False)
    table = read_table(tmp_path / "iris.csv")
    prep = TabularPreprocessor("target").fit(table)
    X, y = prep.transform(table), prep.encode_target(table)
    assert X.shape == (150, 4) and prep.classes_ == ["setosa", "versicolor", "virginica"]
    np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_array_equal(np.bincount(y), [50, 50, 50])
    assert prep.suggest_loss() == ("sparse_categorical_crossentropy", 3)


def test_diabetes_csv_is_a_regression_problem(tmp_path):
    datasets = pytest.importorskip("sklearn.datasets")
    frame = datasets.load_diabetes(as_frame=True).frame
    frame.to_csv(tmp_path / "diabetes.csv", index=False)
    table = read_table(tmp_path / "diabetes.csv")
    prep = TabularPreprocessor("target").fit(table)
    assert prep.task == "regression" and prep.n_features_out == 10
    decoded = prep.decode_target(prep.encode_target(table))
    np.testing.assert_allclose(decoded, frame["target"].to_numpy(), rtol=1e-5)
