"""Plain PyTorch reference for the two causal-LM families the TS engine supports.

This file deliberately avoids the `transformers` package: everything needed to read a
Hugging Face-style model folder (config.json + safetensors) and run it is spelled out here,
so the TypeScript engine can be checked against an independent implementation.

Families:
  * GPT-2  (model_type "gpt2")            learned positions, LayerNorm, gelu_new, Conv1D weights [in, out]
  * Llama  (model_type "llama"/"qwen2"/"mistral")  RMSNorm, RoPE (rotate_half), SwiGLU, grouped-query attention

Module attribute names mirror the Hugging Face parameter names, so `model.state_dict()` keys are the
tensor names found in the checkpoint (GPT-2 with the `transformer.` prefix, Llama with `model.`).

Computation always happens in float32; half-precision checkpoints are widened on load.
"""

from __future__ import annotations

import json
import math
import os
import struct
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------------------------
# safetensors (pure Python)
# ---------------------------------------------------------------------------------------------

_DTYPE_SIZES = {"F32": 4, "F16": 2, "BF16": 2}


def _tensor_bytes(t: torch.Tensor, dtype: str) -> bytes:
    """Serialise a tensor to little-endian bytes of the requested safetensors dtype."""
    t = t.detach().contiguous().cpu()
    if dtype == "F32":
        return t.to(torch.float32).numpy().astype("<f4").tobytes()
    if dtype == "F16":
        return t.to(torch.float16).numpy().astype("<f2").tobytes()
    if dtype == "BF16":
        # numpy has no bfloat16: reinterpret the 16-bit pattern as int16.
        return t.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()
    raise ValueError(f"unsupported dtype {dtype}")


def _tensor_from_bytes(buf: bytes, dtype: str, shape: List[int]) -> torch.Tensor:
    """Decode little-endian bytes into a float32 tensor."""
    if dtype == "F32":
        arr = np.frombuffer(buf, dtype="<f4").astype(np.float32)
        return torch.from_numpy(arr.copy()).reshape(shape)
    if dtype == "F16":
        arr = np.frombuffer(buf, dtype="<f2").astype(np.float32)
        return torch.from_numpy(arr.copy()).reshape(shape)
    if dtype == "BF16":
        # bf16 is the top half of an f32: shift the 16-bit pattern up and reinterpret.
        raw = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
        return torch.from_numpy(raw.view(np.float32).copy()).reshape(shape)
    raise ValueError(f"unsupported dtype {dtype}")


def round_to_dtype(t: torch.Tensor, dtype: str) -> torch.Tensor:
    """Return float32 values after a round trip through the given storage dtype."""
    if dtype == "F32":
        return t.detach().to(torch.float32).clone()
    if dtype == "F16":
        return t.detach().to(torch.float16).to(torch.float32)
    if dtype == "BF16":
        return t.detach().to(torch.bfloat16).to(torch.float32)
    raise ValueError(f"unsupported dtype {dtype}")


def safetensors_bytes(tensors: Dict[str, torch.Tensor], dtype: str = "F32",
                      metadata: Optional[Dict[str, str]] = None) -> bytes:
    """Build the full bytes of a .safetensors file (tensors written in the given order)."""
    header: Dict[str, object] = {}
    if metadata is not None:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    chunks: List[bytes] = []
    offset = 0
    for name, t in tensors.items():
        data = _tensor_bytes(t, dtype)
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * ((8 - len(head) % 8) % 8)
    return struct.pack("<Q", len(head)) + head + b"".join(chunks)


def write_safetensors(path: str, tensors: Dict[str, torch.Tensor], dtype: str = "F32",
                      metadata: Optional[Dict[str, str]] = None) -> int:
    """Write one .safetensors file; returns the number of tensor-data bytes written."""
    blob = safetensors_bytes(tensors, dtype, metadata)
    with open(path, "wb") as f:
        f.write(blob)
    return sum(t.numel() * _DTYPE_SIZES[dtype] for t in tensors.values())


def read_safetensors_header(path: str) -> Tuple[Dict[str, dict], Dict[str, str], int]:
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n).decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    return header, meta, 8 + n


def read_safetensors(path: str) -> Dict[str, torch.Tensor]:
    """Read every tensor of a .safetensors file as float32 (F32, F16 and BF16 supported)."""
    header, _meta, start = read_safetensors_header(path)
    with open(path, "rb") as f:
        f.seek(start)
        body = f.read()
    out: Dict[str, torch.Tensor] = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        out[name] = _tensor_from_bytes(body[b:e], info["dtype"], info["shape"])
    return out


