# This file was generated from rosetta/models/gemma/modular_gemma.py by `python -m rosetta modular`.
# Do not edit it: edit the modular source and run that command again.
"""Gemma in PyTorch: config -> RMSNorm -> rotary embedding -> attention -> MLP -> layer -> model -> heads.

Parameter names are Hugging Face's (`model.layers.0.self_attn.q_proj.weight`, `model.norm.weight`,
`lm_head.weight`), so its checkpoints load here and ours load there. The causal LM keeps the
shared KV-cache contract: `init_cache(batch, max_length)` gives a `StaticCache` written in place.
"""

from __future__ import annotations

import torch
from torch import nn

from ...backends.torch.activations import get_activation
from ...backends.torch.cache import StaticCache, check_fits_on_host
from ...backends.torch.generation import GenerationMixin
from ...backends.torch.losses import cross_entropy, sequence_classification_loss
from ...backends.torch.modeling_utils import PreTrainedModel, checkpointed_call
from ...backends.torch.pytorch_utils import Linear, float32_power
from ...core.errors import InputError
from ...core.generation_utils import positions_for_logits
from ...core.outputs import (
    BaseModelOutputWithPast,
    CausalLMOutputWithPast,
    SequenceClassifierOutput,
    finish_output,
)
from ..llama.rope_llama import dynamic_scaling, exponents, inverse_frequencies
from .configuration_gemma import GemmaConfig


class GemmaRMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * (1 + weight), computed in float32; the weight starts at zeros."""

    def __init__(self, hidden_size: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return (hidden_states * (1.0 + self.weight.float())).to(dtype)


class GemmaRotaryEmbedding(nn.Module):
    """cos and sin of position * frequency, the frequencies from `rope_gemma` (dynamic NTK in-graph)."""

    def __init__(self, config: GemmaConfig):
        super().__init__()
        inv_freq = inverse_frequencies(config, power=float32_power)  # transformers' torch pow, bit for bit
        self.register_buffer("inv_freq", torch.from_numpy(inv_freq), persistent=False)
        self.register_buffer("exponents", torch.from_numpy(exponents(config)), persistent=False)
        self.rope_theta = config.rope_theta
        self.dynamic = dynamic_scaling(config)

    def frequencies(self, position_ids: torch.Tensor) -> torch.Tensor:
        if self.dynamic is None:
            return self.inv_freq.float()
        factor, power, max_positions = self.dynamic
        length = torch.clamp(position_ids.max() + 1, min=max_positions).float()
        base = self.rope_theta * (factor * length / max_positions - (factor - 1)) ** power
        return 1.0 / base ** self.exponents.float()

    def forward(self, x: torch.Tensor, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        freqs = position_ids[..., None].float() * self.frequencies(position_ids)
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(x.dtype), emb.sin().to(x.dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary_pos_emb(
    q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    cos, sin = cos[:, None], sin[:, None]  # [batch, 1, seq, head_dim]: the same for every head
    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


def repeat_kv(hidden_states: torch.Tensor, n_rep: int) -> torch.Tensor:
    """[batch, kv_heads, seq, dim] -> [batch, kv_heads * n_rep, seq, dim]: query head h reads kv head h // n_rep."""
    if n_rep == 1:
        return hidden_states
    batch, kv_heads, seq, dim = hidden_states.shape
    expanded = hidden_states[:, :, None].expand(batch, kv_heads, n_rep, seq, dim)
    return expanded.reshape(batch, kv_heads * n_rep, seq, dim)


def attention_bias(
    attention_mask: torch.Tensor | None, query_positions: torch.Tensor, key_length: int, dtype: torch.dtype
) -> torch.Tensor:
    """[batch or 1, 1, seq, key_length] additive mask: query at absolute slot p sees slot j iff j <= p and
    attention_mask[b, j] == 1 (causal + padding, for the full forward and the cached call alike)."""
    key_positions = torch.arange(key_length, device=query_positions.device)
    allowed = (key_positions[None, :] <= query_positions[:, None])[None, None]
    if attention_mask is not None:
        allowed = allowed & attention_mask[:, None, None, :].to(torch.bool)
    zero = torch.zeros((), dtype=dtype, device=query_positions.device)
    return torch.where(allowed, zero, torch.finfo(dtype).min)


