"""Peer comparison: mlxft's LoRA training throughput and memory beside PEFT+torch and mlx-lm.

  python bench/peers/run_peers.py [--train-bench build/bench/train_bench] [--seqs 512,1024]
                                  [--batch 2] [--steps 3] [--threads 2] [--rounds 3]
                                  [--only NAME,...] [--json build/bench/peers.json]
                                  [--targets q_proj,v_proj|all]
  python bench/peers/run_peers.py --real smollm2 [--mlxft build/mlxft] [--real-model PATH] [...]

Run it with a Python that has torch, transformers, peft and mlx-lm (make bench-peers builds
.venv-bench for it, or MLXFT_BENCH_PYTHON names an existing one). Every run is its own process,
one after the other, on the same shape: mlxft's `small` preset architecture (126M parameters,
random weights, see shape.py), batch x seq random tokens, LoRA r16 alpha 32 on q_proj/v_proj,
AdamW, one warm-up step then --steps timed optimizer steps. Runs:
  mlxft-auto         bench/train_bench with mlxft's CPU defaults: float32 weights, model.compute_dtype
                     auto (the frozen matmuls in bf16 where AMX/AVX512-BF16 make it fast, else
                     float32), all cores
  mlxft-fp32         the same with compute_dtype float32
  mlxft-bf16-weights bf16 base weights and activations, compute auto (the counterpart of
                     peft-bf16-weights; adapters float32 as there)
  peft-fp32          PEFT + torch, float32 (peft_torch.py)
  peft-bf16-weights  PEFT + torch, the model in bf16, adapters float32 (PEFT's default)
  peft-bf16-autocast PEFT + torch, float32 weights under torch.autocast(cpu, bf16) (HF Trainer bf16=True)
  mlx-lm-fp32        mlx-lm's model, LoRA layers and compiled trainer step (mlx_lm_lora.py), with
                     the system's OpenBLAS preloaded under the MLX wheel (LD_PRELOAD, and
                     OPENBLAS_CORETYPE as mlxft sets it), the BLAS mlxft's build links
--real smollm2 (make bench-peers-smollm2) trains the real SmolLM2-135M-Instruct instead (issue 32): its
shipped Q4_1 GGUF (`shipped:smollm2-135m-instruct-q4_1`, or --real-model PATH) and the float32 HF
directory `mlxft fuse` makes of it without an adapter (the 4-bit weights dequantized, made once and kept
in build/bench/smollm2-135m-instruct-f32; --mlxft names the CLI), so every run trains the very same
weights; defaults seq 512, batch 4, LoRA r16 alpha 32 on all seven projections (--targets all). Runs:
  mlxft-q4           train_bench --model on the GGUF, loaded as `mlxft train` loads it: the 4-bit
                     modules stay quantized, dequantized per call (QLoRA); compute dtype auto
  mlxft-float        train_bench --model on the float directory: float32 weights, compute dtype auto
  mlxft-float-fp32   the same with compute_dtype float32 (not run by default)
  mlxft-q4-lora-blas mlxft-q4 with LoRA's products as MLX matmuls on OpenBLAS (MLXFT_LORA_KERNEL=0): the
                     low-rank kernels' before (not run by default)
  peft-fp32, peft-bf16-weights, peft-bf16-autocast
                     peft_torch.py --model-dir on the float directory (transformers loads it), as above
Its JSON goes to build/bench/peers-smollm2.json unless --json says otherwise.
Not run by default (--only NAME): mlx-lm-fp32-wheel-blas (the wheel as installed: its bundled
reference BLAS is about 70x slower, minutes per step here) and mlx-lm-bf16 (MLX's CPU bf16 matmul
has no BLAS path: minutes per step). A run that fails or outlives --timeout is reported as failed
and the others go on.
Measured: trained tokens/s (batch x seq per optimizer step over the timed steps), seconds per step,
CPU seconds per step (user + system of every thread of the process over the timed steps: other
processes on the machine change it far less than the wall time; spin-waiting threads count),
peak RSS of the process (ru_maxrss from wait4: the whole process, model build and warm-up
included) and, for MLX-based runs, MLX's peak allocation over the timed steps (mx peak).
Torch gets torch.set_num_threads(--threads); mlxft and MLX keep their own defaults.
Before the timed runs, an untimed pass runs every program once (one step at the first length) so
that none of them pays for reading its libraries back into the page cache: measured on the EPYC,
whichever run came first after other work used 1.2-1.7 of 2 cores (its CPU seconds per step as
usual, its wall time up to 50 % longer); --no-warm-pass skips it.
Rounds: every program runs --rounds times per length, interleaved (a, b, c, a, b, c, ...), and the
table shows each program's fastest round, with every round's tokens/s beside it. Other work on the
machine only ever slows a run down, so the fastest of a few interleaved rounds is the steadiest
estimate of each program's own speed: on the shared EPYC, single rounds of the same program varied
by 10-20 % within minutes, PEFT's more than mlxft's.
MFU: every row's model FLOPs (train_bench's "model GFLOP / token" of the same model and shape:
4 N_matmul + 6 N_lora + attention, forward + backward, bench/train_bench.cpp) over the machine's bf16 peak
(the AVX512-BF16 dot-product loop of bench/peak_flops.h, the best that any mlxft run of the table
measured): one denominator for every run, whatever its dtype.
Prints a table and the ratios of mlxft's tokens/s over each peer's; writes all of it (every round
too) as JSON.
"""

