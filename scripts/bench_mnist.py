#!/usr/bin/env python3
"""Time the MNIST protocol against the peer baseline in one run, on one machine, and compare.

1. Per model-epoch (one model trained for one epoch, test evaluation included): (a) the
   peer baseline ../shared/bench/reference_mnist.py (a per-model DataLoader loop), (b)
   actbench's sequential engine, (c) actbench's population engine at each --repeats
   (seeds per activation: 5 and 10 give 20 and 40 members); the speedup over (a) and the
   model FLOP rate as a fraction of the machine's matmul peak (a large torch.mm, measured
   in the same run).
2. The whole command line: `actbench run` of --acts x --cli-repeats seeds x 1 epoch, process
   wall time (start-up, data, training, evaluation, the store) against the baseline's
   process wall time for the same models; then the same command again, all trials already
   stored (start-up alone). Target: 8x.
3. What bounds a population step at the largest --repeats: the step's parts timed alone at
   its shapes (the first layer's products in the engine's seed-block layout and in the
   per-member layout it replaced, the later layers' products, the fused AdamW update, the
   activations), interleaved and given as medians, and the fraction of peak a step made
   only of them could reach. Target: 60% of peak at 40 members.
4. The custom-autograd activations against their plain composites of torch ops.

    python scripts/bench_mnist.py --data-dir ../shared/data/mnist            # all of it: ~3 min
    python scripts/bench_mnist.py --task mnist-mini --repeats 2 --no-cli    # a quick look

Other jobs on the machine slow every figure, the population's most (two threads that
wait on each other); the bounds are interleaved so that load hits every candidate alike.
Data loading is outside the timings of 1 and 3; part 1 fills the decoded cache, so part 2
measures a warm one (as every run after the first).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from actbench.activations import canonical_spec, parse_activation
from actbench.api import TrainContext, Trial
from actbench.inspect.speed import median_time, variants
from actbench.run.engines.population import run_population
from actbench.run.engines.sequential import run_sequential
from actbench.tasks import get_task
from actbench.tasks.mlp.data import MNIST_MINI_DIR
from actbench.tasks.mlp.population import Member
from actbench.tasks.mlp.population.model import Population, make_population_optimizer
from actbench.tasks.mlp.population.seed_blocks import FirstLayer

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "bench" / "reference_mnist.py"
CLI_TARGET = 8.0  # x the baseline's process wall time
PEAK_TARGET = 0.60  # of the matmul peak per model-epoch, at 40 members


def matmul_peak_gflops(size: int = 4096, repeats: int = 5) -> float:
    """Best-of-``repeats`` float32 GFLOP/s of one size x size matmul: the machine's practical peak."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm-up: thread pool, caches
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def flops_per_model_epoch(sizes: list[int], n_train: int, n_test: int) -> float:
    """Matmul FLOPs of one MLP epoch: forward, weight and input gradients per training row
    (no input gradient for the first layer), and a forward per test row."""
    weights = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    per_train_row = 2 * sum(weights) + 2 * sum(weights) + 2 * sum(weights[1:])
    return n_train * per_train_row + n_test * 2 * sum(weights)


def run_reference(data_dir: Path, acts: list[str], repeats: int) -> tuple[float, float]:
    """(its own timer: training and test evaluation; the process's wall seconds, start-up included)."""
    command = [
        sys.executable,
        str(REFERENCE),
        str(data_dir),
        "--acts",
        ",".join(acts),
        "--repeats",
        str(repeats),
        "--epochs",
        "1",
    ]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])["wall_s"], time.perf_counter() - start


def run_actbench(engine: str, task: str, acts: list[str], seeds: list[int], ctx: TrainContext) -> float:
    hp = get_task(task).resolve_hparams({"epochs": 1})
    trials = [Trial(task, canonical_spec(act), seed, hp) for seed in seeds for act in acts]
    get_task(task).prepare(ctx, hp)  # data loading is not training time
    start = time.perf_counter()
    results = list((run_population if engine == "population" else run_sequential)(trials, ctx))
    elapsed = time.perf_counter() - start
    assert all(r.status == "ok" for r in results)
    return elapsed


