"""Model files: exact round trips, real safetensors compatibility, and every kind of bad file."""

from __future__ import annotations

import json
import os
import struct

import numpy as np
import pytest
from sklearn.datasets import load_iris

import densekit as dk
from densekit import activations
from densekit.errors import ArgumentTypeError, InputError, ModelFileError, NotBuiltError
from densekit.serialization import model_file as io

safetensors_numpy = pytest.importorskip("safetensors.numpy")
from safetensors import safe_open  # noqa: E402


def _iris():
    x, y = load_iris(return_X_y=True)
    return (x - x.mean(axis=0)) / x.std(axis=0), y


def _every_activation_model(optimizer=None):
    layers = [dk.layers.Dense(5, activations.NAMES[0], input_dim=4)]
    layers += [dk.layers.Dense(5, name) for name in activations.NAMES[1:]]
    layers += [
        dk.layers.Dense(
            5, activations.LeakyReLU(0.05), kernel_regularizer=dk.regularizers.l2(1e-3)
        ),
        dk.layers.Dropout(0.1),
        dk.layers.Dense(3, "softmax", use_bias=False, kernel_initializer="he_normal"),
    ]
    model = dk.Sequential(layers, seed=7, name="every_activation")
    model.compile(
        optimizer or dk.optimizers.Adam(0.01, clipnorm=1.0),
        "sparse_categorical_crossentropy",
        ["accuracy"],
    )
    model.metadata = {"author": "tests", "classes": ["setosa", "versicolor", "virginica"]}
    return model


@pytest.fixture
def trained(tmp_path):
    x, y = _iris()
    model = _every_activation_model()
    model.fit(x, y, epochs=2, batch_size=32, verbose=0, seed=0)
    path = tmp_path / "model.safetensors"
    model.save(path)
    return model, path


def test_round_trip_is_exact(trained):
    model, path = trained
    loaded = dk.load_model(path)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert loaded.get_config() == model.get_config()
    assert loaded.compile_config() == model.compile_config()
    assert loaded.metadata == model.metadata
    assert loaded.optimizer.iterations == model.optimizer.iterations
    assert set(loaded.optimizer.state) == set(model.optimizer.state) == {"m", "v"}
    for slot, array in model.optimizer.state.items():
        np.testing.assert_array_equal(loaded.optimizer.state[slot], array)


def test_loaded_model_predicts_identically(trained):
    model, path = trained
    x, _ = _iris()
    np.testing.assert_array_equal(dk.load_model(path).predict(x), model.predict(x))


def test_loaded_model_continues_training_identically(trained):
    model, path = trained
    loaded = dk.load_model(path)
    x, y = _iris()
    model.fit(x, y, epochs=2, batch_size=32, verbose=0, seed=1)
    loaded.fit(x, y, epochs=2, batch_size=32, verbose=0, seed=1)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "optimizer",
    [
        dk.optimizers.SGD(0.1, momentum=0.9),
        dk.optimizers.RMSprop(centered=True, momentum=0.5),
        dk.optimizers.Adagrad(),
        dk.optimizers.AdamW(dk.schedules.CosineDecay(0.01, decay_steps=20)),
    ],
    ids=["sgd", "rmsprop", "adagrad", "adamw-cosine"],
)
def test_every_optimizer_state_round_trips(optimizer, tmp_path):
    x, y = _iris()
    model = _every_activation_model(optimizer)
    model.fit(x, y, epochs=1, verbose=0, seed=0)
    model.save(tmp_path / "m.safetensors")
    loaded = dk.load_model(tmp_path / "m.safetensors")
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    for slot, array in model.optimizer.state.items():
        np.testing.assert_array_equal(loaded.optimizer.state[slot], array)
    model.fit(x, y, epochs=1, verbose=0, seed=1)
    loaded.fit(x, y, epochs=1, verbose=0, seed=1)
    np.testing.assert_array_equal(model.get_weights()[0], loaded.get_weights()[0])