import argparse
import ctypes.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def openblas_env():
    """The environment that puts OpenBLAS under MLX's Python wheel, as mlxft's build does for mlxft:
    LD_PRELOAD of libopenblas (its cblas_sgemm interposes on the wheel's reference BLAS) and, on
    AVX-512 CPUs, OPENBLAS_CORETYPE as mlxft sets it (src/mlxft/util/blas.cpp). {} without OpenBLAS."""
    lib = ctypes.util.find_library("openblas")
    if not lib:
        return {}
    env = {"LD_PRELOAD": lib}
    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    if "OPENBLAS_CORETYPE" not in os.environ and " avx512f" in flags:
        env["OPENBLAS_CORETYPE"] = "Cooperlake" if " avx512_bf16" in flags else "SkylakeX"
    return env


# --real NAME: the model trained (a GGUF or shipped name) and the name of its fused float directory.
REAL_MODELS = {
    "smollm2": dict(source="shipped:smollm2-135m-instruct-q4_1", float_dir="smollm2-135m-instruct-f32"),
}


def float_model_dir(args):
    """The float32 HF directory of the --real model, made once with `mlxft fuse` (no adapter: the base,
    dequantized) under build/bench/ and reused while its config.json is there."""
    out = os.path.join(args.cache_dir, REAL_MODELS[args.real]["float_dir"])
    if os.path.exists(os.path.join(out, "config.json")):
        return out
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    command = [args.mlxft, "fuse", "--model", args.real_model, "--out", tmp, "--dtype", "float32"]
    print(f"making the float model: {' '.join(command)}", file=sys.stderr, flush=True)
    if subprocess.run(command).returncode != 0:
        sys.exit(f"run_peers: `{' '.join(command)}` failed; build the CLI (cmake --build build --target mlxft) "
                 "or name it with --mlxft")
    os.replace(tmp, out)
    return out