def actbench_command() -> list[str]:
    """The `actbench` of this interpreter's environment (the console script, else its entry point)."""
    script = Path(sys.executable).parent / "actbench"
    if script.exists():
        return [str(script)]
    found = shutil.which("actbench")
    return (
        [found]
        if found
        else [sys.executable, "-c", "import sys; from actbench.cli import main; sys.argv[0] = 'actbench'; main()"]
    )


def run_cli(task: str, data_dir: Path, acts: list[str], repeats: int, results: Path) -> float:
    """Process wall seconds of one `actbench run` of the workload into ``results``."""
    command = [
        *actbench_command(),
        "run",
        "--task",
        task,
        "--acts",
        ",".join(acts),
        "--repeats",
        str(repeats),
        "--epochs",
        "1",
        "--results-dir",
        str(results),
        "-q",
    ]
    if task != "mnist-mini":
        command += ["--data-dir", str(data_dir)]
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, text=True, check=True)
    return time.perf_counter() - start


def interleaved(candidates: dict[str, object], rounds: int = 9, calls: int = 5) -> dict[str, float]:
    """Median seconds per call of each candidate, timed in turn (A, B, C, A, B, C, ...)."""
    for call in candidates.values():
        call()
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, call in candidates.items():
            start = time.perf_counter()
            for _ in range(calls):
                call()
            times[name].append((time.perf_counter() - start) / calls)
    return {name: statistics.median(t) for name, t in times.items()}


def step_bounds(acts: list[str], seeds: int, hp: dict, sizes: list[int]) -> dict[str, float]:
    """Seconds per step of a population step's parts, alone, at its shapes (see the module docstring)."""
    (fan_in, width), rows = sizes[:2], hp["batch_size"]
    members = [Member(canonical_spec(a), s) for a in acts for s in range(seeds)]
    pop = Population(sizes, members, torch.device("cpu"))
    k, per_seed = len(members), len(acts)
    gen = torch.Generator().manual_seed(0)
    x_seed = torch.randn(seeds, rows, fan_in, generator=gen)  # each seed's batch
    x_member = torch.randn(k, rows, fan_in, generator=gen)  # each member's copy of it (the old layout)
    w_block, b_block = pop.first_weights[0].detach(), pop.first_biases[0].detach()  # (S, A·out, in), (S, 1, A·out)
    w_member, b_member = torch.randn(k, fan_in, width), torch.randn(k, 1, width)  # (K, in, out): the old layout
    g_block, g_member = torch.randn(seeds, rows, per_seed * width), torch.randn(k, rows, width)

    def first_block():  # FirstLayer's forward product and weight gradient
        torch.baddbmm(b_block, x_seed, w_block.transpose(1, 2))
        torch.bmm(g_block.transpose(1, 2), x_seed)

    w_param, b_param = w_block.clone().requires_grad_(), b_block.clone().requires_grad_()
    g_out = torch.randn(k, rows, width, generator=gen)

    def first_engine():  # the same through FirstLayer: its layout copies and a backward() call of its own included
        FirstLayer.apply(x_seed, w_param, b_param, per_seed).backward(g_out)
        w_param.grad = b_param.grad = None

    def first_member():  # the per-member layout: baddbmm forward, autograd's x^T g
        torch.baddbmm(b_member, x_member, w_member)
        torch.bmm(x_member.transpose(1, 2), g_member)

    later = []
    for w, b in zip(pop.later_weights, pop.later_biases):
        h = torch.randn(k, rows, w.shape[1], generator=gen)
        g = torch.randn(k, rows, w.shape[2], generator=gen)
        later.append((h, w.detach(), b.detach(), g))

    def later_layers():  # forward, weight and input gradients
        for h, w, b, g in later:
            torch.baddbmm(b, h, w)
            torch.bmm(h.transpose(1, 2), g)
            torch.bmm(g, w.transpose(1, 2))

    optimizer = make_population_optimizer(pop, hp)
    for p in pop.stacked_parameters() + pop.activation_parameters():
        p.grad = torch.randn_like(p) * 1e-3
    modules = [pop.act_modules[g.start] for g in pop.groups]
    act_inputs = [torch.randn(seeds * rows, f, requires_grad=True) for f in sizes[1:-1]]

    def activations():
        for layer, x in enumerate(act_inputs):
            sum(mods[layer](x).sum() for mods in modules).backward()

    x_rows, order = torch.randn(60_000, fan_in), torch.randperm(60_000)[: seeds * rows]
    labels = torch.randint(0, sizes[-1], (k * rows,))
    logits = torch.randn(k * rows, sizes[-1], requires_grad=True)

    def rest():  # the step's gather of the seeds' rows and the members' loss, forward and backward
        x_rows.index_select(0, order)
        F.cross_entropy(logits, labels, reduction="none").view(k, rows).mean(dim=1).sum().backward()

    return interleaved(
        {
            "first layer, seed blocks": first_block,
            "first layer, FirstLayer + own backward()": first_engine,
            "first layer, per member (before)": first_member,
            "later layers": later_layers,
            "AdamW (fused)": optimizer.step,
            "activations": activations,
            "gather + loss": rest,
        }
    )