def test_float64_model_round_trips_as_float64(tmp_path):
    model = dk.Sequential([dk.layers.Dense(2, input_dim=3)], dtype="float64", seed=0)
    model.save(tmp_path / "m.safetensors")
    loaded = dk.load_model(tmp_path / "m.safetensors")
    assert loaded.dtype == np.float64 and not loaded.compiled
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])


def test_without_optimizer_state(tmp_path):
    model = _every_activation_model()
    x, y = _iris()
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.safetensors", include_optimizer=False)
    loaded = dk.load_model(tmp_path / "m.safetensors")
    assert loaded.compiled and loaded.optimizer.iterations == 0
    assert all(not array.any() for array in loaded.optimizer.state.values())


def test_saving_an_unbuilt_model_raises(tmp_path):

    with pytest.raises(NotBuiltError):
        dk.Sequential([dk.layers.Dense(2)]).save(tmp_path / "m.safetensors")


# --- the real safetensors library ------------------------------------------------------


def test_file_is_readable_by_the_safetensors_library(trained):
    model, path = trained
    tensors = safetensors_numpy.load_file(str(path))
    names = model.weight_names()
    for name, weight in zip(names, model.get_weights()):
        np.testing.assert_array_equal(tensors[name], weight)
    assert {"optimizer/m", "optimizer/v"} <= set(tensors)
    with safe_open(str(path), framework="numpy") as handle:
        metadata = handle.metadata()
    assert metadata["format"] == "densekit"
    assert json.loads(metadata["model_config"]) == model.get_config()
    assert json.loads(metadata["metadata"]) == model.metadata


def test_a_foreign_safetensors_file_is_refused_as_not_densekit(tmp_path):
    path = tmp_path / "foreign.safetensors"
    safetensors_numpy.save_file({"weight": np.ones((2, 2), dtype=np.float32)}, str(path))
    with pytest.raises(ModelFileError, match="not a densekit model"):
        dk.load_model(path)


def test_a_file_written_by_safetensors_with_densekit_tensors_loads(trained, tmp_path):
    # the container is standard: the library's own writer gives a file we read back
    model, path = trained
    tensors = safetensors_numpy.load_file(str(path))
    with safe_open(str(path), framework="numpy") as handle:
        metadata = handle.metadata()
    again = tmp_path / "again.safetensors"
    safetensors_numpy.save_file(tensors, str(again), metadata=metadata)
    x, _ = _iris()
    np.testing.assert_array_equal(dk.load_model(again).predict(x), model.predict(x))


# --- bad files ------------------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.0, 0.001, 0.01, 0.3, 0.6, 0.999])
def test_truncated_file_is_refused(trained, tmp_path, fraction):
    _, path = trained
    raw = path.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(raw[: int(len(raw) * fraction)])
    with pytest.raises(ModelFileError, match="truncated|too short|not a model file"):
        dk.load_model(cut)


def test_one_byte_short_is_refused(trained, tmp_path):
    _, path = trained
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ModelFileError, match="truncated"):
        dk.load_model(cut)


def test_trailing_bytes_are_refused(trained, tmp_path):
    _, path = trained
    longer = tmp_path / "longer.safetensors"
    longer.write_bytes(path.read_bytes() + b"\0" * 8)
    with pytest.raises(ModelFileError, match="trailing bytes"):
        dk.load_model(longer)


@pytest.mark.parametrize("position", [8, 9, 20, 40])
def test_corrupted_header_bytes_are_refused(trained, tmp_path, position):
    _, path = trained
    raw = bytearray(path.read_bytes())
    raw[position] = 0xFF  # not valid UTF-8 anywhere in a JSON header
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="corrupted header"):
        dk.load_model(bad)


def test_random_bytes_are_refused(tmp_path):
    bad = tmp_path / "random.safetensors"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ModelFileError):
        dk.load_model(bad)


def test_empty_file_is_refused(tmp_path):
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    with pytest.raises(ModelFileError, match="0 bytes is too short"):
        dk.load_model(empty)


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(ModelFileError, match="no model file at"):
        dk.load_model(tmp_path / "nowhere.safetensors")


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(ModelFileError, match="no model file at"):
        dk.load_model(tmp_path)