def real_runs(args):
    """(name, command, extra environment) of the --real runs at one sequence length, in order."""
    common = ["--seq", "{seq}", "--batch", str(args.batch), "--steps", str(args.steps), "--targets", args.targets]
    tb = [args.train_bench] + common
    peft = [args.python, os.path.join(HERE, "peft_torch.py"), "--model-dir", args.float_dir,
            "--threads", str(args.threads)] + common
    return [
        ("mlxft-q4", tb + ["--model", args.real_model, "--compute-dtype", "auto"], {}),
        ("mlxft-float", tb + ["--model", args.float_dir, "--compute-dtype", "auto"], {}),
        ("mlxft-float-fp32", tb + ["--model", args.float_dir, "--compute-dtype", "float32"], {}),
        ("mlxft-q4-lora-blas", tb + ["--model", args.real_model, "--compute-dtype", "auto"],
         {"MLXFT_LORA_KERNEL": "0"}),
        ("peft-fp32", peft + ["--precision", "fp32"], {}),
        ("peft-bf16-weights", peft + ["--precision", "bf16-weights"], {}),
        ("peft-bf16-autocast", peft + ["--precision", "bf16-autocast"], {}),
    ]

DEFAULT_REAL_RUNS = "mlxft-q4,mlxft-float,peft-fp32,peft-bf16-weights,peft-bf16-autocast"


def runs(args):
    """(name, command, extra environment) of every run at one sequence length, in order."""
    if args.real:
        return real_runs(args)
    tb = [args.train_bench, "--preset", "small", "--seq", "{seq}", "--batch", str(args.batch),
          "--steps", str(args.steps), "--targets", args.targets]
    py = [args.python]
    shape = ["--seq", "{seq}", "--batch", str(args.batch), "--steps", str(args.steps),
             "--threads", str(args.threads)]
    peft = py + [os.path.join(HERE, "peft_torch.py"), "--targets", args.targets] + shape
    mlxlm = py + [os.path.join(HERE, "mlx_lm_lora.py")] + shape
    blas = openblas_env()
    return [
        ("mlxft-auto", tb + ["--dtype", "float32", "--compute-dtype", "auto"], {}),
        ("mlxft-fp32", tb + ["--dtype", "float32", "--compute-dtype", "float32"], {}),
        ("mlxft-bf16-weights", tb + ["--dtype", "bfloat16", "--compute-dtype", "auto"], {}),
        ("peft-fp32", peft + ["--precision", "fp32"], {}),
        ("peft-bf16-weights", peft + ["--precision", "bf16-weights"], {}),
        ("peft-bf16-autocast", peft + ["--precision", "bf16-autocast"], {}),
        ("mlx-lm-fp32", mlxlm + ["--dtype", "float32"], blas),
        ("mlx-lm-fp32-wheel-blas", mlxlm + ["--dtype", "float32"], {}),
        ("mlx-lm-bf16", mlxlm + ["--dtype", "bfloat16"], blas),
    ]

DEFAULT_RUNS = ("mlxft-auto,mlxft-fp32,mlxft-bf16-weights,peft-fp32,peft-bf16-weights,peft-bf16-autocast,"
                "mlx-lm-fp32")


def parse_train_bench(text):
    """The numbers of train_bench's report (see bench/train_bench.cpp)."""
    def number(label):
        m = re.search(re.escape(label) + r"\s+([0-9.]+)", text)
        if not m:
            raise RuntimeError(f"train_bench output has no '{label}':\n{text}")
        return float(m.group(1))
    m = re.search(r"compute (kernels \w+|mlx)", text)
    peak = re.search(r"bf16 peak GFLOP/s:\s+([0-9.]+)", text)  # absent where the CPU lacks AVX512-BF16
    return dict(tokens_per_s=number("trained tokens/s:"), s_per_step=number("seconds / step:"),
                cpu_s_per_step=number("CPU seconds / step:"),
                mx_peak_mb=number("peak memory (MLX):") * 1e9 / 2**20, loss=number("loss"),
                compute=m.group(1) if m else "?", gflop_per_token=number("model GFLOP / token:"),
                bf16_peak_gflops=float(peak.group(1)) if peak else None)


