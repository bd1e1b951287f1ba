"""Every numeric argument goes through one check (densekit.validation): NumPy scalars pass,
bools, NaN, infinity and strings are refused with a message that names the argument."""

from __future__ import annotations

import math

import numpy as np
import pytest

import densekit as dk
from densekit import activations, callbacks, losses, optimizers, regularizers
from densekit.errors import ArgumentError, ArgumentTypeError
from densekit.layers import Dense, Dropout
from densekit.validation import check_count, check_number, check_positive_int


def _fit(**kwargs):
    model = dk.Sequential([Dense(1, input_dim=2)], seed=0)
    model.compile("sgd", "mse")
    x, y = np.zeros((4, 2)), np.zeros(4)
    return model.fit(x, y, verbose=0, **kwargs)


#: (the name in the message, a call that passes the value, a valid float, a valid int)
NUMBERS = [
    ("learning_rate", lambda v: optimizers.SGD(v), 0.5, 1),
    ("momentum", lambda v: optimizers.SGD(0.1, momentum=v), 0.5, 0),
    ("clipnorm", lambda v: optimizers.Adam(clipnorm=v), 0.5, 1),
    ("clipvalue", lambda v: optimizers.Adam(clipvalue=v), 0.5, 1),
    ("global_clipnorm", lambda v: optimizers.Adam(global_clipnorm=v), 0.5, 1),
    ("beta_1", lambda v: optimizers.Adam(beta_1=v), 0.5, 0),
    ("epsilon", lambda v: optimizers.Adam(epsilon=v), 0.5, 1),
    ("weight_decay", lambda v: optimizers.AdamW(weight_decay=v), 0.5, 0),
    ("rho", lambda v: optimizers.RMSprop(rho=v), 0.5, 1),
    (
        "initial_accumulator_value",
        lambda v: optimizers.Adagrad(initial_accumulator_value=v),
        0.5,
        1,
    ),
    ("negative_slope", activations.LeakyReLU, 0.5, 1),
    ("alpha", activations.ELU, 0.5, 1),
    ("regularizer l1", regularizers.l1, 0.5, 1),
    ("regularizer l2", regularizers.l2, 0.5, 1),
    ("Dropout rate", Dropout, 0.5, 0),
    ("huber delta", lambda v: losses.Huber(delta=v), 0.5, 1),
    ("min_delta", lambda v: callbacks.EarlyStopping(min_delta=v), 0.5, 1),
    ("ReduceLROnPlateau factor", lambda v: callbacks.ReduceLROnPlateau(factor=v), 0.5, None),
    ("min_lr", lambda v: callbacks.ReduceLROnPlateau(min_lr=v), 0.5, 1),
    ("validation_split", lambda v: _fit(validation_split=v), 0.5, 0),
]

#: (the name in the message, a call that passes the value, a valid int)
INTEGERS = [
    ("units", Dense, 3),
    ("input_dim", lambda v: Dense(1, input_dim=v), 3),
    ("input_dim", lambda v: dk.layers.BatchNormalization(input_dim=v), 3),
    ("epochs", lambda v: _fit(epochs=v), 2),
    ("initial_epoch", lambda v: _fit(epochs=3, initial_epoch=v), 2),
    ("patience", lambda v: callbacks.EarlyStopping(patience=v), 2),
    ("cooldown", lambda v: callbacks.ReduceLROnPlateau(cooldown=v), 2),
]

#: None is left out: several of these arguments are optional
REFUSED = [True, False, np.bool_(True), float("nan"), np.float32("nan"), math.inf, "0.5", [0.5]]


@pytest.mark.parametrize(("name", "make", "real", "whole"), NUMBERS, ids=[n[0] for n in NUMBERS])
@pytest.mark.parametrize("scalar", [np.float32, np.float64])
def test_number_arguments_accept_numpy_floats(name, make, real, whole, scalar):
    make(scalar(real))


WITH_INTS = [case for case in NUMBERS if case[3] is not None]


@pytest.mark.parametrize(
    ("name", "make", "real", "whole"), WITH_INTS, ids=[n[0] for n in WITH_INTS]
)
@pytest.mark.parametrize("scalar", [int, np.int32, np.int64])
def test_number_arguments_accept_python_and_numpy_ints(name, make, real, whole, scalar):
    make(scalar(whole))


