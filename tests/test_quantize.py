"""Quantization: int8 error bounds, files, the accuracy guard, QAT and the ONNX QDQ export."""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits

import densekit as dk
from densekit import quantize
from densekit.errors import ArgumentError, ArgumentTypeError, InputError


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return (x / 16.0).astype(np.float32), y


@pytest.fixture(scope="module")
def trained(digits):
    x, y = digits
    model = dk.Sequential(
        [
            dk.layers.Dense(128, activation="relu", input_dim=64),
            dk.layers.Dropout(0.1),
            dk.layers.Dense(128, activation="relu"),
            dk.layers.Dense(10, activation="softmax"),
        ],
        seed=0,
    )
    model.compile(dk.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x[:1400], y[:1400], epochs=8, verbose=0, seed=0)
    return model


@pytest.mark.parametrize("weight_max", [64, 127])
def test_weight_quantization_error_is_at_most_half_a_step_per_channel(weight_max):
    kernel = np.random.default_rng(0).normal(size=(50, 7)).astype(np.float32)
    kernel[:, 3] *= 100.0  # channels with different ranges get their own scales
    scales = quantize.weight_scales(kernel, weight_max)
    quantized = quantize.quantize_weights(kernel, scales, weight_max)
    restored = quantized.astype(np.float32) * scales
    assert np.all(np.abs(restored - kernel) <= scales / 2 * (1 + 1e-6))
    np.testing.assert_allclose(scales, np.abs(kernel).max(0) / weight_max, rtol=1e-6)
    assert np.abs(quantized.astype(int)).max() == weight_max


def test_default_weights_are_7_bit_so_no_u8_s8_pair_sum_leaves_int16():
    assert quantize.WEIGHT_MAX == 64
    assert 2 * 255 * quantize.WEIGHT_MAX <= 32767 < 2 * 255 * (quantize.WEIGHT_MAX + 1)


def test_activation_quantization_rounds_half_to_even_and_saturates():
    values = np.array([0.5, 1.5, 2.5, -3.0, 1000.0, 254.4], dtype=np.float32)
    q = quantize.quantize_activations(values, np.float32(1.0), np.uint8(0))
    np.testing.assert_array_equal(q, [0, 2, 2, 0, 255, 254])


def test_activation_range_includes_zero_and_maps_it_exactly():
    scale, zero_point = quantize.activation_params(-1.0, 3.0)
    assert scale == pytest.approx(4.0 / 255)
    q = quantize.quantize_activations(np.array([0.0], np.float32), scale, zero_point)
    assert (q.astype(float) - zero_point) * scale == 0.0


def test_activation_quantization_matches_torch_fake_quantize():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).normal(size=1000).astype(np.float32) * 3
    scale, zero_point = quantize.activation_params(x.min(), x.max())
    ours = (quantize.quantize_activations(x, scale, zero_point) - np.float32(zero_point)) * scale
    theirs = torch.fake_quantize_per_tensor_affine(
        torch.from_numpy(x), float(scale), int(zero_point), 0, 255
    )
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=0, atol=1e-6)


def test_int8_model_stays_within_error_bounds_of_the_float_model(trained, digits):
    x, y = digits
    qmodel = quantize.int8(trained, x[:300])
    diff = np.abs(qmodel.predict(x[1400:]) - trained.predict(x[1400:]))
    assert diff.max() < 0.1
    assert (
        abs(
            quantize.accuracy(qmodel, x[1400:], y[1400:])
            - quantize.accuracy(trained, x[1400:], y[1400:])
        )
        <= 0.01
    )
    assert set(qmodel.storages.values()) == {"int8"}


def test_int8_predict_is_the_dequantized_graph(trained, digits):
    x, _ = digits
    qmodel = quantize.int8(trained, x[:300])
    signal = x[1400:]
    for op in qmodel.ops:  # the QDQ graph, node by node, in float32
        q = quantize.quantize_activations(signal, op.input_scale, op.input_zero_point)
        dequantized = (q.astype(np.float32) - np.float32(op.input_zero_point)) * op.input_scale
        z = dequantized @ op.float_kernel() + op.bias
        signal = op.activation.forward(np, z)
    np.testing.assert_allclose(qmodel.predict(x[1400:]), signal, atol=2e-3)


