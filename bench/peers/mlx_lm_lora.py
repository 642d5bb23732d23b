"""mlx-lm worker of bench/peers/run_peers.py: LoRA training steps of the `small` shape.

  python mlx_lm_lora.py --dtype float32|bfloat16 --seq N --batch B --steps S

mlx-lm's own Llama model (mlx_lm.models.llama) with random weights (no download), converted by its
linear_to_lora_layers (r16, scale alpha/r = 2, q_proj and v_proj of every layer), its default_loss,
and the step of its LoRA trainer (mlx_lm.tuner.trainer.train): nn.value_and_grad and the AdamW
update under mx.compile with the model and optimizer state as inputs/outputs.
Rows are seq + 1 tokens (the trainer's layout: inputs batch[:, :-1], targets batch[:, 1:]).
MLX picks its own CPU threads; --threads is recorded, not applied.
"""

import argparse
import time
from functools import partial

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import mlx_lm
from mlx.utils import tree_flatten
from mlx_lm.models import llama
from mlx_lm.tuner.trainer import default_loss
from mlx_lm.tuner.utils import linear_to_lora_layers

import shape


def build_model(dtype):
    s = shape.SMALL
    args = llama.ModelArgs(model_type="llama", hidden_size=s["hidden_size"],
                           num_hidden_layers=s["num_hidden_layers"],
                           intermediate_size=s["intermediate_size"],
                           num_attention_heads=s["num_attention_heads"], rms_norm_eps=s["rms_norm_eps"],
                           vocab_size=s["vocab_size"], head_dim=s["head_dim"],
                           max_position_embeddings=s["max_position_embeddings"],
                           num_key_value_heads=s["num_key_value_heads"], rope_theta=s["rope_theta"],
                           tie_word_embeddings=s["tie_word_embeddings"])
    mx.random.seed(0)
    model = llama.Model(args)
    model.set_dtype(dtype)
    model.freeze()
    keys = ["self_attn." + t for t in shape.LORA_TARGETS]
    linear_to_lora_layers(model, s["num_hidden_layers"],
                          {"rank": shape.LORA_RANK, "scale": shape.LORA_ALPHA / shape.LORA_RANK,
                           "dropout": 0.0, "keys": keys})
    mx.eval(model.parameters())
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], required=True)
    shape.add_run_args(parser)
    args = parser.parse_args()
    mx.set_default_device(mx.cpu)

    model = build_model(getattr(mx, args.dtype))
    model.train()
    optimizer = optim.AdamW(learning_rate=shape.LEARNING_RATE, weight_decay=shape.WEIGHT_DECAY)
    loss_value_and_grad = nn.value_and_grad(model, default_loss)
    state = [model.state, optimizer.state, mx.random.state]

    @partial(mx.compile, inputs=state, outputs=state)
    def step(batch, lengths):
        (loss, _), grad = loss_value_and_grad(model, batch, lengths)
        optimizer.update(model, grad)
        return loss

    batch = mx.random.randint(3, shape.SMALL["vocab_size"], (args.batch, args.seq + 1), key=mx.random.key(1))
    lengths = mx.array([[0, args.seq]] * args.batch)

    def one_step():
        loss = step(batch, lengths)
        mx.eval(state, loss)
        return loss.item()

    one_step()  # warm-up (and compilation)
    mx.reset_peak_memory()
    t0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(args.steps):
        loss = one_step()
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - cpu0
    trainable = sum(v.size for _, v in tree_flatten(model.trainable_parameters()))
    shape.print_result(args, seconds, cpu_seconds, loss, mx_peak_mb=mx.get_peak_memory() / 2**20,
                       mlx=mx.__version__, mlx_lm=mlx_lm.__version__, trainable=trainable)


if __name__ == "__main__":
    main()