def run_one(name, command, env, timeout):
    """Runs one benchmark process; its result with the process's peak RSS (from wait4), or
    {"error": ...} when it fails or outlives `timeout` seconds (the other runs go on)."""
    print(f"  {name}: {' '.join(f'{k}={v}' for k, v in env.items())} {' '.join(command)}",
          file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+") as out_file, tempfile.TemporaryFile(mode="w+") as err_file:
        proc = subprocess.Popen(command, stdout=out_file, stderr=err_file, text=True, cwd=HERE,
                                env={**os.environ, **env})
        while True:  # wait4, not wait: this child's own rusage
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - t0 > timeout:
                proc.kill()
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.2)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read(), err_file.read()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        why = f"timed out after {timeout} s" if wall > timeout else f"exit status {proc.returncode}"
        print(f"  {name} failed ({why}):\n{out[-2000:]}\n{err[-2000:]}", file=sys.stderr, flush=True)
        return {"error": why, "env": env, "wall_s": wall}
    result = (parse_train_bench(out) if name.startswith("mlxft")
              else json.loads(out.strip().splitlines()[-1]))
    result.update(peak_rss_mb=usage.ru_maxrss / 1024.0, wall_s=wall, env=env)
    return result

def machine():
    """The CPU model and core count (lscpu), the load average when the run started."""
    model = platform.processor()
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = re.search(r"Model name:\s*(.+)", lscpu).group(1).strip()
    except (OSError, AttributeError):
        pass
    return dict(cpu=model, cores=os.cpu_count(), loadavg=os.getloadavg())


def tokens_per_cpu_s(r):
    """Trained tokens per CPU second (every thread): the measure a shared machine disturbs least."""
    return r["tokens_per_s"] * r["s_per_step"] / r["cpu_s_per_step"]


def model_flops(results):
    """(GFLOP per trained token, the machine's bf16 peak GFLOP/s) from the table's mlxft runs, every round
    of them: the same model and shape give every run the same FLOPs; the peak is the best measured (other
    work only ever lowers a measurement). None where no mlxft run reported them."""
    mlxft_rounds = [r for n, best in results.items() if n.startswith("mlxft") for r in best["rounds"]
                    if "error" not in r]
    flops = [r["gflop_per_token"] for r in mlxft_rounds if r.get("gflop_per_token")]
    peaks = [r["bf16_peak_gflops"] for r in mlxft_rounds if r.get("bf16_peak_gflops")]
    return (max(flops) if flops else None), (max(peaks) if peaks else None)


