"""A new user's first hour: the README's commands on real files, and what surprised them.

Each test here is a problem found by trying densekit as a newcomer would (see
the QA notes in the commit log): it failed before its fix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import densekit as dk
from densekit.cli import main
from densekit.errors import DensekitError
from densekit.tabular import TabularPreprocessor, read_table

sklearn_datasets = pytest.importorskip("sklearn.datasets")


@pytest.fixture(scope="module")
def iris_csv(tmp_path_factory):
    frame = sklearn_datasets.load_iris(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "setosa", 1: "versicolor", 2: "virginica"})
    path = tmp_path_factory.mktemp("iris") / "iris.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def iris_model(iris_csv):
    path = iris_csv.parent / "iris.safetensors"
    assert main(["train", str(iris_csv), "--target", "target", "-o", str(path), "-q"]) == 0
    return path


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    return err


# --- the command line ---------------------------------------------------------------


def test_train_refuses_to_write_the_model_over_its_own_data(iris_csv, capsys):
    before = iris_csv.read_bytes()
    assert main(["train", str(iris_csv), "--target", "target", "-o", str(iris_csv), "-q"]) == 2
    assert "data file" in one_line_error(capsys)
    assert iris_csv.read_bytes() == before


def test_predict_refuses_to_write_predictions_over_the_model(
    iris_model, iris_csv, tmp_path, capsys
):
    model = tmp_path / "model.safetensors"
    model.write_bytes(iris_model.read_bytes())
    assert main(["predict", str(model), str(iris_csv), "-o", str(model)]) == 2
    assert "model file" in one_line_error(capsys)
    assert model.read_bytes() == iris_model.read_bytes()


@pytest.mark.parametrize(
    "option, value, expected",
    [
        ("--epochs", "1.5", "an integer >= 0"),
        ("--validation-split", "abc", "a number in [0, 1)"),
        ("--learning-rate", "fast", "a number"),
    ],
)
def test_a_bad_option_value_is_one_line_naming_what_was_expected(
    iris_csv, capsys, option, value, expected
):
    with pytest.raises(SystemExit) as stop:
        main(["train", str(iris_csv), "--target", "target", "-o", "m.safetensors", option, value])
    assert stop.value.code == 2
    err = one_line_error(capsys)
    assert expected in err and repr(value) in err
    assert "_non_negative_int" not in err and "_fraction" not in err


def test_piping_predictions_into_a_reader_that_stops_early_is_not_an_error(iris_model, iris_csv):
    env = dict(os.environ, PYTHONPATH=str(Path(dk.__file__).parents[1]))
    child = subprocess.Popen(
        [sys.executable, "-m", "densekit.cli", "predict", str(iris_model), str(iris_csv)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    child.stdout.close()  # like `| head -0`: the reader is gone before the first write
    err = child.stderr.read().decode()
    assert child.wait(timeout=60) != 0
    assert err == ""


def test_version_and_python_dash_m_work_like_the_script(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"densekit {dk.__version__}"
    env = dict(os.environ, PYTHONPATH=str(Path(dk.__file__).parents[1]))
    run = subprocess.run(
        [sys.executable, "-m", "densekit", "--help"], capture_output=True, text=True, env=env
    )
    assert run.returncode == 0 and "train" in run.stdout


def test_training_log_has_no_progress_bar_redraws_when_not_a_terminal(iris_csv, capsys):
    model = iris_csv.parent / "log.safetensors"
    args = ["train", str(iris_csv), "--target", "target", "-o", str(model), "--epochs", "2"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "\r" not in out and "batch/s" not in out
    assert "Epoch 2/2" in out


def test_regression_reports_the_error_in_the_targets_own_units(tmp_path, capsys):
    frame = sklearn_datasets.load_diabetes(as_frame=True).frame
    path = tmp_path / "diabetes.csv"
    frame.to_csv(path, index=False)
    model = tmp_path / "d.safetensors"
    assert main(["train", str(path), "--target", "target", "-o", str(model), "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert "in 'target' units" in out
    line = next(text for text in out.splitlines() if "in 'target' units" in text)
    mae = float(line.split("'mae': ")[1].split(",")[0])
    assert 20 < mae < 200  # disease progression is ~25..346; standardized mae would be < 2


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_semicolon_separated_csv_is_read_by_its_columns(tmp_path):
    path = write(tmp_path / "eu.csv", "a;b;target\n1;2;0\n3;4;1\n5;6;0\n")
    table = read_table(path)
    assert table.columns == ["a", "b", "target"]
    assert table.data["b"] == ["2", "4", "6"]


def test_a_trailing_delimiter_on_every_line_adds_no_column(tmp_path):
    table = read_table(write(tmp_path / "excel.csv", "a,b,target,\n1,2,0,\n3,4,1,\n5,6,0\n"))
    assert table.columns == ["a", "b", "target"] and table.n_rows == 3
    with pytest.raises(DensekitError, match="row 1 .* has 4 fields"):
        read_table(write(tmp_path / "extra.csv", "a,b,target\n1,2,0,7\n"))


def test_true_false_cells_in_any_case_are_one_numeric_feature(tmp_path):
    rows = ["true", "false", "True", "FALSE"] * 3
    text = "active,x,y\n" + "".join(f"{a},{i},{i % 2}\n" for i, a in enumerate(rows))
    prep = TabularPreprocessor(target="y").fit(read_table(write(tmp_path / "b.csv", text)))
    assert prep.feature_names == ["active", "x"]
    column = prep.transform(read_table(tmp_path / "b.csv"))[:, 0]
    assert column[0] == column[2] > column[1] == column[3]


def test_cells_near_the_float64_limit_are_standardized_not_turned_into_nan(tmp_path):
    text = "a,b,y\n1e308,2,0\n-1.5e308,4,1\n5,6,0\n1e200,8,1\n"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy overflow warnings either
        table = read_table(write(tmp_path / "huge.csv", text))
        x = TabularPreprocessor(target="y").fit(table).transform(table)
    assert np.isfinite(x).all()
    assert x[0, 0] > x[2, 0] > x[1, 0]


@pytest.fixture
def id_csv(tmp_path):
    rng = np.random.default_rng(0)
    lines = ["id,name,x,label"]
    for i in range(40):
        x = rng.normal()
        lines.append(f"{1000 + i},user-{i:03d},{x:.3f},{'yes' if x > 0 else 'no'}")
    return write(tmp_path / "ids.csv", "\n".join(lines) + "\n")


def test_train_warns_about_id_columns_and_drop_leaves_them_out(id_csv, tmp_path, capsys):
    model = tmp_path / "m.safetensors"
    args = ["train", str(id_csv), "--target", "label", "-o", str(model), "--epochs", "1"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "'id'" in err and "'name'" in err and "--drop" in err and "'x'" not in err
    assert main([*args, "--drop", "id,name"]) == 0
    assert "warning" not in capsys.readouterr().err
    assert dk.load_model(model).metadata["preprocessing"]["features"][0]["name"] == "x"
    # predict still takes the raw rows, ID columns and all
    assert main(["predict", str(model), str(id_csv)]) == 0
    assert capsys.readouterr().out.splitlines()[1] in ("yes", "no")


def test_drop_of_an_unknown_column_names_the_columns(id_csv, capsys):
    args = ["train", str(id_csv), "--target", "label", "-o", "m.safetensors", "--drop", "ID"]
    assert main(args) == 2
    err = one_line_error(capsys)
    assert "'ID'" in err and "did you mean 'id'" in err


def test_missing_cells_at_predict_do_not_suggest_a_train_only_option(iris_csv, tmp_path, capsys):
    strict = tmp_path / "strict.safetensors"
    train = ["train", str(iris_csv), "--target", "target", "-o", str(strict), "-q"]
    assert main([*train, "--fill-missing", "none", "--epochs", "1"]) == 0
    header = "sepal length (cm),sepal width (cm),petal length (cm),petal width (cm)"
    path = write(tmp_path / "hole.csv", f"{header}\n5.1,,1.4,0.2\n")
    assert main(["predict", str(strict), str(path)]) == 2
    err = one_line_error(capsys)
    assert "'sepal width (cm)': 1 of 1" in err and "trained with --fill-missing none" in err


def test_a_validation_split_with_no_rows_to_hold_out_is_refused_not_nan(tmp_path, capsys):
    path = write(tmp_path / "two.csv", "a,b,label\n1,2,yes\n3,4,no\n")
    args = ["train", str(path), "--target", "label", "-o", str(tmp_path / "m.safetensors")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main([*args, "-q"]) == 2
    assert "validation_split=0" in one_line_error(capsys)
    assert main([*args, "-q", "--validation-split", "0"]) == 0


# --- the Python API -----------------------------------------------------------------


@pytest.fixture(scope="module")
def model():
    m = dk.Sequential([dk.layers.Dense(4, activation="relu", input_dim=4), dk.layers.Dense(3)])
    m.compile(optimizer="adam", loss=dk.losses.SparseCategoricalCrossentropy(from_logits=True))
    return m


def test_a_scipy_sparse_matrix_is_refused_with_the_fix(model):
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(DensekitError, match=r"sparse matrix.*toarray\(\)"):
        model.predict(sparse.csr_matrix(np.eye(4)))


def test_a_dataframe_with_a_text_column_names_that_column(model):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [1.0], "b": [2.0], "c": [3.0], "colour": ["red"]})
    with pytest.raises(DensekitError, match=r"non-numeric columns: \['colour'\]"):
        model.predict(frame)


def test_pandas_nullable_integer_columns_are_numbers(model):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(np.arange(8).reshape(2, 4)).astype("Int64")
    expected = model.predict(np.arange(8).reshape(2, 4))
    np.testing.assert_array_equal(model.predict(frame), expected)
    with pytest.raises(DensekitError, match="NaN"):
        model.predict(frame.mask(frame > 6))


def test_a_finite_value_too_large_for_float32_is_not_called_nan(model):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no numpy overflow warning on the way
        with pytest.raises(DensekitError, match="too large for float32") as error:
            model.predict(np.full((1, 4), 1e39))
    assert "NaN" not in str(error.value)


def test_printing_a_gradient_check_shows_the_verdict_not_every_gradient():
    m = dk.Sequential([dk.layers.Dense(30, activation="tanh", input_dim=20), dk.layers.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).normal(size=(4, 20))
    result = dk.check_gradients(m, x, x[:, :1])
    assert result.passed
    assert len(repr(result)) < 200 and "passed=True" in repr(result)


def test_a_foreign_safetensors_file_says_what_it_lacks(tmp_path):
    numpy_safetensors = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "foreign.safetensors"
    numpy_safetensors.save_file({"weight": np.ones((2, 2), np.float32)}, str(path))
    with pytest.raises(DensekitError) as error:
        dk.load_model(path)
    assert "no 'format' entry" in str(error.value) and "None" not in str(error.value)


def test_a_cli_model_file_is_plain_safetensors_with_readable_metadata(iris_model):
    safetensors = pytest.importorskip("safetensors")
    with safetensors.safe_open(str(iris_model), "np") as file:
        names = set(file.keys())
        metadata = file.metadata()
        kernel = file.get_tensor("dense/kernel")
    assert {"dense/kernel", "dense/bias", "dense_2/kernel"} <= names
    assert kernel.shape == (4, 64) and kernel.dtype == np.float32
    preprocessing = json.loads(metadata["metadata"])["preprocessing"]
    assert preprocessing["target_encoding"]["classes"] == ["setosa", "versicolor", "virginica"]


def test_freezing_a_layer_the_keras_way_says_it_is_not_supported():
    layer = dk.layers.Dense(3, name="hidden")
    assert layer.trainable is True
    with pytest.raises(DensekitError, match="'hidden'.*not supported"):
        layer.trainable = False  # before: accepted, and fit kept training the layer
    layer.trainable = True


def test_sparse_cross_entropy_on_a_single_output_says_how_to_end_the_model():
    x, y = sklearn_datasets.load_breast_cancer(return_X_y=True)
    m = dk.Sequential([dk.layers.Dense(1, activation="sigmoid", input_dim=30)])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(DensekitError, match="one output per class.*binary_crossentropy"):
        m.fit(x, y, epochs=1, verbose=0)


def test_optional_modules_are_attributes_imported_on_first_use():
    import subprocess
    import sys

    code = (
        "import sys, densekit as dk; heavy = ('mpi4py', 'dask', 'torch', 'onnx', 'optuna'); "
        "assert not [m for m in heavy if m in sys.modules]; "
        "assert callable(dk.distributed.fit) and callable(dk.dask.fit)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