def test_header_claiming_a_huge_size_is_refused(tmp_path):
    bad = tmp_path / "huge.safetensors"
    bad.write_bytes(struct.pack("<Q", 2**62) + b"{}")
    with pytest.raises(ModelFileError, match="header (says|claims)"):
        dk.load_model(bad)


def test_header_that_is_not_an_object_is_refused(tmp_path):
    bad = tmp_path / "list.safetensors"
    bad.write_bytes(struct.pack("<Q", 2) + b"[]")
    with pytest.raises(ModelFileError, match="not a JSON object"):
        dk.load_model(bad)


def _rewrite(path, tmp_path, change_config=None, change_metadata=None, tensors=None):
    """Re-save ``path`` after editing its model config or metadata (a tampered file)."""
    loaded_tensors, metadata = io.read_safetensors(path)
    if change_config is not None:
        config = json.loads(metadata["model_config"])
        change_config(config)
        metadata["model_config"] = json.dumps(config)
    if change_metadata is not None:
        change_metadata(metadata)
    out = tmp_path / "tampered.safetensors"
    io.write_safetensors(out, tensors if tensors is not None else loaded_tensors, metadata)
    return out


def _set_layer(index, key, value):
    def change(config):
        config["layers"][index]["config"][key] = value

    return change


TAMPERED_CONFIGS = [
    (
        "layer-type",
        lambda c: c["layers"][0].update(class_name="os.system"),
        "unknown layer type 'os.system'",
    ),
    ("activation", _set_layer(1, "activation", {"name": "evil"}), "unknown activation 'evil'"),
    ("units", _set_layer(0, "units", -5), "units must be a positive integer, got -5"),
    ("units-type", _set_layer(0, "units", "5"), "units must be a positive integer"),
    ("units-huge", _set_layer(0, "units", 10**12), "needs more weights than the file holds"),
    ("units-more", _set_layer(0, "units", 6), "kernel must have shape \\(4, 6\\), got \\(4, 5\\)"),
    ("initializer", _set_layer(0, "kernel_initializer", {"name": "x"}), "unknown initializer"),
    ("extra-key", _set_layer(0, "__class__", "subprocess.Popen"), "__class__"),
    (
        "pickle",
        lambda c: c["layers"].append({"class_name": "Dense", "config": {"units": "cos\nsystem"}}),
        "units must be a positive integer",
    ),
    ("no-layers", lambda c: c.pop("layers"), "invalid model configuration"),
    ("dtype", lambda c: c.update(dtype="int64"), "dtype must be 'float32' or 'float64'"),
    (
        "input_dim",
        lambda c: c.update(input_dim=None),
        "input_dim=None, but its first layer takes 4",
    ),
    ("input_dim-neg", lambda c: c.update(input_dim=-1), "input_dim=-1"),
    ("entry", lambda c: c["layers"].__setitem__(0, "Dense"), "layer entry must have"),
]


@pytest.mark.parametrize(
    ("case", "change", "message"), TAMPERED_CONFIGS, ids=[c[0] for c in TAMPERED_CONFIGS]
)
def test_tampered_config_is_refused(trained, tmp_path, case, change, message):
    _, path = trained
    with pytest.raises(ModelFileError, match=message):
        dk.load_model(_rewrite(path, tmp_path, change_config=change))


def test_wrong_weight_shape_is_refused(trained, tmp_path):
    model, path = trained
    tensors, _ = io.read_safetensors(path)
    name = model.weight_names()[0]
    tensors[name] = tensors[name].T.copy()
    with pytest.raises(ModelFileError, match=f"{name} must have shape"):
        dk.load_model(_rewrite(path, tmp_path, tensors=tensors))


def test_missing_weight_is_refused(trained, tmp_path):
    model, path = trained
    tensors, _ = io.read_safetensors(path)
    del tensors[model.weight_names()[-1]]
    with pytest.raises(ModelFileError, match="lacks weights"):
        dk.load_model(_rewrite(path, tmp_path, tensors=tensors))