def test_int8_file_is_at_least_3_5_times_smaller_and_loads_back(trained, digits, tmp_path):
    x, _ = digits
    qmodel = quantize.int8(trained, x[:300])
    trained.save(tmp_path / "float.safetensors", include_optimizer=False)
    qmodel.save(tmp_path / "int8.safetensors")
    ratio = (tmp_path / "float.safetensors").stat().st_size / (
        tmp_path / "int8.safetensors"
    ).stat().st_size
    assert ratio >= 3.5
    loaded = dk.load_model(tmp_path / "int8.safetensors")
    assert isinstance(loaded, quantize.QuantizedModel)
    np.testing.assert_array_equal(loaded.predict(x), qmodel.predict(x))


def test_float16_halves_the_file_and_keeps_predictions(trained, digits, tmp_path):
    x, _ = digits
    half = quantize.float16(trained)
    trained.save(tmp_path / "float.safetensors", include_optimizer=False)
    half.save(tmp_path / "half.safetensors")
    ratio = (tmp_path / "half.safetensors").stat().st_size / (
        tmp_path / "float.safetensors"
    ).stat().st_size
    assert ratio < 0.55
    np.testing.assert_allclose(
        dk.load_model(tmp_path / "half.safetensors").predict(x), trained.predict(x), atol=5e-3
    )


def test_accuracy_guard_keeps_sensitive_layers_in_float(trained, digits):
    x, y = digits
    badly_calibrated = x[:300] * 0.02  # activation ranges far too narrow: int8 saturates
    with pytest.warns(UserWarning, match="kept"):
        qmodel = quantize.int8(
            trained, badly_calibrated, validation=(x[1400:], y[1400:]), max_drop=0.005
        )
    assert qmodel.kept_float
    assert all(qmodel.storages[name] == "float32" for name in qmodel.kept_float)
    float_accuracy = quantize.accuracy(trained, x[1400:], y[1400:])
    assert float_accuracy - quantize.accuracy(qmodel, x[1400:], y[1400:]) <= 0.005 + 1e-9


def test_accuracy_guard_quantizes_everything_when_within_budget(trained, digits):
    x, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        qmodel = quantize.int8(trained, x[:300], validation=(x[1400:], y[1400:]), max_drop=0.02)
    assert qmodel.kept_float == [] and set(qmodel.sensitivity) == {"dense", "dense_1", "dense_2"}


def test_batch_normalization_is_folded_exactly(digits):
    if not hasattr(dk.layers, "BatchNormalization"):
        pytest.skip("BatchNormalization is not in this branch yet")
    x, y = digits
    model = dk.Sequential(
        [
            dk.layers.Dense(32, input_dim=64),
            dk.layers.BatchNormalization(),
            dk.layers.Dense(16, activation="relu"),
            dk.layers.BatchNormalization(),
            dk.layers.Dense(10, activation="softmax"),
        ],
        seed=0,
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, verbose=0, seed=0)
    folded = quantize.QuantizedModel(quantize.float_ops(model), 64)
    assert len(folded.ops) == 3
    np.testing.assert_allclose(folded.predict(x), model.predict(x), atol=1e-5)


def small_classifier():
    model = dk.Sequential(
        [
            dk.layers.Dense(32, activation="relu", input_dim=64),
            dk.layers.Dense(10, activation="softmax"),
        ],
        seed=0,
    )
    model.compile(dk.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    return model


def test_quantization_aware_training_trains_float_weights_through_int8_images(digits):
    x, y = digits
    model = quantize.qat(small_classifier(), activations=False)
    before = model.evaluate(x, y)["loss"]
    model.fit(x, y, epochs=2, verbose=0, seed=0)
    assert model.evaluate(x, y)["loss"] < before
    hooks = quantize.fake_quantization_of(model)
    for layer in model.layers:
        kernel = np.array(layer.kernel)
        np.testing.assert_array_equal(kernel, quantize.fake_quantize(kernel))
        assert not np.array_equal(hooks.shadow[layer.name], kernel)  # float weights live on
    quantize.strip_qat(model)
    assert not model.constraints and not model.gradient_hooks
    qmodel = quantize.int8(model, x[:200])
    for op, layer in zip(qmodel.ops, model.layers):
        np.testing.assert_allclose(op.float_kernel(), layer.kernel, rtol=1e-6, atol=1e-8)


def test_qat_puts_an_input_quantizer_before_every_dense_layer(digits):
    x, y = digits
    model = quantize.qat(small_classifier())
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["FakeQuant", "Dense", "FakeQuant", "Dense"]
    model.fit(x, y, epochs=1, verbose=0, seed=0)
    low, high = model.layers[2].learned_range()
    assert low == 0.0 and high > 0.0  # relu outputs


def test_fake_quant_passes_gradients_only_inside_its_range():
    layer = quantize.FakeQuant()
    model = dk.Sequential([layer], seed=0)
    model.build(3)
    layer.weights["range"][...] = (-1.0, 1.0)
    x = np.array([[-2.0, 0.3, 1.5]], np.float32)
    y = layer.forward(x, training=False)
    scale, zero_point = quantize.activation_params(-1.0, 1.0)
    expected = (
        quantize.quantize_activations(x, scale, zero_point) - np.float32(zero_point)
    ) * scale
    np.testing.assert_allclose(y, expected, atol=1e-7)
    layer._inside = (x >= -1.0) & (x <= 1.0)
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), [[0.0, 1.0, 0.0]])