def write_sharded(folder: str, tensors: Dict[str, torch.Tensor], dtype: str, shards: int,
                  metadata: Optional[Dict[str, str]] = None) -> None:
    """Split tensors (in order) into `shards` files of about equal size plus the index json."""
    names = list(tensors.keys())
    sizes = [tensors[n].numel() * _DTYPE_SIZES[dtype] for n in names]
    total = sum(sizes)
    target = total / shards
    groups: List[List[str]] = [[] for _ in range(shards)]
    acc = 0
    for n, s in zip(names, sizes):
        idx = min(shards - 1, int(acc // target)) if target > 0 else 0
        groups[idx].append(n)
        acc += s
    weight_map: Dict[str, str] = {}
    for i, group in enumerate(groups):
        fname = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        write_safetensors(os.path.join(folder, fname), {n: tensors[n] for n in group}, dtype,
                          metadata if metadata is not None else {"format": "pt"})
        for n in group:
            weight_map[n] = fname
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")


def read_folder_tensors(folder: str) -> Dict[str, torch.Tensor]:
    """Read model.safetensors, or every shard listed in model.safetensors.index.json."""
    single = os.path.join(folder, "model.safetensors")
    if os.path.exists(single):
        return read_safetensors(single)
    index_path = os.path.join(folder, "model.safetensors.index.json")
    if not os.path.exists(index_path):
        raise FileNotFoundError(f"no model.safetensors or index in {folder}")
    with open(index_path) as f:
        index = json.load(f)
    out: Dict[str, torch.Tensor] = {}
    for fname in sorted(set(index["weight_map"].values())):
        out.update(read_safetensors(os.path.join(folder, fname)))
    return out


# ---------------------------------------------------------------------------------------------
# Shared pieces
# ---------------------------------------------------------------------------------------------

def gelu_new_formula(x: torch.Tensor) -> torch.Tensor:
    """GELU with the tanh approximation (Hugging Face's "gelu_new"), written out."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gelu_new(x: torch.Tensor) -> torch.Tensor:
    """Same function as gelu_new_formula via PyTorch's fused kernel (within ~1 ulp, much faster on CPU)."""
    return F.gelu(x, approximate="tanh")


def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float,
                     q_offset: int = 0) -> torch.Tensor:
    """q [B,H,Tq,hd], k/v [B,H,Tk,hd]; query i sits at absolute position q_offset + i."""
    tq, tk = q.shape[-2], k.shape[-2]
    scores = torch.matmul(q, k.transpose(-1, -2)) * scale
    if tq > 1 or q_offset + tq != tk:
        qpos = torch.arange(tq, device=q.device).unsqueeze(1) + q_offset
        kpos = torch.arange(tk, device=q.device).unsqueeze(0)
        scores = scores.masked_fill(kpos > qpos, float("-inf"))
    return torch.matmul(torch.softmax(scores, dim=-1), v)


# ---------------------------------------------------------------------------------------------
# GPT-2
# ---------------------------------------------------------------------------------------------

class Conv1D(nn.Module):
    """GPT-2's linear layer: weight stored as [in, out], y = x @ W + b."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).reshape(*x.shape[:-1], -1)


class GPT2Attention(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.head_dim = d // heads
        self.c_attn = Conv1D(d, 3 * d)
        self.c_proj = Conv1D(d, d)

    def qkv(self, x: torch.Tensor):
        b, t, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=-1)
        shape = (b, t, self.heads, self.head_dim)
        return (q.reshape(shape).transpose(1, 2), k.reshape(shape).transpose(1, 2),
                v.reshape(shape).transpose(1, 2))

    def merge(self, y: torch.Tensor) -> torch.Tensor:
        b, h, t, hd = y.shape
        return self.c_proj(y.transpose(1, 2).reshape(b, t, h * hd))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x)
        return self.merge(causal_attention(q, k, v, 1.0 / math.sqrt(self.head_dim)))


class GPT2MLP(nn.Module):
    def __init__(self, d: int, inner: int):
        super().__init__()
        self.c_fc = Conv1D(d, inner)
        self.c_proj = Conv1D(inner, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(gelu_new(self.c_fc(x)))


class GPT2Block(nn.Module):
    def __init__(self, d: int, heads: int, inner: int, eps: float):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d, eps=eps)
        self.attn = GPT2Attention(d, heads)
        self.ln_2 = nn.LayerNorm(d, eps=eps)
        self.mlp = GPT2MLP(d, inner)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2Transformer(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        d = cfg["n_embd"]
        inner = cfg.get("n_inner") or 4 * d
        eps = cfg.get("layer_norm_epsilon", 1e-5)
        self.wte = nn.Embedding(cfg["vocab_size"], d)
        self.wpe = nn.Embedding(cfg["n_positions"], d)
        self.h = nn.ModuleList([GPT2Block(d, cfg["n_head"], inner, eps) for _ in range(cfg["n_layer"])])
        self.ln_f = nn.LayerNorm(d, eps=eps)


class GPT2LMHeadModel(nn.Module):
    family = "gpt2"

    def __init__(self, cfg: dict):
        super().__init__()
        act = cfg.get("activation_function", "gelu_new")
        if act not in ("gelu_new", "gelu_pytorch_tanh"):
            raise ValueError(f"unsupported GPT-2 activation {act}")
        self.config = cfg
        self.transformer = GPT2Transformer(cfg)

    def embed(self, input_ids: torch.Tensor, pos_offset: int = 0) -> torch.Tensor:
        t = input_ids.shape[1]
        pos = torch.arange(pos_offset, pos_offset + t, device=input_ids.device)
        return self.transformer.wte(input_ids) + self.transformer.wpe(pos)[None]

    def head(self, x: torch.Tensor) -> torch.Tensor:
        return torch.matmul(self.transformer.ln_f(x), self.transformer.wte.weight.t())

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(input_ids)
        for block in self.transformer.h:
            x = block(x)
        return self.head(x)


# ---------------------------------------------------------------------------------------------
# Llama (also Qwen2 / Mistral layouts without sliding window)
# ---------------------------------------------------------------------------------------------

class RMSNorm(nn.Module):
    def __init__(self, d: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.to(torch.float32)
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(x.dtype)


def rope_tables(head_dim: int, theta: float, positions: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables [T, head_dim] in Hugging Face's layout (frequencies repeated twice)."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64, device=positions.device).float() / head_dim))
    freqs = positions.float()[:, None] * inv_freq[None, :]
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    return x * cos + rotate_half(x) * sin


class LlamaAttention(nn.Module):
    def __init__(self, cfg: dict, qkv_bias: bool):
        super().__init__()
        d = cfg["hidden_size"]
        self.heads = cfg["num_attention_heads"]
        self.kv_heads = cfg.get("num_key_value_heads") or self.heads
        self.head_dim = cfg.get("head_dim") or d // self.heads
        self.theta = float(cfg.get("rope_theta", 10000.0))
        self.q_proj = nn.Linear(d, self.heads * self.head_dim, bias=qkv_bias)
        self.k_proj = nn.Linear(d, self.kv_heads * self.head_dim, bias=qkv_bias)
        self.v_proj = nn.Linear(d, self.kv_heads * self.head_dim, bias=qkv_bias)
        self.o_proj = nn.Linear(self.heads * self.head_dim, d, bias=bool(cfg.get("attention_bias", False)) and qkv_bias)

    def qkv(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
        """Projected, rotated q [B,H,T,hd] and k/v [B,KV,T,hd] (k/v not yet repeated)."""
        b, t, _ = x.shape
        q = self.q_proj(x).reshape(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).reshape(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).reshape(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        return apply_rope(q, cos, sin), apply_rope(k, cos, sin), v

    def repeat_kv(self, x: torch.Tensor) -> torch.Tensor:
        """[B,KV,T,hd] -> [B,H,T,hd]; query head h uses kv head h // (H/KV)."""
        n_rep = self.heads // self.kv_heads
        if n_rep == 1:
            return x
        b, kv, t, hd = x.shape
        return x[:, :, None].expand(b, kv, n_rep, t, hd).reshape(b, kv * n_rep, t, hd)

    def merge(self, y: torch.Tensor) -> torch.Tensor:
        b, h, t, hd = y.shape
        return self.o_proj(y.transpose(1, 2).reshape(b, t, h * hd))

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x, cos, sin)
        y = causal_attention(q, self.repeat_kv(k), self.repeat_kv(v), 1.0 / math.sqrt(self.head_dim))
        return self.merge(y)