def print_table(seq, all_results, baseline_names, real=False):
    print(f"\nseq {seq}:")
    for name, r in all_results.items():
        if "error" in r:
            print(f"  {name:20s} failed: {r['error']}")
    results = {n: r for n, r in all_results.items() if "error" not in r}
    gflop, peak = model_flops(all_results)
    print(f"  {'run':20s} {'tokens/s':>9s} {'s/step':>8s} {'CPU s/step':>10s} {'tok/CPU-s':>9s} "
          f"{'peak RSS MB':>12s} {'mx peak MB':>11s} {'MFU bf16':>8s}  tokens/s of every round")
    for name, r in results.items():
        mx_peak = f"{r['mx_peak_mb']:.0f}" if "mx_peak_mb" in r else "-"
        per_cpu = tokens_per_cpu_s(r)
        rounds = " ".join("failed" if t is None else f"{t:.0f}" for t in r["rounds_tokens_per_s"])
        mfu = "-"
        if gflop and peak:
            r["mfu_bf16_peak"] = r["tokens_per_s"] * gflop / peak
            mfu = f"{100 * r['mfu_bf16_peak']:.1f} %"
        print(f"  {name:20s} {r['tokens_per_s']:9.1f} {r['s_per_step']:8.2f} {r['cpu_s_per_step']:10.2f} "
              f"{per_cpu:9.1f} {r['peak_rss_mb']:12.0f} {mx_peak:>11s} {mfu:>8s}  {rounds}")
    if gflop and peak:
        print(f"  MFU bf16 = tokens/s x {gflop:.3f} GFLOP/token (train_bench's model FLOPs) / the bf16 peak "
              f"{peak:.0f} GFLOP/s (bench/peak_flops.h)")
    for mine in baseline_names:
        if mine not in results:
            continue
        ratios = {n: results[mine]["tokens_per_s"] / r["tokens_per_s"]
                  for n, r in results.items() if not n.startswith("mlxft")}
        cpu_ratios = {n: tokens_per_cpu_s(results[mine]) / tokens_per_cpu_s(r)
                      for n, r in results.items() if not n.startswith("mlxft")}
        if ratios:
            print(f"  {mine} / peer, tokens/s:     " + ", ".join(f"{n} {v:.2f}x" for n, v in ratios.items()))
            print(f"  {mine} / peer, tokens/CPU-s: " + ", ".join(f"{n} {v:.2f}x" for n, v in cpu_ratios.items()))
            results[mine]["ratios"] = ratios
            results[mine]["cpu_ratios"] = cpu_ratios
    if real:
        peft = [n for n in results if n.startswith("peft")]
        for name in [n for n in results if n.startswith("mlxft")]:
            if not peft:
                break
            fastest = max(peft, key=lambda n: results[n]["tokens_per_s"])
            wall = results[name]["tokens_per_s"] / results[fastest]["tokens_per_s"]
            fastest_cpu = max(peft, key=lambda n: tokens_per_cpu_s(results[n]))
            cpu = tokens_per_cpu_s(results[name]) / tokens_per_cpu_s(results[fastest_cpu])
            results[name]["goal_ratio"] = wall
            print(f"  goal (issue 32, wanted >= 1.5x): {name} / fastest PEFT+torch ({fastest}) = {wall:.2f}x "
                  f"in tokens/s; {cpu:.2f}x in tokens/CPU-s (over {fastest_cpu})")
        return
    bf16 = [n for n in results if n.startswith("peft-bf16")]
    for name in ("mlxft-auto", "mlxft-bf16-weights"):
        if name not in results or not bf16:
            continue
        mine = results[name]
        fastest = max(bf16, key=lambda n: results[n]["tokens_per_s"])
        wall = mine["tokens_per_s"] / results[fastest]["tokens_per_s"]
        cpu = tokens_per_cpu_s(mine) / max(tokens_per_cpu_s(results[n]) for n in bf16)
        need = results[fastest].get("mfu_bf16_peak")
        need = f"; 1.8x would take {180 * need:.0f} % of the bf16 peak" if need else ""
        print(f"  goal (issue 32, wanted >= 1.8x): {name} / fastest PEFT+torch bf16 = {wall:.2f}x "
              f"in tokens/s, {cpu:.2f}x in tokens/CPU-s{need}")


