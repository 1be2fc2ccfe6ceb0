"""Kernel speed of activations: forward and forward+backward throughput, memory kept for
backward, and the fraction of the memory-bandwidth roofline, measured in the same run.

Variants: "eager" (plain torch ops: the module itself, or for SReLU, RaLU and Squareplus
the textbook formula), "custom-autograd" (the module, where it is a custom autograd
Function with an analytic backward) and "compile" (torch.compile of the module). Times are medians of
repeats after warm-up; CUDA times come from CUDA events, CPU times from perf_counter.

Roofline: an elementwise op must read its input and write its output, so forward moves
2·N elements and forward+backward 5·N (backward reads the incoming gradient and what
forward saved, and writes the input gradient). The machine's bandwidth is that of a
large tensor copy (read + write) measured in the same run; the fraction is the achieved
elements/s over bandwidth / (bytes per element · elements moved per element).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch

from actbench.activations import ActivationSpec

ELEMENTS_MOVED = {"forward": 2, "forward+backward": 5}

# The plain torch formula of each activation whose module is a custom autograd Function.
COMPOSITES: dict[str, Callable[[torch.Tensor, dict], torch.Tensor]] = {
    "srelu": lambda x, p: torch.where(
        x <= -p["t"],
        torch.zeros_like(x),
        torch.where(x < p["t"], x * (torch.sin(math.pi / (2 * p["t"]) * x) + 1) / 2, x),
    ),
    # alpha as a constant: no alpha gradient to reduce, so the comparison favours the composite.
    "ralu": lambda x, p: x * (x * x + p["alpha"]) / (x * x + 1),
    "squareplus": lambda x, p: (x + torch.sqrt(x * x + p["b"])) / 2,
}


@dataclass(frozen=True)
class Timing:
    activation: str
    variant: str  # eager, custom-autograd or compile
    pass_: str  # forward or forward+backward
    elements_per_s: float
    roofline_fraction: float
    saved_bytes_per_element: float  # memory kept for backward, per input element

    def to_dict(self) -> dict:
        return {("pass" if k == "pass_" else k): v for k, v in asdict(self).items()}


def _clock(device: torch.device) -> Callable[[Callable[[], object]], float]:
    """A function timing one call in seconds: CUDA events on a GPU, perf_counter elsewhere."""
    if device.type == "cuda":

        def timed(call: Callable[[], object]) -> float:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            call()
            end.record()
            torch.cuda.synchronize(device)
            return start.elapsed_time(end) / 1e3

        return timed

    def timed_cpu(call: Callable[[], object]) -> float:
        start = time.perf_counter()
        call()
        return time.perf_counter() - start

    return timed_cpu


def median_time(call: Callable[[], object], device: torch.device, repeats: int, warmup: int = 3) -> float:
    clock = _clock(device)
    for _ in range(warmup):
        call()
    return statistics.median(clock(call) for _ in range(repeats))


def copy_bandwidth(size: int, dtype: torch.dtype, device: torch.device, repeats: int) -> float:
    """Bytes/s of a large tensor copy, read and write counted."""
    src = torch.empty(size, dtype=dtype, device=device).normal_()
    dst = torch.empty_like(src)
    seconds = median_time(lambda: dst.copy_(src), device, repeats)
    return 2 * size * src.element_size() / seconds


def saved_bytes(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> int:
    """Bytes of the tensors autograd keeps for backward when ``fn`` runs on ``x``
    (each storage counted once, the input included when it is saved)."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(x)
    return sum(seen.values())


def variants(spec: ActivationSpec, compile_: bool) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """eager (plain torch ops), custom-autograd (the module, where it is a custom Function),
    compile (torch.compile of the module)."""
    module = spec.build()
    out: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {}
    if spec.target in COMPOSITES:
        params = dict(spec.kwargs)
        out["eager"] = lambda x: COMPOSITES[spec.target](x, params)
        out["custom-autograd"] = module
    else:
        out["eager"] = module
    if compile_:
        out["compile"] = torch.compile(module)
    return out


def measure(
    spec: ActivationSpec,
    size: int,
    dtype: torch.dtype,
    device: torch.device,
    repeats: int,
    bandwidth: float,
    compile_: bool = True,
) -> list[Timing]:
    """Throughput of each variant of ``spec`` on a tensor of ``size`` N(0, 1) elements."""
    x = torch.randn(size, dtype=dtype, device=device)
    rows = []
    for name, fn in variants(spec, compile_).items():
        if isinstance(fn, torch.nn.Module):
            fn.to(device=device, dtype=dtype)
        leaf = x.clone().requires_grad_()
        grad = torch.ones_like(x)

        def forward_only(fn=fn) -> None:
            with torch.no_grad():
                fn(x)

        def forward_backward(fn=fn, leaf=leaf, grad=grad) -> None:
            fn(leaf).backward(grad)

        kept = saved_bytes(fn, leaf) / size
        for pass_, call in (("forward", forward_only), ("forward+backward", forward_backward)):
            rate = size / median_time(call, device, repeats)
            roof = bandwidth / (x.element_size() * ELEMENTS_MOVED[pass_])
            rows.append(Timing(spec.unversioned, name, pass_, rate, rate / roof, kept))
    return rows