def test_non_finite_weight_is_refused(trained, tmp_path):
    model, path = trained
    tensors, _ = io.read_safetensors(path)
    tensors[model.weight_names()[0]][0, 0] = np.nan
    with pytest.raises(ModelFileError, match="finite"):
        dk.load_model(_rewrite(path, tmp_path, tensors=tensors))


TAMPERED_METADATA = [
    ("version", lambda m: m.update(format_version="99"), "format version '99'"),
    ("config-json", lambda m: m.update(model_config="{not json"), "model_config is not valid JSON"),
    ("config-missing", lambda m: m.pop("model_config"), "lacks the 'model_config' entry"),
    ("config-list", lambda m: m.update(model_config="[1, 2]"), "invalid model configuration"),
    ("metadata", lambda m: m.update(metadata="[1]"), "metadata must be a JSON object"),
    ("loss", lambda m: m.update(compile_config='{"optimizer": "adam", "loss": "nope"}'), "loss"),
    ("compile-json", lambda m: m.update(compile_config="{"), "compile_config is not valid JSON"),
    ("iterations", lambda m: m.update(optimizer_iterations="many"), "not an integer"),
]


@pytest.mark.parametrize(
    ("case", "change", "message"), TAMPERED_METADATA, ids=[c[0] for c in TAMPERED_METADATA]
)
def test_tampered_metadata_is_refused(trained, tmp_path, case, change, message):
    _, path = trained
    with pytest.raises(ModelFileError, match=message):
        dk.load_model(_rewrite(path, tmp_path, change_metadata=change))


def test_optimizer_state_of_the_wrong_shape_is_refused(trained, tmp_path):
    _, path = trained
    tensors, _ = io.read_safetensors(path)
    tensors["optimizer/m"] = tensors["optimizer/m"][:-1].copy()
    with pytest.raises(ModelFileError, match="optimizer state 'm' has the wrong shape"):
        dk.load_model(_rewrite(path, tmp_path, tensors=tensors))


def test_load_never_executes_code(trained, tmp_path):
    # a pickle-style payload anywhere in the file is just data that fails validation
    _, path = trained
    marker = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {marker}')"

    def change(config):
        config["layers"][0]["config"]["activation"] = {"name": payload}
        config["__reduce__"] = payload

    with pytest.raises(ModelFileError):
        dk.load_model(_rewrite(path, tmp_path, change_config=change))
    assert not marker.exists()


# --- atomic writes -------------------------------------------------------------------------


def _only_the_model_file(folder, name="model.safetensors"):
    return sorted(os.listdir(folder)) == [name]


def test_unserializable_metadata_leaves_the_old_file_intact(trained):
    model, path = trained
    before = path.read_bytes()
    model.metadata = {"callback": print}
    with pytest.raises(ArgumentTypeError, match="metadata cannot be saved as JSON"):
        model.save(path)
    assert path.read_bytes() == before
    assert _only_the_model_file(path.parent)


def test_a_failed_rename_leaves_the_old_file_intact_and_no_temp_file(trained, monkeypatch):
    model, path = trained
    before = path.read_bytes()

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    x, y = _iris()
    model.fit(x, y, epochs=1, verbose=0)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before
    assert _only_the_model_file(path.parent)


def test_saving_over_an_existing_file_replaces_it(trained):
    model, path = trained
    x, y = _iris()
    model.fit(x, y, epochs=1, verbose=0)
    model.save(path)
    np.testing.assert_array_equal(dk.load_model(path).get_weights()[0], model.get_weights()[0])
    assert _only_the_model_file(path.parent)


def test_saving_into_a_missing_folder_is_refused(tmp_path):

    model = dk.Sequential([dk.layers.Dense(1, input_dim=2)])
    with pytest.raises(InputError, match="does not exist"):
        model.save(tmp_path / "missing" / "m.safetensors")


def test_deeply_nested_header_is_refused(tmp_path):
    header = b"[" * 100_000
    bad = tmp_path / "nested.safetensors"
    bad.write_bytes(struct.pack("<Q", len(header)) + header)
    with pytest.raises(ModelFileError, match="corrupted header"):
        dk.load_model(bad)