def fastest_round(rounds):
    """The round with the most tokens/s (an error when every round failed), with every round's
    tokens/s (None for a failed one) and every round's result attached."""
    good = [r for r in rounds if "error" not in r]
    best = dict(max(good, key=lambda r: r["tokens_per_s"]) if good else rounds[-1])
    best["rounds_tokens_per_s"] = [r.get("tokens_per_s") for r in rounds]
    best["rounds"] = rounds
    return best

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-bench", default=os.path.join(HERE, "..", "..", "build", "bench", "train_bench"))
    parser.add_argument("--python", default=sys.executable, help="Python of the peer workers")
    parser.add_argument("--real", choices=sorted(REAL_MODELS),
                        help="train this real model (its GGUF and its fused float directory) instead of the preset")
    parser.add_argument("--real-model", help="with --real: the GGUF (or shipped:NAME) to train and fuse "
                        "(default: the named model's shipped GGUF)")
    parser.add_argument("--mlxft", default=os.path.join(HERE, "..", "..", "build", "mlxft"),
                        help="the CLI that fuses the --real model's float directory")
    parser.add_argument("--cache-dir", default=os.path.join(HERE, "..", "..", "build", "bench"),
                        help="where the fused float directory is kept")
    parser.add_argument("--targets", help="LoRA targets of mlxft and PEFT: comma-separated, or all "
                        "(default: q_proj,v_proj; all with --real)")
    parser.add_argument("--seqs", help="sequence lengths (default 512,1024; 512 with --real)")
    parser.add_argument("--batch", type=int, help="rows per step (default 2; 4 with --real)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch intra-op threads")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs of every program per length")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds one run may take")
    parser.add_argument("--only", help="comma-separated run names (default: every run but the slow ones)")
    parser.add_argument("--no-warm-pass", action="store_true", help="skip the untimed pass over every program")
    parser.add_argument("--json", help="where the JSON goes (default build/bench/peers.json, "
                        "build/bench/peers-smollm2.json with --real smollm2)")
    args = parser.parse_args()
    real = args.real is not None
    args.targets = args.targets or ("all" if real else "q_proj,v_proj")
    args.seqs = args.seqs or ("512" if real else "512,1024")
    args.batch = args.batch or (4 if real else 2)
    args.only = args.only or (DEFAULT_REAL_RUNS if real else DEFAULT_RUNS)
    args.train_bench = os.path.abspath(args.train_bench)
    args.mlxft, args.cache_dir = os.path.abspath(args.mlxft), os.path.abspath(args.cache_dir)
    args.json = args.json or os.path.join(args.cache_dir, f"peers-{args.real}.json" if real else "peers.json")
    if real:
        args.real_model = args.real_model or REAL_MODELS[args.real]["source"]
        if not args.real_model.startswith("shipped:"):
            args.real_model = os.path.abspath(args.real_model)
        args.float_dir = "FLOAT_DIR"  # made below, once the run names are checked
    if os.sep in args.python:  # a path, relative to where the user is: the workers run in bench/peers
        args.python = os.path.abspath(args.python)
    wanted = args.only.split(",")
    known = [n for n, _, _ in runs(args)]
    unknown = [n for n in wanted if n not in known]
    if unknown:
        sys.exit(f"run_peers: unknown run {unknown}; use {known}")

    if args.rounds < 1:
        sys.exit("run_peers: --rounds must be at least 1")
    if args.targets != "q_proj,v_proj" and any(n.startswith("mlx-lm") for n in wanted):
        sys.exit("run_peers: the mlx-lm runs adapt q_proj,v_proj only (mlx_lm_lora.py); leave them out with --only")
    if real:
        args.float_dir = float_model_dir(args)
    report = dict(machine=machine(), batch=args.batch, steps=args.steps, threads=args.threads,
                  rounds=args.rounds, warm_pass=not args.no_warm_pass, targets=args.targets,
                  model=args.real_model if real else "preset small",
                  float_dir=args.float_dir if real else None, seqs={})
    print(f"machine: {report['machine']}", flush=True)
    if not args.no_warm_pass:
        print("untimed pass (one step each):", file=sys.stderr, flush=True)
        once = argparse.Namespace(**{**vars(args), "steps": 1})
        seq0 = args.seqs.split(",")[0]
        for name, command, env in runs(once):
            if name in wanted:
                run_one(name, [c.format(seq=seq0) for c in command], env, args.timeout)
    for seq in [int(s) for s in args.seqs.split(",")]:
        rounds = {}
        for _ in range(args.rounds):
            for name, command, env in runs(args):
                if name in wanted:
                    rounds.setdefault(name, []).append(
                        run_one(name, [c.format(seq=seq) for c in command], env, args.timeout))
        results = {name: fastest_round(r) for name, r in rounds.items()}
        report["seqs"][seq] = results
        print_table(seq, results, [n for n in results if n.startswith("mlxft")], real)
    report["loadavg_end"] = os.getloadavg()
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json + ".tmp", "w") as f:
        json.dump(report, f, indent=2)
    os.replace(args.json + ".tmp", args.json)
    print(f"\nload average at start {report['machine']['loadavg']}, at end {report['loadavg_end']}")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