def test_fake_quant_is_a_layer_that_model_files_find_by_name():
    assert quantize.FakeQuant is dk.layers.FakeQuant
    layer = dk.layers.from_config(
        {"class_name": "FakeQuant", "config": {"name": "q", "momentum": 0.9}}
    )
    assert isinstance(layer, quantize.FakeQuant) and layer.momentum == 0.9


def test_int8_of_a_qat_model_computes_what_it_trained_with(digits, tmp_path):
    x, y = digits
    model = quantize.qat(small_classifier())
    model.fit(x, y, epochs=2, verbose=0, seed=0)
    model.save(tmp_path / "qat.safetensors")
    reloaded = dk.load_model(tmp_path / "qat.safetensors")
    np.testing.assert_array_equal(reloaded.predict(x), model.predict(x))
    qmodel = quantize.int8(quantize.strip_qat(model), x[:10])  # ranges come from training
    scale, _ = quantize.activation_params(*model.layers[2].learned_range())
    assert qmodel.ops[1].input_scale == scale
    # equal up to a rare one-step flip where float and integer sums round differently
    np.testing.assert_allclose(qmodel.predict(x), model.predict(x), atol=2e-3)
    assert np.array_equal(qmodel.predict(x).argmax(1), model.predict(x).argmax(1))


def _session(path, optimize: bool):
    ort = pytest.importorskip("onnxruntime")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def test_onnx_qdq_export_matches_int8_predict_in_onnxruntime(trained, digits, tmp_path):
    pytest.importorskip("onnx")
    x, _ = digits
    qmodel = quantize.int8(trained, x[:300])
    quantize.export_onnx(qmodel, tmp_path / "int8.onnx")
    reference = _session(tmp_path / "int8.onnx", optimize=False).run(None, {"input": x})[0]
    ours = qmodel.predict(x)
    np.testing.assert_allclose(ours, reference, atol=2e-3)
    assert (ours.argmax(1) == reference.argmax(1)).mean() >= 0.999