def _raw_file(tmp_path, header: dict, data: bytes = b"") -> os.PathLike:
    encoded = json.dumps(header).encode()
    path = tmp_path / "raw.safetensors"
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + data)
    return path


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 16]}, "needs"),
        ({"dtype": "F32", "shape": [2**31, 2**31, 4], "data_offsets": [0, 0]}, "needs"),
        ({"dtype": "F32", "shape": [-1, 4], "data_offsets": [0, 16]}, "invalid shape"),
        ({"dtype": "F32", "shape": [2, 2], "data_offsets": [8, 0]}, "invalid data offsets"),
        ({"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 64]}, "truncated"),
        ({"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 8]}, "unsupported dtype"),
        ({"dtype": "F32", "shape": [4]}, "malformed header entry"),
    ],
)
def test_malformed_tensor_entries_are_refused(tmp_path, entry, message):
    path = _raw_file(tmp_path, {"w": entry}, b"\0" * 16)
    with pytest.raises(ModelFileError, match=message):
        dk.load_model(path)


def test_overlapping_tensors_are_refused(tmp_path):
    entry = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
    path = _raw_file(tmp_path, {"a": entry, "b": dict(entry)}, b"\0" * 8)
    with pytest.raises(ModelFileError, match="overlap or leave gaps"):
        dk.load_model(path)


def test_a_model_built_by_fit_round_trips(tmp_path):
    x, y = _iris()
    model = dk.Sequential([dk.layers.Dropout(0.1), dk.layers.Dense(3, "softmax")], seed=0)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.safetensors")
    loaded = dk.load_model(tmp_path / "m.safetensors", compile=False)
    assert loaded.input_dim == 4 and not loaded.compiled
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_a_layer_named_optimizer_does_not_clash_with_optimizer_state(tmp_path):
    x, y = _iris()
    model = dk.Sequential([dk.layers.Dense(3, "softmax", input_dim=4, name="optimizer")], seed=0)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.safetensors")
    loaded = dk.load_model(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(loaded.optimizer.state["m"], model.optimizer.state["m"])
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])


@pytest.mark.parametrize("name", ["model.h5", "model.keras", "model.pt", "model.onnx"])
def test_save_refuses_another_formats_suffix(tmp_path, name):
    model = dk.Sequential([dk.layers.Dense(1, input_dim=2)])
    with pytest.raises(dk.errors.InputError, match=r"\.safetensors"):
        model.save(tmp_path / name)
    assert not (tmp_path / name).exists()


def test_a_quantized_model_file_is_read_once(tmp_path, monkeypatch):
    x, y = _iris()
    model = dk.Sequential([dk.layers.Dense(8, "relu", input_dim=4), dk.layers.Dense(3)], seed=0)
    path = tmp_path / "int8.safetensors"
    dk.quantize.save(dk.quantize.int8(model, x), path)
    reads = []
    real_read = io.read_safetensors

    def counting_read(file):
        reads.append(file)
        return real_read(file)

    monkeypatch.setattr(io, "read_safetensors", counting_read)
    monkeypatch.setattr(dk.quantize.files, "read_safetensors", counting_read)
    loaded = dk.load_model(path)
    assert isinstance(loaded, dk.quantize.QuantizedModel) and reads == [path]
    np.testing.assert_array_equal(loaded.predict(x), dk.quantize.load(path).predict(x))


def test_formats_and_load_extensions_are_known_by_name():
    assert {"densekit", "densekit-quantized"} <= set(io.FORMATS.names)
    assert io.BUILDERS.get(io.FORMAT) == dk.Sequential.from_config
    assert io.EXTENSIONS.get("pruning") is dk.prune.reattach


def test_compile_arguments_are_where_serialization_and_the_model_find_them():
    from densekit import model

    assert model.compile_arguments is io.compile_arguments
    config = {"optimizer": {"name": "sgd", "learning_rate": 0.1}, "loss": "mse"}
    arguments = io.compile_arguments(config)
    assert isinstance(arguments["optimizer"], dk.optimizers.SGD) and arguments["metrics"] == []
