"""The whole pipeline in ONNX: raw rows of real tables through onnxruntime equal `densekit predict`."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from densekit.cli import main
from densekit.preprocessing import NumericColumn, TabularPreprocessor, TextColumn, as_column
from densekit.preprocessing.encoders import numeric_values
from densekit.serialization.model_file import load_model
from densekit.tabular import read_table
from densekit.tabular.onnx_pipeline import export_pipeline

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
penguins = pytest.importorskip("palmerpenguins")
PENGUINS = Path(penguins.__file__).parent / "data"

# float32 network, summation order of onnxruntime's Gemm vs BLAS: a few float32 ulps per
# layer, far below 1e-5; the preprocessing runs in float64 in both, so it adds nothing.
RTOL = 1e-5


def session(path):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_inputs(preprocessor, table) -> dict:
    """One (n, 1) array per raw column, as the exported graph takes them."""
    feeds = {}
    for encoder in preprocessor.columns_:
        column, _ = as_column(table.data[encoder.name])
        if isinstance(encoder, NumericColumn):
            feeds[encoder.name] = numeric_values(encoder.name, column)[:, None]
        else:
            if not isinstance(column, TextColumn):  # numbers where text was trained
                column = TextColumn.from_values(np.asarray(column).astype(str))
            cells = ["" if cell is None else cell for cell in column.tolist()]
            feeds[encoder.name] = np.array(cells, dtype=object)[:, None]
    return feeds


def predict_csv(model, data, tmp_path, *extra) -> list[list[str]]:
    out = tmp_path / "predictions.csv"
    out.unlink(missing_ok=True)
    assert main(["predict", str(model), str(data), "-o", str(out), "-q", *extra]) == 0
    with open(out, newline="") as file:
        return list(csv.reader(file))[1:]


def train_and_export(tmp_path, data, target, *options):
    model, graph = tmp_path / "m.safetensors", tmp_path / "m.onnx"
    args = ["train", str(data), "--target", target, "-o", str(model), "-q", "--epochs", "3"]
    assert main([*args, *options]) == 0
    assert main(["export", str(model), str(graph), "-q"]) == 0
    return model, graph


@pytest.fixture
def penguins_csv(tmp_path):
    return shutil.copy(PENGUINS / "penguins.csv", tmp_path / "penguins.csv")


def test_penguin_species_labels_and_probabilities_equal_predict(penguins_csv, tmp_path):
    model, graph = train_and_export(tmp_path, penguins_csv, "species")
    stored = TabularPreprocessor.from_config(load_model(model).metadata["preprocessing"])
    table = read_table(penguins_csv)
    labels, probabilities = session(graph).run(None, onnx_inputs(stored, table))
    rows = predict_csv(model, penguins_csv, tmp_path, "--proba")
    assert labels.tolist() == [row[0] for row in rows]
    expected = np.array([[float(v) for v in row[1:]] for row in rows])
    np.testing.assert_allclose(probabilities, expected, rtol=RTOL, atol=RTOL)


def test_penguin_body_mass_in_grams_equals_predict(tmp_path):
    lines = (PENGUINS / "penguins.csv").read_text().splitlines()
    kept = [lines[0]] + [line for line in lines[1:] if line.split(",")[5] != "NA"]
    data = tmp_path / "mass.csv"
    data.write_text("\n".join(kept) + "\n")
    model, graph = train_and_export(tmp_path, data, "body_mass_g")
    stored = TabularPreprocessor.from_config(load_model(model).metadata["preprocessing"])
    (prediction,) = session(graph).run(None, onnx_inputs(stored, read_table(data)))
    expected = np.array([float(row[0]) for row in predict_csv(model, data, tmp_path)])
    assert 2000 < expected.mean() < 7000  # grams, not standardized units
    np.testing.assert_allclose(prediction, expected, rtol=RTOL, atol=RTOL * stored.target_std)


def test_raw_penguins_with_robust_scaling_and_codes_equal_the_python_pipeline(tmp_path):
    """Free text, dates as text, long names: the library path with every encoding option."""
    data = tmp_path / "raw.csv"
    shutil.copy(PENGUINS / "penguins-raw.csv", data)
    table = read_table(data)
    table.data = {k: v for k, v in table.data.items() if k not in ("studyName", "Sample Number")}
    table.columns = list(table.data)
    prep = TabularPreprocessor(
        "Culmen Length (mm)", scaling="robust", categorical="auto", max_onehot=8
    )
    keep = ~np.isnan(as_column(table.data["Culmen Length (mm)"])[0])
    table.data = {
        k: (v.take(keep) if isinstance(v, TextColumn) else v[keep]) for k, v in table.data.items()
    }
    table.n_rows = int(keep.sum())
    prep.fit(table)
    assert prep.features.embedding_columns()  # some columns are coded, not one-hot
    from densekit.cli.train import build_model

    x, y = prep.transform(table), prep.encode_target(table)
    network = build_model(x.shape[1], 1, "mean_squared_error", hidden=[16])
    network.compile(optimizer="adam", loss="mean_squared_error")
    network.fit(x, y, epochs=2, verbose=0)
    export_pipeline(network, prep, tmp_path / "raw.onnx")
    (prediction,) = session(tmp_path / "raw.onnx").run(None, onnx_inputs(prep, table))
    expected = prep.decode_target(network.predict(x))
    np.testing.assert_allclose(prediction, expected, rtol=RTOL, atol=RTOL * prep.target_std)


def test_breast_cancer_binary_sigmoid_labels_equal_predict(tmp_path):
    datasets = pytest.importorskip("sklearn.datasets")
    frame = datasets.load_breast_cancer(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "malignant", 1: "benign"})
    data = tmp_path / "cancer.csv"
    frame.to_csv(data, index=False)
    model, graph = train_and_export(tmp_path, data, "target")
    stored = TabularPreprocessor.from_config(load_model(model).metadata["preprocessing"])
    labels, probabilities = session(graph).run(None, onnx_inputs(stored, read_table(data)))
    rows = predict_csv(model, data, tmp_path, "--proba")
    assert labels.tolist() == [row[0] for row in rows]
    expected = np.array([[float(v) for v in row[1:]] for row in rows])
    np.testing.assert_allclose(probabilities, expected, rtol=RTOL, atol=RTOL)


def test_the_graph_names_its_inputs_and_carries_metadata(penguins_csv, tmp_path):
    _, graph = train_and_export(tmp_path, penguins_csv, "species")
    proto = onnx.load(graph)
    inputs = {i.name: i.type.tensor_type.elem_type for i in proto.graph.input}
    assert inputs["island"] == onnx.TensorProto.STRING
    assert inputs["bill_length_mm"] == onnx.TensorProto.DOUBLE
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["classes"]) == ["Adelie", "Chinstrap", "Gentoo"]
    assert "island=Biscoe" in json.loads(meta["feature_names"])
    assert meta["densekit_version"] and meta["task"] == "classification"


def test_unseen_and_missing_cells_encode_as_predict_does(penguins_csv, tmp_path):
    model, graph = train_and_export(tmp_path, penguins_csv, "species")
    new = tmp_path / "new.csv"
    header = (PENGUINS / "penguins.csv").read_text().splitlines()[0]
    new.write_text(
        header + "\nAdelie,Atlantis,,17.0,190,,,2008\nGentoo,Biscoe,45.0,NA,210,5000,male,2009\n"
    )
    stored = TabularPreprocessor.from_config(load_model(model).metadata["preprocessing"])
    labels, probabilities = session(graph).run(None, onnx_inputs(stored, read_table(new)))
    rows = predict_csv(model, new, tmp_path, "--proba")
    assert labels.tolist() == [row[0] for row in rows]
    expected = np.array([[float(v) for v in row[1:]] for row in rows])
    np.testing.assert_allclose(probabilities, expected, rtol=RTOL, atol=RTOL)


def test_int8_pipeline_runs_the_quantized_network_inside(penguins_csv, tmp_path):
    from densekit.quantize import int8

    model, _ = train_and_export(tmp_path, penguins_csv, "species")
    graph = tmp_path / "int8.onnx"
    assert main(["export", str(model), str(graph), "--int8", str(penguins_csv), "-q"]) == 0
    loaded = load_model(model)
    stored = TabularPreprocessor.from_config(loaded.metadata["preprocessing"])
    table = read_table(penguins_csv)
    x = stored.transform(table)
    quantized = int8(loaded, x[:1000])
    labels, probabilities = session(graph).run(None, onnx_inputs(stored, table))
    kinds = {node.op_type for node in onnx.load(graph).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "LabelEncoder"} <= kinds
    # int8 arithmetic in onnxruntime vs densekit's: the same bound as tests/test_quantize.py
    np.testing.assert_allclose(probabilities, quantized.predict(x), atol=2e-3)
    agree = np.mean(labels == np.array(stored.decode_target(quantized.predict(x)), dtype=object))
    assert agree >= 0.99


def test_network_only_keeps_the_bare_network(penguins_csv, tmp_path):
    model, _ = train_and_export(tmp_path, penguins_csv, "species")
    graph = tmp_path / "bare.onnx"
    assert main(["export", str(model), str(graph), "--network-only", "-q"]) == 0
    assert [i.name for i in onnx.load(graph).graph.input] == ["input"]


def test_a_model_file_of_the_first_tabular_format_exports_its_pipeline(tmp_path):
    """Written before densekit.preprocessing: 'NA' and '?' in text columns count as missing."""
    old = Path(__file__).parent / "data" / "tabular_v1"
    graph = tmp_path / "old.onnx"
    assert main(["export", str(old / "classifier.safetensors"), str(graph), "-q"]) == 0
    stored = TabularPreprocessor.from_config(
        load_model(old / "classifier.safetensors").metadata["preprocessing"]
    )
    labels, probabilities = session(graph).run(
        None, onnx_inputs(stored, read_table(old / "people_new.csv"))
    )
    with open(old / "classifier_predictions.csv", newline="") as file:
        rows = list(csv.reader(file))[1:]
    assert labels.tolist() == [row[0] for row in rows]
    expected = np.array([[float(v) for v in row[1:]] for row in rows])
    np.testing.assert_allclose(probabilities, expected, rtol=RTOL, atol=RTOL)


def test_huge_cells_clip_to_three_as_in_python(tmp_path):
    """Robust scaling's smooth clip bounds ±1e200 at ±3 in the graph too (no overflow to NaN)."""
    from densekit.cli.train import build_model
    from densekit.tabular import Table

    rng = np.random.default_rng(0)
    x_cells = rng.standard_normal(60)
    target = 2 * x_cells + rng.standard_normal(60)
    table = Table(["x", "y"], {"x": x_cells, "y": target}, 60)
    prep = TabularPreprocessor("y", scaling="robust").fit(table)
    network = build_model(1, 1, "mean_squared_error", hidden=[4])
    network.compile(optimizer="adam", loss="mean_squared_error")
    huge = Table(["x", "y"], {"x": np.array([-1e200, 1e200, 0.5]), "y": np.zeros(3)}, 3)
    x = prep.transform(huge)
    np.testing.assert_allclose(np.abs(x[:2, 0]), 3.0, rtol=1e-12)
    export_pipeline(network, prep, tmp_path / "huge.onnx")
    (prediction,) = session(tmp_path / "huge.onnx").run(None, onnx_inputs(prep, huge))
    expected = prep.decode_target(network.predict(x))
    np.testing.assert_allclose(prediction, expected, rtol=RTOL, atol=RTOL * prep.target_std)