def activation_timings(acts: list[str], rows: int, repeats: int = 20) -> list[tuple[str, float, float]]:
    """(spec, custom ms, composite ms) of forward + backward on a (rows, 128) float32 input,
    the variants and the timer of `actbench speed`."""
    x = torch.randn(rows, 128, requires_grad=True)
    cpu = torch.device("cpu")
    out = []
    for name in acts:
        made = variants(parse_activation(name), compile_=False)
        if "custom-autograd" in made:
            custom, composite = (
                median_time(lambda f=made[v]: f(x).sum().backward(), cpu, repeats) * 1e3
                for v in ("custom-autograd", "eager")
            )
            out.append((name, custom, composite))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="mnist", choices=["mnist", "mnist-mini"])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=REPO.parent / "shared" / "data" / "mnist",
        help="MNIST .gz files (for --task mnist)",
    )
    parser.add_argument("--acts", default="relu,gelu,silu,srelu")
    parser.add_argument("--repeats", default="5,10", help="seeds per activation of each population (comma list)")
    parser.add_argument("--cli-repeats", type=int, default=5, help="seeds per activation of the command-line run")
    parser.add_argument("--no-cli", action="store_true", help="skip part 2 (and the baseline's 20-model run)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    acts = args.acts.split(",")
    repeats = [int(r) for r in args.repeats.split(",")]
    data_dir = MNIST_MINI_DIR if args.task == "mnist-mini" else args.data_dir
    ctx = TrainContext(device=torch.device("cpu"), data_dir=data_dir)
    task = get_task(args.task)
    hp = task.resolve_hparams({"epochs": 1})
    data = task.data(ctx, "test")  # also fills the decoded cache before part 2
    sizes = task.layer_sizes(hp)
    flops = flops_per_model_epoch(sizes, len(data.train_x), len(data.test_x))

    peak = matmul_peak_gflops()
    # The baseline trains --cli-repeats seeds per activation: its own timer gives part 1's
    # figure (it does not depend on how many models), its process wall time part 2's.
    ref_models = len(acts) * (1 if args.no_cli else args.cli_repeats)
    ref_own, ref_process = run_reference(data_dir, acts, ref_models // len(acts))
    rows = [
        ("(a) reference DataLoader loop", ref_models, ref_own),
        ("(b) actbench sequential", len(acts), run_actbench("sequential", args.task, acts, [0], ctx)),
    ]
    for r in repeats:
        rows.append(
            (
                f"(c) actbench population, {len(acts) * r}",
                len(acts) * r,
                run_actbench("population", args.task, acts, list(range(r)), ctx),
            )
        )

    print(
        f"machine: {torch.get_num_threads()} CPU threads, torch {torch.__version__}; "
        f"matmul peak (4096x4096 float32 mm): {peak:.0f} GFLOP/s"
    )
    print(
        f"workload: {','.join(acts)} on {args.task}, 1 epoch, {len(data.train_x)} train / "
        f"{len(data.test_x)} test rows, batch {hp['batch_size']}, {flops / 1e9:.1f} GFLOP per model-epoch"
    )
    print(
        "\n1. per model-epoch\n"
        f"{'engine':<36}{'models':>7}{'s/model-epoch':>15}{'speedup':>9}{'GFLOP/s':>9}{'of peak':>9}"
    )
    baseline = rows[0][2] / rows[0][1]
    figures: dict = {"peak_gflops": peak, "flops_per_model_epoch": flops, "engines": {}}
    for name, models, wall in rows:
        per = wall / models
        rate = flops / per / 1e9
        print(f"{name:<36}{models:>7}{per:>15.3f}{baseline / per:>8.1f}x{rate:>9.1f}{rate / peak:>9.1%}")
        figures["engines"][name] = {"models": models, "wall_s": wall, "s_per_model_epoch": per, "of_peak": rate / peak}
    largest = rows[-1]
    largest_of_peak = flops / (largest[2] / largest[1]) / 1e9 / peak
    print(f"target: {PEAK_TARGET:.0%} of peak at 40 members; {largest[1]} members: {largest_of_peak:.1%}")

    if not args.no_cli:
        with tempfile.TemporaryDirectory() as tmp:
            cli = run_cli(args.task, data_dir, acts, args.cli_repeats, Path(tmp) / "results")
            again = run_cli(args.task, data_dir, acts, args.cli_repeats, Path(tmp) / "results")  # all stored
        models = len(acts) * args.cli_repeats
        print(
            f"\n2. the command line: actbench run --acts {','.join(acts)} --repeats {args.cli_repeats} --epochs 1 "
            f"({models} models), process wall time"
        )
        print(
            f"  baseline (reference_mnist.py, {models} models): {ref_process:6.1f} s "
            f"({ref_process - ref_own:.1f} s of it outside its training timer)"
        )
        print(
            f"  actbench run:                                {cli:6.1f} s   {ref_process / cli:.1f}x faster "
            f"(target {CLI_TARGET:.0f}x: {ref_process / CLI_TARGET:.1f} s)"
        )
        print(f"  the same command again, nothing to train:    {again:6.1f} s   (start-up: imports, config, store)")
        figures["cli"] = {
            "models": models,
            "baseline_process_s": ref_process,
            "baseline_timer_s": ref_own,
            "actbench_s": cli,
            "nothing_to_train_s": again,
            "speedup": ref_process / cli,
        }

    seeds = repeats[-1]
    k = len(acts) * seeds
    w = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    step_flops = k * hp["batch_size"] * (4 * sum(w) + 2 * sum(w[1:]))
    parts = step_bounds(acts, seeds, hp, sizes)
    measured_step = largest[2] / math.ceil(len(data.train_x) / hp["batch_size"])  # evaluation included: an upper bound
    print(
        f"\n3. what bounds a step of {k} members ({step_flops / 1e9:.2f} GFLOP; the parts alone, "
        f"interleaved medians; a whole step measured in 1: at most {measured_step * 1e3:.1f} ms)"
    )
    first_flops = k * hp["batch_size"] * 4 * w[0]
    later_flops = k * hp["batch_size"] * 6 * sum(w[1:])
    for name, seconds in parts.items():
        fl = first_flops if name.startswith("first") else later_flops if name == "later layers" else 0
        rate = f"{fl / seconds / 1e9:6.1f} GFLOP/s = {fl / seconds / 1e9 / peak:4.0%} of peak" if fl else ""
        print(f"  {name:<42}{seconds * 1e3:7.2f} ms   {rate}")
    gemms = parts["first layer, seed blocks"] + parts["later layers"]
    for label, seconds in (
        ("its matmuls alone", gemms),
        ("matmuls + AdamW", gemms + parts["AdamW (fused)"]),
        ("all the parts above", gemms + sum(parts[p] for p in ("AdamW (fused)", "activations", "gather + loss"))),
    ):
        print(f"  a step of {label:<26} would run at {step_flops / seconds / 1e9 / peak:4.0%} of peak")
    figures["step_bounds_s"] = parts

    population = len(acts) * seeds
    print(
        f"\n4. activations, forward + backward on ({population * hp['batch_size']}, 128) float32 "
        f"(one population step's hidden layer): custom autograd vs plain composite"
    )
    for name, custom, composite in activation_timings(acts + ["ralu", "squareplus"], population * hp["batch_size"]):
        print(f"  {name:<12} custom {custom:6.2f} ms   composite {composite:6.2f} ms   ({composite / custom:.2f}x)")
        figures.setdefault("activations", {})[name] = {"custom_ms": custom, "composite_ms": composite}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