def test_onnxruntime_runs_the_int8_export_with_integer_kernels(trained, digits, tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    x, _ = digits
    qmodel = quantize.int8(trained, x[:300])
    quantize.export_onnx(qmodel, tmp_path / "int8.onnx")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    session = ort.InferenceSession(
        str(tmp_path / "int8.onnx"), options, providers=["CPUExecutionProvider"]
    )
    integer_ops = {"QGemm", "QLinearMatMul", "MatMulInteger", "MatMulIntegerToFloat"}
    kinds = {node.op_type for node in onnx.load(tmp_path / "optimized.onnx").graph.node}
    assert kinds & integer_ops
    fused = session.run(None, {"input": x})[0]
    ours = qmodel.predict(x)
    assert np.abs(fused - ours).max() < 0.02
    assert (fused.argmax(1) == ours.argmax(1)).mean() >= 0.995


# x86 integer kernels: u8 x s8 adds adjacent product pairs into a saturating int16
# (vpmaddubsw, without VNNI); u8 x u8 widens both to int16 first and adds pairs into int32
# (vpmaddwd). Activations are uint8, so each a is in [0, 255].
PAIR_SUM_LIMIT = {np.dtype(np.int8): 2**15 - 1, np.dtype(np.uint8): 2**31 - 1}


def largest_pair_sum(weights: np.ndarray, zero_points: np.ndarray) -> int:
    """max over adjacent rows k, k+1 and a0, a1 in [0, 255] of |a0 w0 + a1 w1|, where w is
    the stored integer (the kernels multiply it as stored and correct zero points after)."""
    w = weights.astype(np.int64)
    if len(w) % 2:
        w = np.vstack([w, np.zeros((1, w.shape[1]), np.int64)])
    pairs = w.reshape(-1, 2, w.shape[1])
    positive = np.clip(pairs, 0, None).sum(axis=1)
    negative = np.clip(-pairs, 0, None).sum(axis=1)
    return int(255 * np.maximum(positive, negative).max())


def exported_weights(proto) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, integer kernel, zero points) of every DequantizeLinear of a weight."""
    from onnx import numpy_helper

    inits = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    return [
        (node.input[0], inits[node.input[0]], inits[node.input[2]])
        for node in proto.graph.node
        if node.op_type == "DequantizeLinear" and node.input[0] in inits
    ]


def test_full_range_s8_weights_would_saturate_a_u8_s8_pair(trained, digits):
    x, _ = digits
    full = quantize.int8(trained, x[:300], weight_max=127)
    worst = max(largest_pair_sum(op.kernel, np.zeros(1)) for op in full.ops)
    assert worst > PAIR_SUM_LIMIT[np.dtype(np.int8)]  # what the export must not emit as s8


@pytest.mark.parametrize("weight_max", [64, 127])
def test_no_integer_kernel_can_saturate_on_the_exported_graph(
    trained, digits, tmp_path, weight_max
):
    onnx = pytest.importorskip("onnx")
    x, _ = digits
    qmodel = quantize.int8(trained, x[:300], weight_max=weight_max)
    quantize.export_onnx(qmodel, tmp_path / "int8.onnx")
    proto = onnx.load(tmp_path / "int8.onnx")
    activation_zero_points = [
        init for init in proto.graph.initializer if init.name.endswith("_x_zp")
    ]
    assert {init.data_type for init in activation_zero_points} == {onnx.TensorProto.UINT8}
    weights = exported_weights(proto)
    assert len(weights) == 3
    for name, kernel, zero_points in weights:
        assert largest_pair_sum(kernel, zero_points) <= PAIR_SUM_LIMIT[kernel.dtype], name
    expected = np.dtype(np.int8) if weight_max <= quantize.WEIGHT_MAX else np.dtype(np.uint8)
    assert {kernel.dtype for _, kernel, _ in weights} == {expected}


def test_uint8_weights_hold_the_same_values_and_run_in_onnxruntime(trained, digits, tmp_path):
    onnx = pytest.importorskip("onnx")
    x, _ = digits
    qmodel = quantize.int8(trained, x[:300], weight_max=127)
    quantize.export_onnx(qmodel, tmp_path / "int8.onnx")
    for op, (_, kernel, zero_points) in zip(
        qmodel.ops, exported_weights(onnx.load(tmp_path / "int8.onnx"))
    ):
        restored = kernel.astype(np.int16) - zero_points.astype(np.int16)
        np.testing.assert_array_equal(restored, op.kernel)
    reference = _session(tmp_path / "int8.onnx", optimize=False).run(None, {"input": x})[0]
    np.testing.assert_allclose(qmodel.predict(x), reference, atol=2e-3)
    fused = _session(tmp_path / "int8.onnx", optimize=True).run(None, {"input": x})[0]
    assert np.abs(fused - qmodel.predict(x)).max() < 0.02


def test_weight_max_is_checked(trained, digits):
    x, _ = digits
    with pytest.raises(ArgumentError, match="weight_max must be an integer from 1 to 127, got 128"):
        quantize.int8(trained, x[:100], weight_max=128)
    with pytest.raises(ArgumentTypeError, match="weight_max must be an integer .* got 64.0"):
        quantize.int8(trained, x[:100], weight_max=64.0)


EMULATED_RUN = """
import sys
import numpy as np
import onnxruntime as ort
options = ort.SessionOptions()
options.log_severity_level = 3
session = ort.InferenceSession(sys.argv[1], options, providers=["CPUExecutionProvider"])
np.save(sys.argv[3], session.run(None, {"input": np.load(sys.argv[2])})[0])
"""


def run_on_haswell(onnx_path, x, tmp_path) -> np.ndarray:
    """onnxruntime's output under qemu-x86_64 -cpu Haswell (AVX2 and FMA, no VNNI, no
    AVX-512), so its integer kernels are the ones that saturate."""
    np.save(tmp_path / "x.npy", x)
    command = ["qemu-x86_64", "-cpu", "Haswell", sys.executable, "-c", EMULATED_RUN]
    command += [str(onnx_path), str(tmp_path / "x.npy"), str(tmp_path / "y.npy")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return np.load(tmp_path / "y.npy")


@pytest.mark.skipif(
    shutil.which("qemu-x86_64") is None or platform.machine() != "x86_64",
    reason="needs qemu-x86_64 (apt-get install qemu-user) on an x86_64 host",
)
def test_onnxruntime_on_an_emulated_avx2_cpu_agrees_with_predict(trained, digits, tmp_path):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from onnx import numpy_helper

    x, _ = digits
    control = quantize.int8(trained, x[:300], weight_max=127)
    quantize.export_onnx(control, tmp_path / "full.onnx")
    proto = onnx.load(tmp_path / "full.onnx")
    for init in proto.graph.initializer:  # the old export: full-range s8 weights
        if init.name.endswith(("_w_q", "_w_zp")):
            signed = (numpy_helper.to_array(init).astype(np.int16) - 128).astype(np.int8)
            init.CopyFrom(numpy_helper.from_array(signed, init.name))
    onnx.save(proto, tmp_path / "s8.onnx")
    saturated = run_on_haswell(tmp_path / "s8.onnx", x, tmp_path)
    if np.abs(saturated - control.predict(x)).max() < 0.02:
        pytest.skip("this emulator's CPU does not saturate u8 x s8 pairs: no test bed")
    for weight_max in (quantize.WEIGHT_MAX, 127):
        qmodel = quantize.int8(trained, x[:300], weight_max=weight_max)
        quantize.export_onnx(qmodel, tmp_path / "int8.onnx")
        emulated = run_on_haswell(tmp_path / "int8.onnx", x, tmp_path)
        ours = qmodel.predict(x)
        assert np.abs(emulated - ours).max() < 0.02, weight_max
        assert (emulated.argmax(1) == ours.argmax(1)).mean() >= 0.995, weight_max


def test_float_export_matches_the_float_model(trained, digits, tmp_path):
    pytest.importorskip("onnx")
    x, _ = digits
    quantize.export_onnx(trained, tmp_path / "float.onnx")
    result = _session(tmp_path / "float.onnx", optimize=True).run(None, {"input": x})[0]
    np.testing.assert_allclose(result, trained.predict(x), atol=1e-5)


def test_compression_report_sets_the_two_models_side_by_side(trained, digits):
    x, y = digits
    report = dk.compression_report(
        trained, quantize.int8(trained, x[:300]), x, y, batch_size=64, repeats=2
    )
    assert report["before"]["params"] == trained.count_params()
    assert report["ratio"]["file_bytes"] < 0.3
    assert report["before"]["flops"] == 2 * (64 * 128 + 128 * 128 + 128 * 10)
    assert "bytes on disk" in report.table()


def test_normalized_model_with_batch_norm_exports_and_matches_onnxruntime(digits, tmp_path):
    pytest.importorskip("onnx")
    x, y = digits
    raw = x * 16.0 + np.arange(64, dtype=np.float32)  # features on different scales
    model = dk.Sequential(
        [
            dk.layers.Normalization(mean=raw.mean(0), variance=raw.var(0) + 1e-3, input_dim=64),
            dk.layers.Dense(48, activation="relu"),
            dk.layers.BatchNormalization(),
            dk.layers.Dropout(0.1),
            dk.layers.Dense(10, activation="softmax"),
        ],
        seed=0,
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(raw, y, epochs=2, verbose=0, seed=0)
    qmodel = quantize.int8(model, raw[:300])
    assert isinstance(qmodel.ops[0], quantize.Affine) and len(qmodel.ops) == 3
    assert (qmodel.predict(raw).argmax(1) == model.predict(raw).argmax(1)).mean() >= 0.98
    quantize.export_onnx(qmodel, tmp_path / "int8.onnx")
    reference = _session(tmp_path / "int8.onnx", optimize=False).run(None, {"input": raw})[0]
    np.testing.assert_allclose(qmodel.predict(raw), reference, atol=2e-3)


def test_qat_with_batch_normalization_keeps_the_normalized_signal_quantized(digits):
    x, y = digits
    model = dk.Sequential(
        [
            dk.layers.Dense(32, activation="relu", input_dim=64),
            dk.layers.BatchNormalization(),
            dk.layers.Dense(10, activation="softmax"),
        ],
        seed=0,
    )
    model.compile(dk.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    trained = quantize.qat(model)
    trained.fit(x, y, epochs=1, verbose=0, seed=0)
    qmodel = quantize.int8(quantize.strip_qat(trained), x[:10])
    assert [type(op).__name__ for op in qmodel.ops] == [
        "QuantizedDense",
        "Affine",
        "QuantizedDense",
    ]
    _assert_int8_follows_qat_to_one_step_where_rounding_may_flip(trained, qmodel, x)


def _assert_int8_follows_qat_to_one_step_where_rounding_may_flip(trained, qmodel, x):
    """int8 inference equals the QAT forward pass up to float32 rounding, derived below.

    The QAT model sums in float32 (BLAS: blocking and FMA use depend on the CPU's
    kernel); int8 inference sums exactly in integers and scales once. With eps the
    float32 epsilon and n the length of a sum, each path's Dense product is within
    about (n/2 + 4) eps * sum|terms| of the exact one (the dot product's bound
    gamma_n = n eps/2, plus the roundings of the dequantized operands, the scales and
    the bias), so the two differ by at most (n + 8) eps * sum|terms|; BN (QAT:
    (z - m) * inv * g + b; int8: the folded z * a + c) adds at most
    4 eps (|z a| + |m a| + |b|). So the signal entering the last Dense differs by a
    bound `delta` per entry, and its uint8 code rint(signal / s) can differ by one
    step exactly where the signal lies within delta of a half step, nowhere else.
    Each such flip moves that row's logits by s * W[i, :] (a kernel row); a softmax
    output moves by at most a quarter of the range of the logits' change
    (|dp_k| = p_k |dz_k - sum_j p_j dz_j| <= p_k (1 - p_k) range(dz)).
    """
    eps = float(np.finfo(np.float32).eps)
    quant_in, dense_in, norm, quant_mid, dense_out = trained.layers
    first, normalize, last = qmodel.ops
    x_q = np.array(quant_in.forward(x, training=False), dtype=np.float64)
    hidden = np.array(dense_in.forward(x_q.astype(np.float32), training=False), np.float64)
    signal = np.array(norm.forward(hidden.astype(np.float32), training=False), np.float64)

    scale, zero_point = quantize.activation_params(*quant_mid.learned_range())
    assert (last.input_scale, last.input_zero_point) == (scale, zero_point)  # QAT's range
    scale = float(scale)
    n = x.shape[1]
    kernel, bias = (np.abs(np.asarray(w, np.float64)) for w in (dense_in.kernel, dense_in.bias))
    bn = {k: np.asarray(v, np.float64) for k, v in norm.weights.items()}
    a = np.abs(bn["gamma"] / np.sqrt(bn["moving_variance"] + norm.epsilon))
    mean_a, shift = np.abs(bn["moving_mean"]) * a, np.abs(bn["beta"])
    delta = a * (n + 8) * eps * (np.abs(x_q) @ kernel + bias)
    delta += 4 * eps * (hidden * a + mean_a + shift)
    steps = signal / scale
    delta_steps = delta / scale + eps * np.abs(steps)  # and the division by s
    may_flip = np.abs(steps - np.floor(steps) - 0.5) <= delta_steps
    # the bound leaves about 2 * mean(delta_steps) of the codes free (0.2% on digits):
    # the comparison below still pins all the others to the exact code
    assert may_flip.mean() < 0.01, may_flip.mean()

    codes_qat = quantize.quantize_activations(signal.astype(np.float32), scale, zero_point)
    codes_int8 = quantize.quantize_activations(
        normalize.forward(first.forward(x)), last.input_scale, last.input_zero_point
    )
    flipped = codes_int8 != codes_qat
    assert np.all(np.abs(codes_int8.astype(int) - codes_qat.astype(int)) <= 1)
    assert np.all(may_flip[flipped]), np.argwhere(flipped & ~may_flip)

    # the outputs: float rounding of the last product (length 32) and the softmax
    # (10 classes), plus one step's kernel row for every code that may flip
    w_out = last.float_kernel().astype(np.float64)
    dequantized = (codes_qat.astype(np.float64) - float(zero_point)) * scale
    sums = np.abs(dequantized) @ np.abs(w_out) + np.abs(last.bias.astype(np.float64))
    logit_rounding = (w_out.shape[0] + 8) * eps * sums.max(axis=1)
    flip_range = scale * (w_out.max(axis=1) - w_out.min(axis=1))
    logit_range = 2 * logit_rounding + may_flip.astype(np.float64) @ flip_range
    bound = logit_range / 4 + (w_out.shape[1] + 8) * eps
    gap = np.abs(qmodel.predict(x).astype(np.float64) - trained.predict(x)).max(axis=1)
    assert np.all(gap <= bound), (gap - bound).max()


def test_export_onnx_delegates_a_sequential_and_checks_its_arguments(trained, tmp_path):
    onnx = pytest.importorskip("onnx")
    quantize.export_onnx(trained, tmp_path / "float.onnx")
    kinds = {node.op_type for node in onnx.load(tmp_path / "float.onnx").graph.node}
    assert "Gemm" in kinds  # densekit.onnx's graph, not a second exporter's MatMul + Add
    with pytest.raises(ArgumentTypeError, match="QuantizedModel or a densekit Sequential"):
        quantize.export_onnx("model.safetensors", tmp_path / "x.onnx")
    with pytest.raises(ArgumentError, match="opset must be an integer >= 17"):
        quantize.export_onnx(quantize.float16(trained), tmp_path / "x.onnx", opset=13)
    assert not (tmp_path / "x.onnx").exists()


def test_accuracy_rejects_x_and_y_of_different_lengths(trained, digits):
    x, y = digits
    with pytest.raises(InputError, match="x has 1797 samples but y has 10"):
        quantize.int8(trained, x[:300], validation=(x, y[:10]))
    with pytest.raises(InputError, match="but y has 5"):
        dk.compression_report(trained, quantize.float16(trained), x, y[:5], repeats=1)
    with pytest.raises(InputError, match="features"):
        dk.compression_report(trained, quantize.float16(trained), x[:, :3], y, repeats=1)


def test_qat_copy_keeps_precision():
    model = dk.Sequential([dk.layers.Dense(4, activation="relu", input_dim=3), dk.layers.Dense(2)])
    model.compile("sgd", "mse")
    model.precision = "tf32"
    trained = quantize.qat(model)
    assert any(isinstance(layer, quantize.FakeQuant) for layer in trained.layers)
    assert trained.precision == "tf32"
    assert trained.backend.name == model.backend.name


def test_a_single_layer_name_as_a_str_is_rejected(trained, digits):
    x, _ = digits
    name = trained.layers[0].name
    with pytest.raises(ArgumentTypeError, match="must be a list of layer names"):
        quantize.int8(trained, x[:100], keep_float=name)
    with pytest.raises(ArgumentTypeError, match="must be a list of layer names"):
        quantize.qat(trained, layers=name)
    assert quantize.int8(trained, x[:100], keep_float=[name]).storages[name] == "float32"


def test_max_drop_and_repeats_are_checked(trained, digits):
    x, y = digits
    with pytest.raises(ArgumentTypeError, match="max_drop must be a number in"):
        quantize.int8(trained, x[:100], validation=(x, y), max_drop="x")
    with pytest.raises(ArgumentError, match="repeats must be an integer >= 1, got 0"):
        dk.compression_report(trained, quantize.float16(trained), x, y, repeats=0)


def test_latency_is_best_of_repeats_and_checks_them(trained, digits):
    from densekit.report.compression import latency

    x, _ = digits
    assert 0 < latency(trained, x, 32, repeats=2) < 1
    with pytest.raises(ArgumentError, match="repeats must be an integer >= 1, got 0"):
        latency(trained, x, 32, repeats=0)


def test_quantized_models_drop_the_pruning_metadata(digits):
    x, _ = digits
    model = dk.Sequential([dk.layers.Dense(8, "relu", input_dim=64), dk.layers.Dense(10)], seed=0)
    dk.prune.magnitude(model, 0.5)
    assert dk.prune.METADATA_KEY in model.metadata
    assert dk.prune.METADATA_KEY not in quantize.int8(model, x[:50]).metadata
    assert dk.prune.METADATA_KEY not in quantize.float16(model).metadata
