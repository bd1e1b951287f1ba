"""Fused elementwise kernels for the GPU backend (CuPy ``ElementwiseKernel``).

:class:`CupyKernels` implements the kernels interface (:class:`~densekit.backend.kernels.Kernels`).

On a GPU every array operation is a kernel launch that reads and writes
device memory, so ``z += b; a = relu(z)`` is two passes and Adam's ten
in-place ufuncs are ten passes over the flat buffer. Here each of those is one
kernel: the same formulas as ``activations.py`` and ``optimizers.py``, written
once more in CUDA C, one line each.

    bias + activation   z = z + b;  a = f(z)                       (one pass)
    activation'         dz = g * f'(z)    (from a where f' is cheaper from a)
    Adam                m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
                        p -= lr_t m / (sqrt(v) c2 + eps),  lr_t = lr/(1-b1^t), c2 = 1/sqrt(1-b2^t)
    SGD                 v = mu v - lr g;  p += v   (nesterov: p += mu v - lr g)

:class:`CupyKernels` is made by the backend for a CuPy-like module ``xp``; the
layers and optimizers ask the backend for it; where it has no kernel of its own
for a case (RMSprop, Adagrad, softmax without a fused loss, user activations)
the reference's ``xp`` code runs, inherited.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .kernels import Kernels

# f(z) given z; the stable sigmoid uses exp(-|z|) <= 1.
_FORWARD = {
    "relu": "a = z > (T)0 ? z : (T)0",
    "leaky_relu": "a = z > (T)0 ? z : (T)P * z",
    "elu": "a = z > (T)0 ? z : (T)P * expm1(z)",
    "gelu": "a = (T)0.5 * z * ((T)1 + erf(z * (T)0.70710678118654752))",
    "sigmoid": "T e = exp(-fabs(z)); a = z >= (T)0 ? (T)1 / ((T)1 + e) : e / ((T)1 + e)",
    "tanh": "a = tanh(z)",
    "softplus": "a = (z > (T)0 ? z : (T)0) + log1p(exp(-fabs(z)))",
    "swish": "T e = exp(-fabs(z)); T s = z >= (T)0 ? (T)1 / ((T)1 + e) : e / ((T)1 + e); a = z * s",
}

# dz = g * f'(.) with the argument the CPU code uses: 'a' (output) or 'z' (input).
_BACKWARD = {
    "relu": ("a", "dz = a > (T)0 ? g : (T)0"),
    "leaky_relu": ("z", "dz = z > (T)0 ? g : (T)P * g"),
    "elu": ("z", "dz = z > (T)0 ? g : g * (T)P * exp(z)"),
    "gelu": (
        "z",
        "dz = g * ((T)0.5 * ((T)1 + erf(z * (T)0.70710678118654752))"
        " + z * exp((T)-0.5 * z * z) * (T)0.39894228040143268)",
    ),
    "sigmoid": ("a", "dz = g * a * ((T)1 - a)"),
    "tanh": ("a", "dz = g * ((T)1 - a * a)"),
    "softplus": (
        "z",
        "T e = exp(-fabs(z)); dz = g * (z >= (T)0 ? (T)1 / ((T)1 + e) : e / ((T)1 + e))",
    ),
    "swish": (
        "z",
        "T e = exp(-fabs(z)); T s = z >= (T)0 ? (T)1 / ((T)1 + e) : e / ((T)1 + e);"
        " dz = g * s * ((T)1 + z * ((T)1 - s))",
    ),
}

_PARAMETER = {"leaky_relu": "negative_slope", "elu": "alpha"}

FUSED_ACTIVATIONS = tuple(_FORWARD)


# cuBLAS enums (cublas_api.h, library_types.h)
_OP_N, _OP_T = 0, 1
_R_32F, _R_64F = 0, 1
_COMPUTE = {"fp32": 68, "tf32": 77, "bf16": 75}  # CUBLAS_COMPUTE_32F, _FAST_TF32, _FAST_16BF
_COMPUTE_64F = 70
_GEMM_DEFAULT = -1


class CupyKernels(Kernels):
    """The fused kernels for one CuPy-like module, compiled lazily and cached.

    Parameters
    ----------
    xp
        ``cupy`` (or a stand-in with its names).
    """

    name = "cupy"

    def __init__(self, xp: Any):
        super().__init__(xp)
        self._cache: dict[tuple, Any] = {}
        #: how float32 products are computed: 'fp32', 'tf32' or 'bf16' (set by the model)
        self.precision = "fp32"
        #: (t, coefficients, lr) device arrays while a training step is captured, else None
        self.step_counter = None
        cuda = getattr(xp, "cuda", None)
        self.cublas = getattr(cuda, "cublas", None)
        self._scalars = {
            np.dtype(np.float32): (np.ones(1, np.float32), np.zeros(1, np.float32)),
            np.dtype(np.float64): (np.ones(1, np.float64), np.zeros(1, np.float64)),
        }

    # --- matrix products ----------------------------------------------------------
    def matmul(self, a, b, out, precision: str | None = None):
        """``out = a @ b`` for 2-D float arrays, straight through cuBLAS ``gemmEx``.

        One call with little Python around it (``cupy.matmul`` spends several times
        longer deciding what to do, which small networks feel), in the precision the
        model asked for: float32 in and out, products in fp32, TF32 or BF16. Anything
        else (other layouts, no cuBLAS) goes to ``xp.matmul``.
        """
        cublas = self.cublas
        dtype = out.dtype
        if (
            cublas is None
            or a.ndim != 2
            or b.ndim != 2
            or not out.flags.c_contiguous
            or a.dtype != dtype
            or b.dtype != dtype
            or dtype not in self._scalars
        ):
            return self.xp.matmul(a, b, out=out)
        m, k = a.shape
        n = b.shape[1]
        # row-major C = A B is column-major C^T = B^T A^T
        op_b, ld_b = _layout(b)
        op_a, ld_a = _layout(a)
        if op_a is None or op_b is None or m == 0 or n == 0 or k == 0:
            return self.xp.matmul(a, b, out=out)
        if dtype == np.float32:
            data_type, compute = _R_32F, _COMPUTE[precision or self.precision]
        else:
            data_type, compute = _R_64F, _COMPUTE_64F
        one, zero = self._scalars[dtype]
        handle = self.xp.cuda.device.get_cublas_handle()
        cublas.setStream(handle, self.xp.cuda.get_current_stream().ptr)
        cublas.gemmEx(
            handle, op_b, op_a, n, m, k, one.ctypes.data,
            b.data.ptr, data_type, ld_b, a.data.ptr, data_type, ld_a,
            zero.ctypes.data, out.data.ptr, data_type, n, compute, _GEMM_DEFAULT,
        )  # fmt: skip
        return out

    def gather_rows(self, source, index, out):
        """``out[i] = source[index[i]]`` for 2-D ``source`` in one kernel (a shuffled batch)."""
        kernel = self._kernel(
            ("gather",),
            "raw T source, raw I index, int64 width",
            "T out",
            "out = source[index[i / width] * width + i % width]",
            "dk_gather_rows",
        )
        kernel(source, index, source.shape[1], out)
        return out

    # --- activations ------------------------------------------------------------
    def bias_activation(self, activation: Any, use_bias: bool) -> Callable:
        """``f(z, bias, out=None) -> a``: adds the bias to ``z`` in place, returns ``f(z)``.

        ``a`` is written into ``out`` where given, else into a buffer of the kernel's
        own. Activations without a fused kernel (linear without bias, a user-defined
        one) get the reference's code.
        """
        name = activation.name
        if name == "softmax":
            return self._softmax_forward(use_bias)
        if name not in _FORWARD:
            if name == "linear" and use_bias:
                return self._bias_only()
            return super().bias_activation(activation, use_bias)
        body = _FORWARD[name].replace("(T)P", f"(T)({_param(activation, name)!r})")
        if use_bias:
            # z is both read and written: ``z = z_in + b`` then the body reads z
            kernel = self._kernel(
                ("fwd_b", name, body),
                "T z_in, T b",
                "T z, T a",
                f"z = z_in + b; {body}",
                f"dk_{name}_bias_forward",
            )
            return _BiasForward(kernel, self.xp).call
        kernel = self._kernel(("fwd", name, body), "T z", "T a", body, f"dk_{name}_forward")
        return _PlainForward(kernel, self.xp).call

    def _softmax_forward(self, use_bias: bool):
        """Softmax rows: ``z += b``, then ``a = exp(z - max) / sum exp(z - max)`` (a thread a row)."""
        kernel = self._kernel(
            ("softmax_rows",),
            "raw T z, int64 width",
            "raw T a",
            """
            const T* zr = &z[i * width]; T* ar = &a[i * width];
            T m = zr[0];
            for (long long k = 1; k < width; k++) m = zr[k] > m ? zr[k] : m;
            T s = 0;
            for (long long k = 0; k < width; k++) { ar[k] = exp(zr[k] - m); s += ar[k]; }
            T inv = (T)1 / s;
            for (long long k = 0; k < width; k++) ar[k] *= inv;
            """,
            "dk_softmax_rows",
        )
        add_bias = self._bias_only() if use_bias else None
        outputs = _PlainForward(None, self.xp)

        def forward(z, bias, out=None):
            if add_bias is not None:
                add_bias(z, bias)
            a = outputs.output(z) if out is None else out
            kernel(z, z.shape[1], a, size=z.shape[0])
            return a

        return forward

    # --- losses (the fused last step of training) -------------------------------------
    def softmax_crossentropy(self, z, p, y, scale, grad, per_row):
        """Cross-entropy from logits, per row, and dL/dz = (p * sum(y) - y) * scale.

        ``per_row[i] = sum_k y_ik (logsumexp(z_i) - z_ik)``; ``grad`` and ``per_row``
        are written. One thread a row: the output layer is narrow.
        """
        kernel = self._kernel(
            ("softmax_ce",),
            "raw T z, raw T p, raw T y, int64 width, T scale",
            "raw T grad, raw T per_row",
            """
            const long long o = i * width;
            T m = z[o];
            for (long long k = 1; k < width; k++) m = z[o + k] > m ? z[o + k] : m;
            T s = 0, ysum = 0, yz = 0;
            for (long long k = 0; k < width; k++) {
                s += exp(z[o + k] - m); ysum += y[o + k]; yz += y[o + k] * z[o + k];
            }
            per_row[i] = ysum * (m + log(s)) - yz;
            for (long long k = 0; k < width; k++) grad[o + k] = (p[o + k] * ysum - y[o + k]) * scale;
            """,
            "dk_softmax_crossentropy",
        )
        kernel(z, p, y, z.shape[1], scale, grad, per_row, size=z.shape[0])

    def squared_error(self, p, y, scale, grad):
        """dL/dp = (p - y) * scale into ``grad``; returns sum((p - y)^2) / outputs (a 0-d array)."""
        kernel = self._kernel(
            ("mse_grad",),
            "T p, T y, T scale",
            "T grad",
            "grad = (p - y) * scale",
            "dk_mse_gradient",
        )
        kernel(p, y, scale, grad)
        reduce = self._cache.get(("mse_sum",))
        if reduce is None:
            reduce = self._cache[("mse_sum",)] = self.xp.ReductionKernel(
                "T p, T y, T inv_m", "T total", "(p - y) * (p - y) * inv_m", "a + b",
                "total = a", "0", "dk_squared_error_sum",
            )  # fmt: skip
        # row sums first (one block a row), then their sum: a one-block full reduction is slow
        return reduce(p, y, 1.0 / p.shape[1], axis=1).sum()

    def column_sums(self, a, out):
        """``out = a.sum(axis=0)`` as a product with a vector of ones (one cuBLAS call)."""
        if (
            self.cublas is None
            or a.size < 1 << 20  # small: CuPy's own reduction launches faster
            or not a.flags.c_contiguous
            or a.dtype not in self._scalars
        ):
            return a.sum(axis=0, out=out)
        key = ("ones", a.shape[0], a.dtype)
        ones = self._cache.get(key)
        if ones is None:
            ones = self._cache[key] = self.xp.ones((1, a.shape[0]), a.dtype)
        self.matmul(ones, a, out.reshape(1, -1), precision="fp32")  # sums stay float32
        return out

    def _bias_only(self):
        kernel = self._kernel(("fwd_b", "linear"), "T b", "T z", "z = z + b", "dk_bias_add")

        def forward(z, bias, out=None):
            kernel(bias, z)
            return z

        return forward

    def activation_backward(self, activation: Any) -> Callable:
        """``f(z, a, grad) -> dz``, written over ``grad`` (the reference's where not fused)."""
        name = activation.name
        if name not in _BACKWARD:
            return super().activation_backward(activation)
        argument, body = _BACKWARD[name]
        body = body.replace("(T)P", f"(T)({_param(activation, name)!r})")
        kernel = self._kernel(
            ("bwd", name, body), f"T {argument}, T g", "T dz", body, f"dk_{name}_backward"
        )
        if argument == "a":
            return lambda z, a, grad: kernel(a, grad, grad)
        return lambda z, a, grad: kernel(z, grad, grad)

    # --- optimizers -------------------------------------------------------------
    def adam_step(
        self, params, grads, m, v, scratch, lr, t, beta_1, beta_2, epsilon, weight_decay=0.0
    ) -> None:
        """One Adam (AdamW when ``weight_decay``) step over the flat buffer, in one kernel.

        ``p = p (1 - lr wd) - lr_t m / (sqrt(v) c2 + eps)`` with ``lr_t = lr / (1 - b1^t)``
        and ``c2 = 1 / sqrt(1 - b2^t)``: the reference's formula; ``scratch`` is not used.
        """
        lr_t, c2 = lr / (1.0 - beta_1**t), 1.0 / math.sqrt(1.0 - beta_2**t)
        self._adam(params, grads, m, v, lr_t, c2, beta_1, beta_2, epsilon, 1.0 - lr * weight_decay)

    def _adam(self, params, grads, m, v, lr_t, c2, beta_1, beta_2, eps, decay) -> None:
        """One Adam (AdamW when ``decay`` != 1) step over the flat buffer, in place."""
        # the CPU's order of operations and its float32 constants (1 - b1 rounded from
        # float64, not computed in float32), no fused multiply-adds: the same rounding, so
        # GPU and CPU training stay together (float32 1 - 0.999f is off by 1.3e-5, and
        # Adam turns that into a drift of 1e-3 in an epoch)
        kernel = self._kernel(
            ("adam",),
            "T g, T lr_t, T c2, T b1, T omb1, T b2, T omb2, T eps, T decay",
            "T p, T m, T v",
            "m = m * b1 + g * omb1; v = v * b2 + g * g * omb2;"
            " p = p * decay - m / (sqrt(v) * c2 + eps) * lr_t",
            "dk_adam",
            exact=True,
        )
        if self.step_counter is not None:  # inside a CUDA graph: t comes from the device
            self._adam_counted(params, grads, m, v, beta_1, beta_2, eps, decay)
            return
        kernel(
            grads, lr_t, c2, beta_1, 1.0 - beta_1, beta_2, 1.0 - beta_2, eps, decay, params, m, v
        )

    def _adam_counted(self, params, grads, m, v, beta_1, beta_2, eps, decay) -> None:
        """Adam with t, lr_t and c2 computed on the device (a graph replays its arguments)."""
        counter, coef, lr = self.step_counter
        coefficients = self._kernel(
            ("adam_coef",),
            "float64 lr, float64 b1, float64 b2",
            "raw float64 t, raw float64 c",
            "t[0] += 1; c[0] = lr / (1 - pow(b1, t[0])); c[1] = 1 / sqrt(1 - pow(b2, t[0]))",
            "dk_adam_coefficients",
        )
        coefficients(lr, beta_1, beta_2, counter, coef, size=1)
        kernel = self._kernel(
            ("adam_counted",),
            "T g, raw float64 c, T b1, T omb1, T b2, T omb2, T eps, T decay",
            "T p, T m, T v",
            "m = m * b1 + g * omb1; v = v * b2 + g * g * omb2;"
            " p = p * decay - m / (sqrt(v) * (T)c[1] + eps) * (T)c[0]",
            "dk_adam_counted",
            exact=True,
        )
        kernel(grads, coef, beta_1, 1.0 - beta_1, beta_2, 1.0 - beta_2, eps, decay, params, m, v)

    def sgd_step(self, params, grads, velocity, scratch, lr, momentum, nesterov) -> None:
        """SGD in one kernel; ``scratch`` is not used.

        ``p -= lr g``; with momentum ``v = mu v - lr g; p += v`` (nesterov: ``p += mu v - lr g``).
        """
        if momentum:
            self._sgd_momentum(params, grads, velocity, lr, momentum, nesterov)
            return
        kernel = self._kernel(("sgd",), "T g, T lr", "T p", "p = p - g * lr", "dk_sgd", exact=True)
        kernel(grads, lr, params)

    def _sgd_momentum(self, params, grads, velocity, lr, momentum, nesterov: bool) -> None:
        update = "p = p - g * lr + v * mu" if nesterov else "p = p + v"
        kernel = self._kernel(
            ("sgd_momentum", nesterov),
            "T g, T lr, T mu",
            "T p, T v",
            f"v = v * mu - g * lr; {update}",
            "dk_sgd_nesterov" if nesterov else "dk_sgd_momentum",
            exact=True,
        )
        kernel(grads, lr, momentum, params, velocity)

    # --- plumbing -----------------------------------------------------------------
    def _kernel(self, key, in_params, out_params, body, name, exact=False):
        """A cached ElementwiseKernel; ``exact`` compiles without contracting a*b + c to FMA."""
        kernel = self._cache.get(key)
        if kernel is None:
            if exact:
                kernel = self.xp.ElementwiseKernel(
                    in_params, out_params, body, name, options=("--fmad=false",)
                )
            else:
                kernel = self.xp.ElementwiseKernel(in_params, out_params, body, name)
            self._cache[key] = kernel
        return kernel


class _PlainForward:
    """``a = f(z)`` into a reusable output (one per batch shape)."""

    def __init__(self, kernel, xp):
        self.kernel, self.xp, self.outputs = kernel, xp, {}

    def output(self, z):
        out = self.outputs.get(z.shape)
        if out is None or out.dtype != z.dtype:
            if len(self.outputs) > 16:  # many batch sizes seen: start over
                self.outputs.clear()
            out = self.outputs[z.shape] = self.xp.empty_like(z)
        return out

    def call(self, z, bias=None, out=None):
        return self.kernel(z, self.output(z) if out is None else out)


class _BiasForward(_PlainForward):
    """``z += b; a = f(z)`` in one pass."""

    def call(self, z, bias, out=None):
        out = self.output(z) if out is None else out
        self.kernel(z, bias, z, out)
        return out


class CaptureSafeCublas:
    """``cublasSetStream`` and ``cublasGemmEx`` called through ctypes.

    CuPy refuses cuBLAS calls while a stream is being captured into a CUDA graph
    ("calling cuBLAS API during stream capture is currently unsupported"); cuBLAS
    itself allows them. This calls the library CuPy already loaded, directly.
    """

    def __init__(self, xp):
        import ctypes

        xp.cuda.device.get_cublas_handle()  # CuPy loads cuBLAS on first use
        with open("/proc/self/maps") as maps:
            path = next(
                line.split()[-1]
                for line in maps
                if "libcublas.so" in line and "libcublasLt" not in line
            )
        self._lib, self._void = ctypes.CDLL(path), ctypes.c_void_p
        self._lib.cublasGemmEx.restype = ctypes.c_int

    def setStream(self, handle, stream):  # noqa: N802 - cuBLAS' name, as CuPy's binding
        """``cublasSetStream_v2``: run the handle's calls on ``stream``."""
        self._lib.cublasSetStream_v2(self._void(handle), self._void(stream))

    def gemmEx(self, handle, ta, tb, m, n, k, alpha, a, at, lda, b, bt, ldb, beta, c, ct, ldc,
               compute, algo):  # noqa: N802  # fmt: skip
        """``cublasGemmEx``: ``c = alpha op(a) op(b) + beta c`` on raw device pointers."""
        v = self._void
        status = self._lib.cublasGemmEx(
            v(handle), ta, tb, m, n, k, v(alpha), v(a), at, lda, v(b), bt, ldb, v(beta), v(c),
            ct, ldc, compute, algo,
        )  # fmt: skip
        if status:
            raise RuntimeError(f"cublasGemmEx failed with status {status}")


def _layout(array):
    """(cuBLAS op, leading dimension) that reads row-major ``array`` as its transpose."""
    if array.flags.c_contiguous:
        return _OP_N, max(1, array.shape[1])
    if array.flags.f_contiguous:  # a transposed view of a row-major array
        return _OP_T, max(1, array.shape[0])
    return None, None


def _param(activation, name: str) -> float:
    return float(activation.params.get(_PARAMETER[name], 0.0)) if name in _PARAMETER else 0.0
