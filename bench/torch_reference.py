"""Plain PyTorch baseline for the TS training/generation benchmarks.

Runs the reference models from test/reference/torch_model.py with the same shapes the TS engine
benchmark uses and prints ONE JSON line.

  /usr/bin/python3 bench/torch_reference.py --mode train --arch gpt2 --vocab 512 --d-model 256 \
      --layers 4 --heads 4 --context 128 --batch 16
  /usr/bin/python3 bench/torch_reference.py --mode generate --arch llama ... --new-tokens 64

train:    AdamW (lr 3e-4, weight decay 0.01), next-token cross-entropy on random [B, T] batches,
          global-norm clipping at 1.0; W warm-up steps, then S timed steps; tokens/s = B*T*S / time.
generate: B random prompts of length P, greedy decoding of N new tokens with a per-layer KV cache
          (keys/values concatenated each step); W warm-up runs, then S timed runs;
          tokens/s = B*N*S / time (time includes the prompt forward).
gflops:   achieved GFLOP/s. train: (6*params + 12*layers*T*d_model) FLOPs per token (weights plus
          full, unmasked attention scores); generate: 2*params per forward token (prompt tokens plus
          generated tokens that are fed back). `params` counts weights used in matmuls (embedding
          lookups such as wpe, or an untied input embedding, are left out; a tied head is counted).
matmul:   an N x N by N x N float32 product (--size N), W warm-up then S timed: TFLOP/s.
--device cuda runs on the GPU (float32, TF32 off, so both sides do the same arithmetic), timing
          with torch.cuda.synchronize(); the default is the CPU.
cpu_seconds (process CPU time) and load_avg_1m are printed too: on a shared machine a wall-clock
figure far above cpu_seconds means other processes took the cores.
Threads default to 1 (fastest on the 2-core dev machine); the count used is in the output.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "reference"))

import torch_model as tm  # noqa: E402


def make_config(a) -> dict:
    d_ff = a.d_ff or 4 * a.d_model
    if a.arch == "gpt2":
        return {"model_type": "gpt2", "vocab_size": a.vocab, "n_embd": a.d_model, "n_layer": a.layers,
                "n_head": a.heads, "n_positions": a.context, "n_inner": d_ff,
                "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5}
    return {"model_type": "llama", "vocab_size": a.vocab, "hidden_size": a.d_model,
            "intermediate_size": d_ff, "num_hidden_layers": a.layers, "num_attention_heads": a.heads,
            "num_key_value_heads": a.kv_heads or a.heads, "max_position_embeddings": a.context,
            "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "hidden_act": "silu",
            "tie_word_embeddings": False}


def init_small(model: torch.nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=g) * 0.02)


def matmul_params(model: torch.nn.Module) -> int:
    skip = {"transformer.wpe.weight"}
    if isinstance(model, tm.LlamaForCausalLM) and not model.tied:
        skip.add("model.embed_tokens.weight")
    return sum(p.numel() for n, p in model.named_parameters() if n not in skip)


# ---------------------------------------------------------------------------------------------
# KV-cache forward (the reference model itself only recomputes; the cache lives here)
# ---------------------------------------------------------------------------------------------


def _extend_cache(cache, i, k, v):
    """Appends this step's keys and values to layer i's cache; returns the whole cache."""
    if cache[i] is not None:
        k = torch.cat([cache[i][0], k], dim=2)
        v = torch.cat([cache[i][1], v], dim=2)
    else:
        k, v = k.contiguous(), v.contiguous()
    cache[i] = (k, v)
    return k, v

def cached_forward(model: torch.nn.Module, ids: torch.Tensor, cache: list, offset: int) -> torch.Tensor:
    """Run `ids` [B, t] at positions offset..offset+t-1, extending `cache` in place; returns last logits [B, V]."""
    if isinstance(model, tm.GPT2LMHeadModel):
        x = model.embed(ids, offset)
        for i, block in enumerate(model.transformer.h):
            attn = block.attn
            q, k, v = attn.qkv(block.ln_1(x))
            k, v = _extend_cache(cache, i, k, v)
            y = tm.causal_attention(q, k, v, attn.head_dim ** -0.5, q_offset=offset)
            x = x + attn.merge(y)
            x = x + block.mlp(block.ln_2(x))
        return model.head(x[:, -1:])[:, 0]
    cos, sin = model.rope(ids.shape[1], offset, ids.device)
    x = model.model.embed_tokens(ids)
    for i, layer in enumerate(model.model.layers):
        attn = layer.self_attn
        q, k, v = attn.qkv(layer.input_layernorm(x), cos, sin)
        k, v = _extend_cache(cache, i, k, v)
        y = tm.causal_attention(q, attn.repeat_kv(k), attn.repeat_kv(v), attn.head_dim ** -0.5, q_offset=offset)
        x = x + attn.merge(y)
        x = x + layer.mlp(layer.post_attention_layernorm(x))
    return model.head(x[:, -1:])[:, 0]


@torch.no_grad()
def generate(model: torch.nn.Module, prompts: torch.Tensor, new_tokens: int) -> torch.Tensor:
    n_layers = len(model.transformer.h) if isinstance(model, tm.GPT2LMHeadModel) else len(model.model.layers)
    cache: list = [None] * n_layers
    logits = cached_forward(model, prompts, cache, 0)
    pos = prompts.shape[1]
    out = []
    for step in range(new_tokens):
        nxt = torch.argmax(logits, dim=-1, keepdim=True)
        out.append(nxt)
        if step + 1 < new_tokens:
            logits = cached_forward(model, nxt, cache, pos)
            pos += 1
    return torch.cat(out, dim=1)


# ---------------------------------------------------------------------------------------------

def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def run_matmul(a, steps: int, warmup: int):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(a.size, a.size, generator=g).to(a.device)
    y = torch.randn(a.size, a.size, generator=g).to(a.device)
    for _ in range(warmup):
        torch.matmul(x, y)
    sync(a.device)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        torch.matmul(x, y)
    sync(a.device)
    return time.perf_counter() - t0, time.process_time() - c0


def run_train(model, a, steps: int, warmup: int):
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.01)
    g = torch.Generator().manual_seed(1)
    model.train()

    def one_step():
        batch = torch.randint(0, a.vocab, (a.batch, a.context + 1), generator=g).to(a.device)
        x, y = batch[:, :-1], batch[:, 1:]
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, a.vocab), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return float(loss)

    for _ in range(warmup):
        one_step()
    sync(a.device)
    t0, c0 = time.perf_counter(), time.process_time()
    last = 0.0
    for _ in range(steps):
        last = one_step()
    sync(a.device)
    return time.perf_counter() - t0, time.process_time() - c0, last


def run_generate(model, a, steps: int, warmup: int):
    if a.prompt_len + a.new_tokens > a.context:
        raise SystemExit(f"prompt-len + new-tokens ({a.prompt_len + a.new_tokens}) exceeds context {a.context}")
    model.eval()
    g = torch.Generator().manual_seed(2)
    prompts = torch.randint(0, a.vocab, (a.batch, a.prompt_len), generator=g).to(a.device)
    for _ in range(warmup):
        generate(model, prompts, a.new_tokens)
    sync(a.device)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        generate(model, prompts, a.new_tokens)
    sync(a.device)
    return time.perf_counter() - t0, time.process_time() - c0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=["train", "generate", "matmul"], required=True)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--size", type=int, default=2048, help="matmul: N of the N x N product")
    ap.add_argument("--arch", choices=["gpt2", "llama"], default="gpt2")
    ap.add_argument("--vocab", type=int, default=512)
    ap.add_argument("--d-model", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=0, help="llama only; default = heads")
    ap.add_argument("--d-ff", type=int, default=0, help="default 4*d_model")
    ap.add_argument("--context", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--prompt-len", type=int, default=16)
    ap.add_argument("--steps", type=int, default=0, help="timed steps/runs (default train 10, generate 3)")
    ap.add_argument("--warmup", type=int, default=-1, help="warm-up steps/runs (default train 2, generate 1)")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.device == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("--device cuda: PyTorch sees no CUDA device")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    steps = a.steps or (10 if a.mode == "train" else 3)
    warmup = a.warmup if a.warmup >= 0 else (2 if a.mode == "train" else 1)
    if a.mode == "matmul":
        seconds, cpu_seconds = run_matmul(a, steps, max(warmup, 2))
        print(json.dumps({"mode": "matmul", "size": a.size, "steps": steps, "seconds": seconds, "cpu_seconds": cpu_seconds,
                          "tflops": 2 * a.size ** 3 * steps / seconds / 1e12, "device": a.device,
                          "device_name": torch.cuda.get_device_name() if a.device == "cuda" else "cpu",
                          "threads": torch.get_num_threads(), "torch_version": torch.__version__,
                          "load_avg_1m": os.getloadavg()[0]}))
        return 0
    cfg = make_config(a)
    model = tm.build_model(cfg).to(a.device)
    init_small(model)
    params = matmul_params(model)
    result = {"mode": a.mode, "arch": a.arch, "device": a.device}
    if a.mode == "train":
        seconds, cpu_seconds, loss = run_train(model, a, steps, warmup)
        tokens = a.batch * a.context * steps
        flops = (6 * params + 12 * a.layers * a.context * a.d_model) * tokens
        result.update({"tokens_per_s": tokens / seconds, "final_loss": loss})
    else:
        seconds, cpu_seconds = run_generate(model, a, steps, warmup)
        tokens = a.batch * a.new_tokens * steps
        forward_tokens = a.batch * (a.prompt_len + a.new_tokens - 1) * steps
        flops = 2 * params * forward_tokens
        result.update({"tokens_per_s": tokens / seconds})
    result.update({
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "load_avg_1m": os.getloadavg()[0],
        "steps": steps,
        "threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "gflops": flops / seconds / 1e9,
        "params": params,
        "config": {"vocab": a.vocab, "d_model": a.d_model, "layers": a.layers, "heads": a.heads,
                   "kv_heads": a.kv_heads or a.heads, "d_ff": a.d_ff or 4 * a.d_model,
                   "context": a.context, "batch": a.batch,
                   **({"prompt_len": a.prompt_len, "new_tokens": a.new_tokens} if a.mode == "generate" else {})},
    })
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