@pytest.mark.parametrize(("name", "make", "real", "whole"), NUMBERS, ids=[n[0] for n in NUMBERS])
@pytest.mark.parametrize("value", REFUSED, ids=repr)
def test_number_arguments_refuse_bools_nan_inf_and_strings(name, make, real, whole, value):
    with pytest.raises((ArgumentError, ArgumentTypeError), match=f"^{name} must be") as info:
        make(value)
    assert repr(value) in str(info.value) or str(float(value)) in str(info.value)


@pytest.mark.parametrize(("name", "make", "whole"), INTEGERS, ids=[n[0] for n in INTEGERS])
@pytest.mark.parametrize("scalar", [int, np.int32, np.int64, np.uint8])
def test_integer_arguments_accept_numpy_ints(name, make, whole, scalar):
    make(scalar(whole))


@pytest.mark.parametrize(("name", "make", "whole"), INTEGERS, ids=[n[0] for n in INTEGERS])
@pytest.mark.parametrize("value", [True, np.bool_(False), 2.0, np.float64(2.0), "2", -1])
def test_integer_arguments_refuse_bools_floats_strings_and_negatives(name, make, whole, value):
    with pytest.raises((ArgumentError, ArgumentTypeError), match=f"^{name} must be") as info:
        make(value)
    assert repr(value) in str(info.value) or str(value) in str(info.value)


def test_a_wrong_type_is_a_type_error_and_a_bad_value_a_value_error():
    with pytest.raises(ArgumentTypeError, match=r"rate must be a number in \[0, 1\), got '0.5'"):
        check_number("rate", "0.5", 0.0, 1.0, open_high=True)
    with pytest.raises(ArgumentTypeError, match="rate must be a number >= 0, got True"):
        check_number("rate", True, 0.0)
    with pytest.raises(ArgumentError, match=r"rate must be in \(0, 1\], got 0.0"):
        check_number("rate", 0, 0.0, 1.0, open_low=True)
    with pytest.raises(ArgumentError, match="rate must be finite and > 0, got inf"):
        check_number("rate", np.float64("inf"), 0.0, open_low=True)
    with pytest.raises(ArgumentError, match="slope must be a finite number, got nan"):
        check_number("slope", float("nan"))
    with pytest.raises(ArgumentTypeError, match="epochs must be an integer >= 0, got 2.0"):
        check_count("epochs", 2.0)
    with pytest.raises(ArgumentError, match="epochs must be >= 0, got -1"):
        check_count("epochs", np.int64(-1))
    with pytest.raises(ArgumentError, match="units must be a positive integer, got 0"):
        check_positive_int("units", np.int8(0))


def test_checked_numbers_come_back_as_python_numbers():
    assert type(check_number("x", np.float32(0.5))) is float
    assert type(check_count("x", np.int64(3))) is int
    assert type(check_positive_int("x", np.uint8(3))) is int
    assert type(optimizers.Adam(np.float32(0.5)).get_config()["learning_rate"]) is float
    assert type(regularizers.l2(np.float32(0.5)).l2) is float
    assert type(losses.Huber(delta=np.int64(2)).delta) is float


def test_an_optimizer_from_a_numpy_config_survives_save_and_load(tmp_path):
    model = dk.Sequential(
        [Dense(1, input_dim=2, kernel_regularizer=regularizers.l2(np.float32(0.5)))]
    )
    model.compile(optimizers.SGD(np.float32(0.1), momentum=np.float64(0.5)), "huber")
    model.save(tmp_path / "m.safetensors")
    loaded = dk.load_model(tmp_path / "m.safetensors")
    assert loaded.optimizer.get_config() == model.optimizer.get_config()


# --- Keras 2 names ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(optimizers.OPTIMIZERS))
def test_keras2_lr_is_refused_naming_learning_rate(name):
    with pytest.raises(ArgumentError, match=r"lr=\.\.\.\) is Keras 2's name: use learning_rate="):
        optimizers.OPTIMIZERS[name](lr=0.1)
    with pytest.raises(ArgumentError, match="use learning_rate="):
        optimizers.get({"name": name, "lr": 0.1})


def test_an_unknown_optimizer_argument_is_still_a_type_error():
    with pytest.raises(
        ArgumentTypeError, match=r"Adam\(\) got unexpected keyword arguments: decay"
    ):
        optimizers.Adam(decay=0.1)


def test_fit_refuses_steps_per_epoch_saying_it_trains_whole_epochs():
    with pytest.raises(ArgumentError, match="densekit trains on whole epochs"):
        _fit(steps_per_epoch=10)


def test_fit_refuses_an_unknown_argument_as_a_type_error():
    with pytest.raises(ArgumentTypeError, match="fit\\(\\) got unexpected keyword arguments: ep"):
        _fit(ep=3)