class GemmaAttention(nn.Module):
    """Grouped-query attention with rotary positions; SDPA unless attentions are asked or eager is set."""

    def __init__(self, config: GemmaConfig, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.head_dim = config.head_dim
        self.num_heads = config.num_attention_heads
        self.num_key_value_heads = config.num_key_value_heads
        self.num_key_value_groups = self.num_heads // self.num_key_value_heads
        self.scaling = self.head_dim**-0.5
        self.attention_dropout = config.attention_dropout
        self.sdpa = getattr(config, "_attn_implementation", None) != "eager"
        bias = config.attention_bias
        self.q_proj = Linear(config.hidden_size, self.num_heads * self.head_dim, bias=bias)
        self.k_proj = Linear(config.hidden_size, self.num_key_value_heads * self.head_dim, bias=bias)
        self.v_proj = Linear(config.hidden_size, self.num_key_value_heads * self.head_dim, bias=bias)
        self.o_proj = Linear(self.num_heads * self.head_dim, config.hidden_size, bias=bias)

    def forward(
        self,
        hidden_states: torch.Tensor,
        cos_sin: tuple[torch.Tensor, torch.Tensor],
        attention_mask: torch.Tensor,
        past_key_values: StaticCache | None = None,
        cache_position: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch, seq, _ = hidden_states.shape
        query = self.q_proj(hidden_states).view(batch, seq, -1, self.head_dim).transpose(1, 2)
        key = self.k_proj(hidden_states).view(batch, seq, -1, self.head_dim).transpose(1, 2)
        value = self.v_proj(hidden_states).view(batch, seq, -1, self.head_dim).transpose(1, 2)
        query, key = apply_rotary_pos_emb(query, key, *cos_sin)
        if past_key_values is not None:
            key, value = past_key_values.update(self.layer_idx, key, value, cache_position)
        dropout = self.attention_dropout if self.training else 0.0
        if output_attentions or not self.sdpa:
            key = repeat_kv(key, self.num_key_value_groups)
            value = repeat_kv(value, self.num_key_value_groups)
            scores = query @ key.transpose(2, 3) * self.scaling + attention_mask
            probs = nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
            context = nn.functional.dropout(probs, p=dropout, training=self.training) @ value
        else:
            probs = None
            context = nn.functional.scaled_dot_product_attention(
                query,
                key,
                value,
                attn_mask=attention_mask,
                dropout_p=dropout,
                scale=self.scaling,
                enable_gqa=self.num_key_value_groups > 1,
            )
        context = context.transpose(1, 2).reshape(batch, seq, -1)
        return self.o_proj(context), probs


class GemmaMLP(nn.Module):
    """SwiGLU: down(act(gate(x)) * up(x))."""

    def __init__(self, config: GemmaConfig):
        super().__init__()
        bias = config.mlp_bias
        self.gate_proj = Linear(config.hidden_size, config.intermediate_size, bias=bias)
        self.up_proj = Linear(config.hidden_size, config.intermediate_size, bias=bias)
        self.down_proj = Linear(config.intermediate_size, config.hidden_size, bias=bias)
        self.act_fn = get_activation(config.hidden_act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class GemmaDecoderLayer(nn.Module):
    """Pre-norm attention and MLP, each with a residual connection."""

    def __init__(self, config: GemmaConfig, layer_idx: int):
        super().__init__()
        self.self_attn = GemmaAttention(config, layer_idx)
        self.mlp = GemmaMLP(config)
        self.input_layernorm = GemmaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = GemmaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def forward(
        self,
        hidden_states: torch.Tensor,
        cos_sin: tuple[torch.Tensor, torch.Tensor],
        attention_mask: torch.Tensor,
        past_key_values: StaticCache | None = None,
        cache_position: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attended, probs = self.self_attn(
            self.input_layernorm(hidden_states),
            cos_sin,
            attention_mask,
            past_key_values,
            cache_position,
            output_attentions,
        )
        hidden_states = hidden_states + attended
        hidden_states = hidden_states + self.mlp(self.post_attention_layernorm(hidden_states))
        return hidden_states, probs


class GemmaPreTrainedModel(PreTrainedModel):
    config_class = GemmaConfig
    supports_gradient_checkpointing = True
    base_model_prefix = "model"
    _keys_to_ignore_on_load_unexpected = [r"rotary_emb\.inv_freq$"]

    def _init_weights(self, module: nn.Module) -> None:
        PreTrainedModel._init_weights(self, module)  # Llama's would set the norms to ones
        if isinstance(module, GemmaRMSNorm):
            module.weight.data.zero_()  # (1 + weight): zeros are the identity


def _start(cache_position: torch.Tensor | int | None, device: torch.device) -> torch.Tensor:
    """The first written slot as a [1] long tensor (0 without a cache)."""
    if cache_position is None:
        return torch.zeros(1, dtype=torch.long, device=device)
    return torch.as_tensor(cache_position, device=device).reshape(-1)[:1].to(torch.long)


class GemmaModel(GemmaPreTrainedModel):
    """The bare decoder: embeddings, layers, final RMSNorm."""

    def __init__(self, config: GemmaConfig):
        super().__init__(config)
        self.padding_idx = config.pad_token_id
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size, self.padding_idx)
        self.layers = nn.ModuleList(GemmaDecoderLayer(config, i) for i in range(config.num_hidden_layers))
        self.norm = GemmaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.rotary_emb = GemmaRotaryEmbedding(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embed_tokens = value

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: StaticCache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        cache_position: torch.Tensor | int | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutputWithPast | tuple:
        if inputs_embeds is None and input_ids is not None:
            inputs_embeds, input_ids = self.embed_tokens(input_ids), None
        if inputs_embeds is not None:  # sqrt(hidden_size), rounded to the embeddings' dtype first
            inputs_embeds = inputs_embeds * torch.tensor(
                self.config.hidden_size**0.5, dtype=inputs_embeds.dtype
            )
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        return_dict = self.config.return_dict if return_dict is None else return_dict
        if (input_ids is None) == (inputs_embeds is None):
            raise InputError("Pass exactly one of input_ids or inputs_embeds.")
        hidden_states = self.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds
        seq = hidden_states.shape[1]
        if past_key_values is not None:
            check_fits_on_host(past_key_values, cache_position, seq)
        query_positions = _start(cache_position, hidden_states.device) + torch.arange(
            seq, device=hidden_states.device
        )
        if position_ids is None:
            position_ids = query_positions[None]
        key_length = past_key_values.key_length(seq) if past_key_values is not None else seq
        mask = attention_bias(attention_mask, query_positions, key_length, hidden_states.dtype)
        cos_sin = self.rotary_emb(hidden_states, position_ids)

        all_hidden_states = () if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for layer in self.layers:
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            hidden_states, probs = checkpointed_call(
                self,
                layer,
                hidden_states,
                cos_sin,
                mask,
                past_key_values,
                query_positions,
                output_attentions,
                cache=past_key_values,
            )
            if output_attentions:
                all_attentions += (probs,)
        hidden_states = self.norm(hidden_states)
        if output_hidden_states:
            all_hidden_states += (hidden_states,)
        outputs = BaseModelOutputWithPast(
            last_hidden_state=hidden_states,
            past_key_values=past_key_values,
            hidden_states=all_hidden_states,
            attentions=all_attentions,
        )
        return finish_output(outputs, return_dict)


class GemmaForCausalLM(GemmaPreTrainedModel, GenerationMixin):
    """The decoder and a vocabulary projection (`lm_head`, tied to the embeddings when the config says so)."""

    _tied_weights_keys = ["lm_head.weight"]

    def __init__(self, config: GemmaConfig):
        super().__init__(config)
        self.model = GemmaModel(config)
        self.lm_head = Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def init_cache(self, batch_size: int, max_length: int) -> StaticCache:
        """An empty `StaticCache` for `batch_size` rows of up to `max_length` positions, in the model's dtype."""
        config = self.config
        return StaticCache(
            config.num_hidden_layers,
            batch_size,
            config.num_key_value_heads,
            max_length,
            config.head_dim,
            dtype=self.dtype,
            device=self.device,
        )

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: StaticCache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        cache_position: torch.Tensor | int | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        logits_to_keep: int = 0,
    ) -> CausalLMOutputWithPast | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.model(
            input_ids,
            attention_mask,
            position_ids,
            past_key_values,
            inputs_embeds,
            cache_position,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        hidden_states = positions_for_logits(outputs.last_hidden_state, logits_to_keep, labels)
        logits = self.lm_head(hidden_states)
        loss = None
        if labels is not None:  # token t predicts token t + 1
            loss = cross_entropy(logits[:, :-1].float(), labels[:, 1:].to(logits.device))
        return finish_output(
            CausalLMOutputWithPast(
                loss=loss,
                logits=logits,
                past_key_values=outputs.past_key_values,
                hidden_states=outputs.hidden_states,
                attentions=outputs.attentions,
            ),
            return_dict,
        )


def last_token_indices(
    input_ids: torch.Tensor | None, pad_token_id: int | None, batch: int
) -> torch.Tensor | int:
    """Per row, the index of the last token that is not padding (transformers' rule); -1 without ids."""
    if pad_token_id is None and batch != 1:
        raise InputError(
            "Sequence classification of a batch needs config.pad_token_id to find each row's last token; "
            "set it (e.g. to the tokenizer's pad or eos id)."
        )
    if pad_token_id is None or input_ids is None:
        return -1
    non_pad = (input_ids != pad_token_id).to(torch.int32)
    return (torch.arange(input_ids.shape[-1], device=input_ids.device) * non_pad).argmax(-1)


class GemmaForSequenceClassification(GemmaPreTrainedModel):
    """The decoder and a `score` projection of the last non-padding token."""

    def __init__(self, config: GemmaConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = GemmaModel(config)
        self.score = Linear(config.hidden_size, config.num_labels, bias=False)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> SequenceClassifierOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.model(
            input_ids,
            attention_mask,
            position_ids,
            None,
            inputs_embeds,
            None,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        logits = self.score(outputs.last_hidden_state)
        batch = logits.shape[0]
        last = last_token_indices(input_ids, self.config.pad_token_id, batch)
        pooled = logits[torch.arange(batch, device=logits.device), last]
        loss = sequence_classification_loss(self.config, pooled, labels) if labels is not None else None
        return finish_output(
            SequenceClassifierOutput(
                loss=loss, logits=pooled, hidden_states=outputs.hidden_states, attentions=outputs.attentions
            ),
            return_dict,
        )
