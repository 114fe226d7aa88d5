"""Tiny causal LMs implementing the KV-cache contract (../shared cache contract), for the generate tests.

- `HFCacheAdapter`: wraps a transformers causal LM; its "cache" stores the token ids written so far
  and every call reruns the prefix, so our loops can be compared with transformers' own generate on
  the very same model.
- `ToyTorchLM` / `ToyTFLM` / `ToyFlaxLM`: one attention layer with a real KV cache, the same numpy
  weights in each framework, so the three loops can be compared with each other.
"""

from __future__ import annotations

import numpy as np

VOCAB, DIM, MAX_POS = 23, 16, 64


def toy_weights(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    shapes = {
        "emb": (VOCAB, DIM),
        "pos": (MAX_POS, DIM),
        "wq": (DIM, DIM),
        "wk": (DIM, DIM),
        "wv": (DIM, DIM),
    }
    shapes.update({"wo": (DIM, DIM), "head": (DIM, VOCAB)})
    return {name: (rng.standard_normal(shape) * 0.5).astype(np.float32) for name, shape in shapes.items()}


class ToyConfig:
    eos_token_id = None
    pad_token_id = None
    bos_token_id = None
    vocab_size = VOCAB


class _Out:
    def __init__(self, logits, past_key_values):
        self.logits, self.past_key_values = logits, past_key_values


def numpy_forward(w, ids, mask, positions):
    """The full-sequence reference: causal + padding mask."""
    h = w["emb"][ids] + w["pos"][positions]
    q, k, v = h @ w["wq"], h @ w["wk"], h @ w["wv"]
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(DIM)
    seq = ids.shape[1]
    allowed = np.tril(np.ones((seq, seq), bool))[None] & (mask[:, None, :] == 1)
    s = np.where(allowed, s, -1e9)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return (h + (p @ v) @ w["wo"]) @ w["head"]


# ---------------------------------------------------------------------------- torch
def torch_models():
    import torch

    from rosetta.backends.torch.cache import StaticCache
    from rosetta.backends.torch.generation import GenerationMixin

    class ToyTorchLM(torch.nn.Module, GenerationMixin):
        def __init__(self, weights):
            super().__init__()
            self.config = ToyConfig()
            self.w = torch.nn.ParameterDict(
                {k: torch.nn.Parameter(torch.tensor(v)) for k, v in weights.items()}
            )

        def init_cache(self, batch_size, max_length):
            return StaticCache(1, batch_size, 1, max_length, DIM)

        def forward(
            self,
            input_ids,
            attention_mask=None,
            position_ids=None,
            past_key_values=None,
            cache_position=None,
            return_dict=True,
        ):
            w = self.w
            h = w["emb"][input_ids] + w["pos"][position_ids]
            q, k, v = h @ w["wq"], h @ w["wk"], h @ w["wv"]
            seq = input_ids.shape[1]
            if past_key_values is None:
                keys, values, start, total = k, v, 0, seq
            else:
                keys, values = past_key_values.update(0, k[:, None], v[:, None], cache_position)
                keys, values, start, total = keys[:, 0], values[:, 0], cache_position.long(), keys.shape[2]
            s = q @ keys.transpose(-1, -2) / DIM**0.5
            slots = torch.arange(total)[None, :]
            allowed = (slots <= (start + torch.arange(seq))[:, None])[None] & (
                attention_mask[:, None, :] == 1
            )
            p = torch.softmax(torch.where(allowed, s, torch.tensor(-1e9)), -1)
            return _Out((h + (p @ values) @ w["wo"]) @ w["head"], past_key_values)

    class HFCacheAdapter(torch.nn.Module, GenerationMixin):
        def __init__(self, hf_model):
            super().__init__()
            self.hf, self.config = hf_model, hf_model.config
            self.generation_config = None

        def init_cache(self, batch_size, max_length):
            # The "cache" holds the token ids (as [batch, 1, positions, 1] keys); each call reruns HF on them.
            return StaticCache(1, batch_size, 1, max_length, 1, dtype=torch.long)

        def forward(
            self,
            input_ids,
            attention_mask=None,
            position_ids=None,
            past_key_values=None,
            cache_position=None,
            return_dict=True,
        ):
            if past_key_values is None:
                ids, mask, seq = input_ids, attention_mask, input_ids.shape[1]
            else:
                start, seq = int(cache_position), input_ids.shape[1]
                past_key_values.check_fits(start, seq)
                held, _ = past_key_values.update(
                    0, input_ids[:, None, :, None], input_ids[:, None, :, None], cache_position
                )
                ids, mask = held[:, 0, : start + seq, 0], attention_mask[:, : start + seq]
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            logits = self.hf(input_ids=ids, attention_mask=mask, position_ids=positions).logits
            return _Out(logits[:, -seq:], past_key_values)

    return ToyTorchLM, HFCacheAdapter


def tiny_hf_llama(seed: int = 0, vocab: int = 50):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    model = LlamaForCausalLM(config).eval()
    return model


# ---------------------------------------------------------------------------- flax
def flax_model_class():
    import jax
    import jax.numpy as jnp

    from rosetta.backends.flax.generation import GenerationMixin

    class ToyFlaxLM(GenerationMixin):
        def __init__(self, weights):
            self.config = ToyConfig()
            self.params = {k: jnp.asarray(v) for k, v in weights.items()}

        def init_cache(self, batch_size, max_length):
            zeros = jnp.zeros((batch_size, 1, max_length, DIM), jnp.float32)
            return ((zeros, zeros),)

        def __call__(
            self,
            input_ids,
            attention_mask=None,
            position_ids=None,
            past_key_values=None,
            cache_position=None,
            params=None,
            return_dict=True,
        ):
            w = self.params if params is None else params
            h = w["emb"][input_ids] + w["pos"][position_ids]
            q, k, v = h @ w["wq"], h @ w["wk"], h @ w["wv"]
            seq = input_ids.shape[1]
            ((kc, vc),) = past_key_values
            kc = jax.lax.dynamic_update_slice_in_dim(kc, k[:, None], cache_position, axis=2)
            vc = jax.lax.dynamic_update_slice_in_dim(vc, v[:, None], cache_position, axis=2)
            s = q @ jnp.swapaxes(kc[:, 0], -1, -2) / DIM**0.5
            slots = jnp.arange(kc.shape[2])[None, :]
            allowed = (slots <= (cache_position + jnp.arange(seq))[:, None])[None] & (
                attention_mask[:, None, :] == 1
            )
            p = jax.nn.softmax(jnp.where(allowed, s, -1e9), -1)
            return _Out((h + (p @ vc[:, 0]) @ w["wo"]) @ w["head"], ((kc, vc),))

    return ToyFlaxLM


# ---------------------------------------------------------------------------- tensorflow
def tf_model_class():
    import tensorflow as tf

    from rosetta.backends.tf.generation import GenerationMixin

    class ToyTFLM(GenerationMixin):
        def __init__(self, weights):
            self.config = ToyConfig()
            self.w = {k: tf.constant(v) for k, v in weights.items()}

        def init_cache(self, batch_size, max_length):
            zeros = tf.zeros((batch_size, 1, max_length, DIM), tf.float32)
            return ((zeros, zeros),)

        def __call__(
            self,
            input_ids,
            attention_mask=None,
            position_ids=None,
            past_key_values=None,
            cache_position=None,
            return_dict=True,
            training=False,
        ):
            w = self.w
            h = tf.gather(w["emb"], input_ids) + tf.gather(w["pos"], position_ids)
            q, k, v = h @ w["wq"], h @ w["wk"], h @ w["wv"]
            seq = input_ids.shape[1]
            ((kc, vc),) = past_key_values
            total = kc.shape[2]
            slots = tf.range(total)
            # write k/v at slots cache_position .. cache_position+seq-1 (functional)
            place = tf.cast(
                slots[None, :] == (cache_position + tf.range(seq))[:, None], tf.float32
            )  # [seq, total]
            written = tf.reduce_max(place, axis=0)[None, None, :, None]
            kc = kc * (1 - written) + tf.einsum("st,bsd->btd", place, k)[:, None]
            vc = vc * (1 - written) + tf.einsum("st,bsd->btd", place, v)[:, None]
            s = q @ tf.transpose(kc[:, 0], [0, 2, 1]) / DIM**0.5
            allowed = (slots[None, :] <= (cache_position + tf.range(seq))[:, None])[None] & (
                attention_mask[:, None, :] == 1
            )
            p = tf.nn.softmax(tf.where(allowed, s, -1e9), -1)
            return _Out((h + (p @ vc[:, 0]) @ w["wo"]) @ w["head"], ((kc, vc),))

    return ToyTFLM