class LlamaMLP(nn.Module):
    def __init__(self, d: int, inner: int):
        super().__init__()
        self.gate_proj = nn.Linear(d, inner, bias=False)
        self.up_proj = nn.Linear(d, inner, bias=False)
        self.down_proj = nn.Linear(inner, d, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, cfg: dict, qkv_bias: bool):
        super().__init__()
        d = cfg["hidden_size"]
        eps = cfg.get("rms_norm_eps", 1e-6)
        self.input_layernorm = RMSNorm(d, eps)
        self.self_attn = LlamaAttention(cfg, qkv_bias)
        self.post_attention_layernorm = RMSNorm(d, eps)
        self.mlp = LlamaMLP(d, cfg["intermediate_size"])

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaModel(nn.Module):
    def __init__(self, cfg: dict, qkv_bias: bool):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.layers = nn.ModuleList([LlamaDecoderLayer(cfg, qkv_bias) for _ in range(cfg["num_hidden_layers"])])
        self.norm = RMSNorm(cfg["hidden_size"], cfg.get("rms_norm_eps", 1e-6))


class LlamaForCausalLM(nn.Module):
    family = "llama"

    def __init__(self, cfg: dict):
        super().__init__()
        act = cfg.get("hidden_act", "silu")
        if act != "silu":
            raise ValueError(f"unsupported Llama activation {act}")
        self.config = cfg
        qkv_bias = bool(cfg.get("attention_bias", False)) or cfg.get("model_type") == "qwen2"
        self.tied = bool(cfg.get("tie_word_embeddings", False))
        self.model = LlamaModel(cfg, qkv_bias)
        if not self.tied:
            self.lm_head = nn.Linear(cfg["hidden_size"], cfg["vocab_size"], bias=False)
        attn = self.model.layers[0].self_attn if len(self.model.layers) else None
        self.head_dim = attn.head_dim if attn is not None else cfg["hidden_size"] // cfg["num_attention_heads"]
        self.theta = float(cfg.get("rope_theta", 10000.0))

    def rope(self, t: int, offset: int = 0, device=None):
        return rope_tables(self.head_dim, self.theta, torch.arange(offset, offset + t, device=device))

    def head(self, x: torch.Tensor) -> torch.Tensor:
        x = self.model.norm(x)
        w = self.model.embed_tokens.weight if self.tied else self.lm_head.weight
        return torch.matmul(x, w.t())

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        cos, sin = self.rope(input_ids.shape[1], 0, input_ids.device)
        x = self.model.embed_tokens(input_ids)
        for layer in self.model.layers:
            x = layer(x, cos, sin)
        return self.head(x)


