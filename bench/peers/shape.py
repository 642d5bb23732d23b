"""The one model and run shape every peer of bench/peers/run_peers.py trains.

The architecture is mlxft's `small` preset (src/mlxft/model/init.cpp, preset_config: Mistral-7B's
defaults with these sizes): 126M parameters, untied LM head, vocabulary 32768. LoRA r16, alpha 32
(scale 2), no dropout, on q_proj and v_proj of every layer; AdamW lr 1e-4, weight decay 0.01.
Workers print one JSON line, the `result()` of their run, as the last line of their stdout.
"""

import json
import resource

SMALL = dict(
    vocab_size=32768,
    hidden_size=768,
    intermediate_size=2048,
    num_hidden_layers=12,
    num_attention_heads=12,
    num_key_value_heads=4,
    head_dim=64,
    rope_theta=1e6,
    rms_norm_eps=1e-5,
    max_position_embeddings=32768,
    tie_word_embeddings=False,
)
# mlxft's `mistral-7b-shape` preset (Mistral-7B-v0.1/v0.3's sizes, vocabulary 32768): the GPU rows of
# make device-check (bench/peers/device_bench.py).
MISTRAL_7B = dict(SMALL, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                  num_attention_heads=32, num_key_value_heads=8, head_dim=128)
SHAPES = {"small": SMALL, "mistral-7b-shape": MISTRAL_7B}
LORA_RANK = 16
LORA_ALPHA = 32.0
LORA_TARGETS = ["q_proj", "v_proj"]
# --targets all: the seven projections (mlxft's lora_target_names(), PEFT's module names alike).
ALL_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
LEARNING_RATE = 1e-4
WEIGHT_DECAY = 0.01


def add_run_args(parser):
    """The options every worker takes: the run shape and thread count."""
    parser.add_argument("--seq", type=int, default=512, help="tokens per row")
    parser.add_argument("--batch", type=int, default=2, help="rows per step")
    parser.add_argument("--steps", type=int, default=3, help="timed optimizer steps after one warm-up")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="small", help="the model's sizes")
    parser.add_argument("--device", default="cpu", help="torch device: cpu | cuda")


def own_peak_rss_mb():
    """This process's resident-set high-water mark (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def print_result(args, seconds, cpu_seconds, loss, **extra):
    """Prints the worker's result line: trained tokens/s counts batch x seq per optimizer step;
    cpu_seconds is the process's CPU time (every thread, time.process_time) over the timed steps."""
    step_s = seconds / args.steps
    out = dict(tokens_per_s=args.batch * args.seq / step_s, s_per_step=step_s,
               cpu_s_per_step=cpu_seconds / args.steps, loss=float(loss),
               worker_peak_rss_mb=own_peak_rss_mb())
    out.update(extra)
    print(json.dumps(out), flush=True)
