"""densekit.preprocessing: columns of any kind in, vectorized encodings out, and back."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from densekit.cli import main
from densekit.errors import ArgumentError, InputError
from densekit.preprocessing import (
    FeatureEncoder,
    TabularPreprocessor,
    TargetEncoder,
    TextColumn,
    as_column,
)

V1 = Path(__file__).parent / "data" / "tabular_v1"


def people():
    return {
        "age": [30.0, np.nan, 50.0, 20.0, 41.0],
        "color": ["red", "blue", None, "red", "None"],
        "size": ["1", "2", "NA", "3", ""],
    }


# --------------------------------------------------------------------------- column forms


def test_every_input_form_gives_the_same_codes():
    pa = pytest.importorskip("pyarrow")
    pd = pytest.importorskip("pandas")
    values = ["b", " a", None, "b", "a "]
    forms = [
        values,
        np.array(values, dtype=object),
        pd.Series(values),
        pd.Series(values, dtype="category"),
        pa.array(values),
        pa.array(values).dictionary_encode(),
        pa.chunked_array([pa.array(values[:2]), pa.array(values[2:])]),
    ]
    for form in forms:
        column, integer = as_column(form)
        assert isinstance(column, TextColumn) and not integer
        assert column.tolist() == ["b", "a", None, "b", "a"], type(form)


def test_numbers_come_in_as_float64_with_nan_for_nulls():
    pa = pytest.importorskip("pyarrow")
    for form in ([1, None, 3], np.array([1.0, np.nan, 3.0]), pa.array([1, None, 3])):
        column, _ = as_column(form)
        np.testing.assert_array_equal(column, [1.0, np.nan, 3.0])
    assert as_column(np.array([1, 2]))[1] and not as_column(np.array([1.5]))[1]


# --------------------------------------------------------------------------- numbers


def test_robust_scaling_is_realmlp_td_robust_scale_and_smooth_clip():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=200), [40.0, -60.0]])  # heavy tails
    encoder = FeatureEncoder(scaling="robust").fit({"x": x})
    q25, median, q75 = np.quantile(x, [0.25, 0.5, 0.75])
    z = (x - median) / (q75 - q25)
    expected = z / np.sqrt(1 + (z / 3) ** 2)
    got = encoder.transform({"x": x})[:, 0]
    # float32 output of a float64 computation: half an ulp of float32 relative error
    np.testing.assert_allclose(got, expected, rtol=np.finfo(np.float32).eps, atol=0)
    assert np.abs(got).max() < 3


def test_robust_scaling_falls_back_to_half_the_range_and_zero_for_constants():
    x = np.array([0.0] * 9 + [4.0])  # the quartiles coincide
    column = FeatureEncoder(scaling="robust").fit({"x": x, "c": np.ones(10)}).columns_
    assert column[0].center == 0.0 and column[0].scale == 2.0
    encoder = FeatureEncoder(scaling="robust").fit({"c": np.ones(10)})
    np.testing.assert_array_equal(encoder.transform({"c": np.array([1.0, 5.0])}), [[0], [0]])


def test_robust_scaling_stays_finite_for_huge_values():
    encoder = FeatureEncoder(scaling="robust").fit({"x": np.array([0.0, 1.0, 2.0, 3.0])})
    got = encoder.transform({"x": np.array([1e308, -1e308])})[:, 0]
    np.testing.assert_allclose(got, [3.0, -3.0], rtol=1e-6)


def test_auto_fill_uses_the_median_and_adds_an_indicator_only_where_training_had_gaps():
    encoder = FeatureEncoder().fit(people(), ["age", "size"])
    assert encoder.feature_names == ["age", "age:missing", "size", "size:missing"]
    age = encoder.columns_[0]
    assert age.fill == np.median([30, 50, 20, 41])
    X = encoder.transform(people())
    np.testing.assert_array_equal(X[:, 1], [0, 1, 0, 0, 0])
    np.testing.assert_allclose(X[1, 0], (age.fill - age.mean) / age.std, rtol=1e-6)
    no_gaps = FeatureEncoder().fit({"a": [1.0, 2.0, 3.0]})
    assert no_gaps.feature_names == ["a"]
    assert no_gaps.transform({"a": [np.nan]})[0, 0] == 0.0  # the median, standardized


def test_none_like_text_is_missing_in_numeric_columns_only():
    encoder = FeatureEncoder().fit(people(), ["color", "size"])
    # color: "None" is a real level, the null cell its own missing level
    assert encoder.feature_names[:4] == ["color=None", "color=blue", "color=red", "color:missing"]
    assert encoder.columns_[1].missing_ == 2  # size: "NA" and blank


def test_the_user_can_name_missing_markers():
    encoder = FeatureEncoder(missing_values=["None"]).fit(people(), ["color"])
    assert encoder.feature_names == ["color=blue", "color=red", "color:missing"]


def test_filled_summary_says_what_was_filled_in_one_line():
    encoder = FeatureEncoder().fit(people())
    line = encoder.filled_summary()
    assert "\n" not in line
    assert "age 1 with 35.5 (+ indicator)" in line and "color 1 with their own level" in line


# --------------------------------------------------------------------------- categories


def test_codes_are_zero_for_missing_or_unknown_and_one_to_k_for_sorted_levels():
    encoder = FeatureEncoder(categorical="codes").fit({"c": ["b", "a", None, "c"]})
    assert encoder.feature_names == ["c"] and encoder.embedding_columns() == [(0, 4)]
    X = encoder.transform({"c": ["a", "b", "c", None, "zzz"]})
    np.testing.assert_array_equal(X[:, 0], [1, 2, 3, 0, 0])
    assert encoder.unseen() == {"c": 1}


def test_auto_codes_only_above_the_one_hot_threshold():
    data = {"few": ["a", "b"] * 10, "many": [f"v{i % 10}" for i in range(20)], "y": [1.0] * 20}
    encoder = FeatureEncoder(categorical="auto", max_onehot=5).fit(data, ["few", "many"])
    assert encoder.feature_names == ["few=a", "few=b", "many"]
    assert encoder.embedding_columns() == [(2, 11)]


def test_unseen_categories_encode_as_zeros_and_are_counted():
    encoder = FeatureEncoder().fit({"c": ["x", "y", "x"]})
    X = encoder.transform({"c": ["x", "new", "new", "y"]})
    np.testing.assert_array_equal(X, [[1, 0], [0, 0], [0, 0], [0, 1]])
    assert encoder.unseen() == {"c": 2}


def test_feature_groups_map_encoded_features_to_original_columns():
    encoder = FeatureEncoder().fit(people())
    assert encoder.feature_groups() == {"age": [0, 1], "color": [2, 3, 4, 5], "size": [6, 7]}
    assert encoder.feature_columns[3] == "color"


# --------------------------------------------------------------------------- tables, targets


def test_a_pandas_dataframe_encodes_like_a_dict_of_columns():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(people())
    a = FeatureEncoder(scaling="robust").fit(frame).transform(frame)
    b = FeatureEncoder(scaling="robust").fit(people()).transform(people())
    np.testing.assert_array_equal(a, b)


def test_target_encoder_round_trips_labels_and_numbers():
    target = TargetEncoder().fit(["b", "a", "b"])
    assert target.task == "classification" and target.classes_ == ["a", "b"]
    assert target.inverse_transform(target.transform(["a", "b"])) == ["a", "b"]
    numbers = TargetEncoder().fit(np.array([1.5, 2.5, 10.0]))
    assert numbers.task == "regression"
    np.testing.assert_allclose(numbers.inverse_transform(numbers.transform([2.5])), [2.5])


def test_a_zero_one_target_written_as_decimals_warns_it_is_regression():
    target = TargetEncoder(name="survived").fit(["0.0", "1.0", "1.0", "0.0"])
    assert target.task == "regression"
    assert "--task classification" in target.warnings_[0]


def test_high_cardinality_text_is_warned_about():
    n = 300
    table = {"note": [f"t{i % 150}" for i in range(n)], "y": ["a", "b"] * (n // 2)}
    prep = TabularPreprocessor("y").fit(table)
    assert any("150 distinct text values" in w for w in prep.warnings_)


@pytest.mark.parametrize("scaling", ["standard", "robust"])
@pytest.mark.parametrize("categorical", ["onehot", "codes"])
def test_config_round_trip_encodes_bit_for_bit(scaling, categorical):
    table = dict(people(), y=["p", "q", "p", "q", "p"])
    prep = TabularPreprocessor("y", scaling=scaling, categorical=categorical).fit(table)
    copy = TabularPreprocessor.from_config(json.loads(json.dumps(prep.get_config())))
    assert copy.get_config() == prep.get_config()
    assert copy.transform(table).tobytes() == prep.transform(table).tobytes()


def test_bad_settings_fail_at_construction():
    with pytest.raises(ArgumentError, match="scaling"):
        FeatureEncoder(scaling="minmax")
    with pytest.raises(ArgumentError, match="categorical"):
        TabularPreprocessor("y", categorical="hash")


def test_text_in_a_numeric_column_names_the_row():
    encoder = FeatureEncoder().fit({"a": ["1", "2"]})
    with pytest.raises(InputError, match=r"column 'a', row 3: got 'x'"):
        encoder.transform({"a": ["1", "2", "x"]})


# --------------------------------------------------------------------------- old model files


def _read(path):
    with open(path, newline="") as file:
        return list(csv.reader(file))


@pytest.mark.parametrize("name", ["classifier", "regressor"])
def test_model_files_written_by_the_first_tabular_format_predict_as_before(tmp_path, name):
    out = tmp_path / "p.csv"
    args = ["predict", str(V1 / f"{name}.safetensors"), str(V1 / "people_new.csv"), "-o", str(out)]
    assert main([*args, "--proba", "-q"] if name == "classifier" else [*args, "-q"]) == 0
    got, expected = _read(out), _read(V1 / f"{name}_predictions.csv")
    assert got[0] == expected[0]
    for row, want in zip(got[1:], expected[1:], strict=True):
        if name == "classifier":
            assert row[0] == want[0]
        # the same float32 network on the same inputs: identical up to printing
        np.testing.assert_allclose(
            [float(v) for v in row[name == "classifier" :]],
            [float(v) for v in want[name == "classifier" :]],
            rtol=1e-6,
        )