# ---------------------------------------------------------------------------------------------
# Building / loading / saving
# ---------------------------------------------------------------------------------------------

LLAMA_TYPES = ("llama", "qwen2", "mistral")


def build_model(cfg: dict) -> nn.Module:
    mt = cfg.get("model_type")
    if mt == "gpt2":
        return GPT2LMHeadModel(cfg)
    if mt in LLAMA_TYPES:
        return LlamaForCausalLM(cfg)
    raise ValueError(f"unsupported model_type {mt!r}")


def normalise_names(model: nn.Module, tensors: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map checkpoint names onto this module's names (GPT-2 with or without `transformer.`)."""
    out: Dict[str, torch.Tensor] = {}
    is_gpt2 = isinstance(model, GPT2LMHeadModel)
    for name, t in tensors.items():
        if is_gpt2:
            if name.startswith("lm_head."):
                continue  # tied to wte
            if not name.startswith("transformer."):
                name = "transformer." + name
            if name.endswith(".attn.bias") or name.endswith(".attn.masked_bias"):
                continue  # old causal-mask buffers
        elif isinstance(model, LlamaForCausalLM):
            if model.tied and name == "lm_head.weight":
                continue
            if name.endswith("rotary_emb.inv_freq"):
                continue
        out[name] = t
    return out


def load_model(folder: str) -> nn.Module:
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    model = build_model(cfg)
    tensors = normalise_names(model, read_folder_tensors(folder))
    own = model.state_dict()
    missing = [n for n in own if n not in tensors]
    extra = [n for n in tensors if n not in own]
    if missing or extra:
        raise ValueError(f"checkpoint mismatch in {folder}: missing={missing[:8]} unexpected={extra[:8]}")
    for n, t in tensors.items():
        if tuple(t.shape) != tuple(own[n].shape):
            raise ValueError(f"shape mismatch for {n}: {tuple(t.shape)} vs {tuple(own[n].shape)}")
    model.load_state_dict(tensors, strict=True)
    model.eval()
    return model


def hf_state_dict(model: nn.Module) -> Dict[str, torch.Tensor]:
    """Tensors under their Hugging Face names (GPT-2 with `transformer.` prefix, no tied lm_head)."""
    return {n: p.detach() for n, p in model.named_parameters()}


def save_model(model: nn.Module, folder: str, dtype: str = "F32", shards: int = 1) -> None:
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(model.config, f, indent=2)
        f.write("\n")
    tensors = hf_state_dict(model)
    if shards <= 1:
        write_safetensors(os.path.join(folder, "model.safetensors"), tensors, dtype, {"format": "pt"})
    else:
        write_sharded(folder, tensors, dtype, shards)


def next_token_loss(logits: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of predicting input_ids[:, 1:] from logits[:, :-1]."""
    v = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1].reshape(-1, v), input_ids[:, 1:].reshape(-1))


@torch.no_grad()
def greedy(model: nn.Module, prompt: Iterable[int], new_tokens: int) -> List[int]:
    """Greedy decoding by full recomputation (no cache), never stopping at EOS."""
    ids = list(prompt)
    out: List[int] = []
    for _ in range(new_tokens):
        logits = model(torch.tensor([ids], dtype=torch.long))
        nxt = int(torch.argmax(logits[0, -1]).item())
        ids.append(nxt)
        out.append(nxt)
    return out
