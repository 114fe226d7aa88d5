"""GPT-2 in PyTorch: config -> Conv1D -> attention -> MLP -> block -> stack -> pretrained base -> heads.

Parameter names are Hugging Face's (`transformer.h.0.attn.c_attn.weight`), so its checkpoints load
here and ours load there. GPT-2's `Conv1D` is a linear layer whose weight is stored [in, out] (the
transpose of `nn.Linear`'s): that layout is the canonical one, and the TF and Flax Dense kernels,
also [in, out], are that array as it is (`_layout_overrides`).

With `past_key_values` (a `StaticCache` from `init_cache`) the call follows rosetta's KV-cache
contract: `attention_mask` spans the whole cache and `cache_position` says where `input_ids[:, 0]`
is written; without it, it is the plain full-sequence forward.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from ...backends.torch.activations import get_activation
from ...backends.torch.cache import StaticCache, check_fits_on_host
from ...backends.torch.generation import GenerationMixin
from ...backends.torch.losses import cross_entropy, sequence_classification_loss
from ...backends.torch.modeling_utils import PreTrainedModel, checkpointed_call
from ...backends.torch.pytorch_utils import Linear, decoding_linear
from ...core.errors import InputError
from ...core.generation_utils import positions_for_logits
from ...core.outputs import (
    BaseModelOutputWithPast,
    CausalLMOutputWithPast,
    SequenceClassifierOutput,
    finish_output,
)
from .configuration_gpt2 import CONV1D_LAYOUTS, IGNORED_BUFFERS, GPT2Config


class Conv1D(nn.Module):
    """A linear layer with its weight stored [nx, nf] (OpenAI's layout): y = x @ W + b."""

    def __init__(self, nf: int, nx: int):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return decoding_linear(x, self.weight, self.bias, in_out=True)


def causal_mask(
    attention_mask: torch.Tensor | None,
    query_length: int,
    key_length: int,
    offset: torch.Tensor | int,
    dtype: torch.dtype,
) -> torch.Tensor:
    """Additive [batch|1, 1, query, key] mask: 0 where query i (absolute slot offset + i) may attend key j
    (j <= offset + i and attention_mask[b, j] == 1), the dtype's minimum elsewhere."""
    device = attention_mask.device if attention_mask is not None else None
    query_positions = torch.arange(query_length, device=device) + offset
    allowed = torch.arange(key_length, device=device)[None, :] <= query_positions[:, None]
    allowed = allowed[None, None]
    if attention_mask is not None:
        allowed = allowed & attention_mask[:, None, None, :key_length].bool()
    zero = torch.zeros((), dtype=dtype, device=device)
    return torch.where(allowed, zero, torch.finfo(dtype).min)


class GPT2Attention(nn.Module):
    def __init__(self, config: GPT2Config, layer_idx: int = 0):
        super().__init__()
        if config.n_embd % config.n_head != 0:
            raise InputError(f"n_embd ({config.n_embd}) must be a multiple of n_head ({config.n_head}).")
        self.layer_idx = layer_idx
        self.embed_dim = config.n_embd
        self.num_heads = config.n_head
        self.head_dim = self.embed_dim // self.num_heads
        self.scaling = config.layer_scaling(layer_idx)
        self.upcast = config.reorder_and_upcast_attn
        self.c_attn = Conv1D(3 * self.embed_dim, self.embed_dim)
        self.c_proj = Conv1D(self.embed_dim, self.embed_dim)
        self.attn_dropout = nn.Dropout(config.attn_pdrop)
        self.resid_dropout = nn.Dropout(config.resid_pdrop)
        self.eager = getattr(config, "_attn_implementation", None) == "eager"

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, _ = x.shape
        return x.view(batch, seq, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor,
        cache: StaticCache | None = None,
        cache_position: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        query, key, value = self.c_attn(hidden_states).split(self.embed_dim, dim=2)
        query, key, value = self.split_heads(query), self.split_heads(key), self.split_heads(value)
        if cache is not None:
            key, value = cache.update(self.layer_idx, key, value, cache_position)

        if output_attentions or self.eager or self.upcast:
            if self.upcast:
                query, key = query.float(), key.float()
            scores = (query @ key.transpose(-1, -2)) * self.scaling + attention_mask
            probs = self.attn_dropout(nn.functional.softmax(scores, dim=-1).to(value.dtype))
            context = probs @ value
        else:
            probs = None
            context = nn.functional.scaled_dot_product_attention(
                query,
                key,
                value,
                attn_mask=attention_mask,
                dropout_p=self.attn_dropout.p if self.training else 0.0,
                scale=self.scaling,
            )
        batch, _, seq, _ = context.shape
        context = context.transpose(1, 2).reshape(batch, seq, self.embed_dim)
        return self.resid_dropout(self.c_proj(context)), probs


class GPT2MLP(nn.Module):
    def __init__(self, config: GPT2Config):
        super().__init__()
        self.c_fc = Conv1D(config.inner_size, config.n_embd)
        self.c_proj = Conv1D(config.n_embd, config.inner_size)
        self.act = get_activation(config.activation_function)
        self.dropout = nn.Dropout(config.resid_pdrop)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.act(self.c_fc(hidden_states))))


class GPT2Block(nn.Module):
    """Pre-LayerNorm block: x + attn(ln_1(x)), then x + mlp(ln_2(x))."""

    def __init__(self, config: GPT2Config, layer_idx: int = 0):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.attn = GPT2Attention(config, layer_idx)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.mlp = GPT2MLP(config)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor,
        cache: StaticCache | None = None,
        cache_position: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attn_output, probs = self.attn(
            self.ln_1(hidden_states), attention_mask, cache, cache_position, output_attentions
        )
        hidden_states = hidden_states + attn_output
        hidden_states = hidden_states + self.mlp(self.ln_2(hidden_states))
        return hidden_states, probs


class GPT2PreTrainedModel(PreTrainedModel):
    config_class = GPT2Config
    base_model_prefix = "transformer"
    supports_gradient_checkpointing = True
    _keys_to_ignore_on_load_unexpected: ClassVar[list[str]] = IGNORED_BUFFERS
    _layout_overrides: ClassVar[dict[str, str]] = CONV1D_LAYOUTS

    def _init_weights(self, module: nn.Module) -> None:
        """Normal(0, initializer_range) weights, zero biases, unit LayerNorms; residual projections
        (`c_proj`) scaled by 1/sqrt(2 * n_layer), as GPT-2 initialises them."""
        std = self.config.initializer_range
        if isinstance(module, Conv1D):
            module.weight.data.normal_(mean=0.0, std=std)
            module.bias.data.zero_()
        else:
            super()._init_weights(module)
        if isinstance(module, (GPT2Attention, GPT2MLP)) and module.c_proj.weight.device.type != "meta":
            module.c_proj.weight.data.normal_(mean=0.0, std=std / (2 * self.config.n_layer) ** 0.5)

    def init_cache(self, batch_size: int, max_length: int) -> StaticCache:
        """A zeroed `StaticCache` of `max_length` positions for every block, in the model's dtype and device."""
        config = self.config
        return StaticCache(
            config.n_layer,
            batch_size,
            config.n_head,
            max_length,
            config.n_embd // config.n_head,
            dtype=self.dtype,
            device=self.device,
        )


class GPT2Model(GPT2PreTrainedModel):
    """The bare GPT-2 decoder: token + learned position embeddings, blocks, final LayerNorm."""

    def __init__(self, config: GPT2Config):
        super().__init__(config)
        self.embed_dim = config.n_embd
        self.wte = nn.Embedding(config.vocab_size, self.embed_dim)
        self.wpe = nn.Embedding(config.n_positions, self.embed_dim)
        self.drop = nn.Dropout(config.embd_pdrop)
        self.h = nn.ModuleList([GPT2Block(config, layer_idx=i) for i in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(self.embed_dim, eps=config.layer_norm_epsilon)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.wte

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.wte = value

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        past_key_values: StaticCache | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        cache_position: torch.Tensor | int | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutputWithPast | tuple:
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        return_dict = self.config.return_dict if return_dict is None else return_dict
        if (input_ids is None) == (inputs_embeds is None):
            raise InputError("Pass exactly one of input_ids or inputs_embeds.")
        if inputs_embeds is None:
            inputs_embeds = self.wte(input_ids)
        batch, seq = inputs_embeds.shape[:2]
        offset = _cache_offset(past_key_values, cache_position, seq, inputs_embeds.device)
        if position_ids is None:
            position_ids = (torch.arange(seq, device=inputs_embeds.device) + offset)[None, :]
        hidden_states = inputs_embeds + self.wpe(position_ids)
        if token_type_ids is not None:
            hidden_states = hidden_states + self.wte(token_type_ids)
        hidden_states = self.drop(hidden_states)

        key_length = past_key_values.key_length(seq) if past_key_values is not None else seq
        mask = causal_mask(attention_mask, seq, key_length, offset, hidden_states.dtype)
        all_hidden_states = () if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for block in self.h:
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            hidden_states, probs = checkpointed_call(
                self,
                block,
                hidden_states,
                mask,
                past_key_values,
                offset,
                output_attentions,
                cache=past_key_values,
            )
            if output_attentions:
                all_attentions += (probs,)
        hidden_states = self.ln_f(hidden_states)
        if output_hidden_states:
            all_hidden_states += (hidden_states,)
        outputs = BaseModelOutputWithPast(
            last_hidden_state=hidden_states,
            past_key_values=past_key_values,
            hidden_states=all_hidden_states,
            attentions=all_attentions,
        )
        return finish_output(outputs, return_dict)


def _cache_offset(
    cache: StaticCache | None, cache_position: torch.Tensor | int | None, seq: int, device: torch.device
) -> torch.Tensor:
    """Where the first new token sits: `cache_position` with a cache, 0 without one."""
    if cache is None or cache_position is None:
        if cache is not None:
            raise InputError(
                "A call with past_key_values needs cache_position: the slot input_ids[:, 0] is written to."
            )
        return torch.zeros((), dtype=torch.long, device=device)
    check_fits_on_host(cache, cache_position, seq)
    return torch.as_tensor(cache_position, device=device).reshape(()).to(torch.long)


def causal_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Next-token cross entropy: position i predicts labels[i + 1]; -100 labels count for nothing."""
    return cross_entropy(logits[:, :-1].float(), labels[:, 1:].to(logits.device))


class GPT2LMHeadModel(GPT2PreTrainedModel, GenerationMixin):
    """GPT-2 with a language modelling head tied to the token embeddings (`lm_head.weight`)."""

    _tied_weights_keys: ClassVar[list[str]] = ["lm_head.weight"]

    def __init__(self, config: GPT2Config):
        super().__init__(config)
        self.transformer = GPT2Model(config)
        self.lm_head = Linear(config.n_embd, config.vocab_size, bias=False)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def forward(
        self,
        input_ids=None,
        past_key_values=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        inputs_embeds=None,
        cache_position=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        logits_to_keep=0,
    ) -> CausalLMOutputWithPast | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.transformer(
            input_ids,
            past_key_values,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            cache_position,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        hidden_states = positions_for_logits(outputs.last_hidden_state, logits_to_keep, labels)
        logits = self.lm_head(hidden_states)
        loss = causal_lm_loss(logits, labels) if labels is not None else None
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


def last_non_pad_index(
    config: GPT2Config, input_ids: torch.Tensor | None, batch: int, seq: int
) -> torch.Tensor:
    """Per row, the rightmost token that is not padding (left or right padding); the last token
    without a pad_token_id or with inputs_embeds."""
    if config.pad_token_id is None and batch != 1:
        raise InputError(
            "GPT2ForSequenceClassification needs config.pad_token_id to find the last token of each row of a "
            "batch; set it (e.g. to the tokenizer's pad or eos id) or pass one row at a time."
        )
    if config.pad_token_id is None or input_ids is None:
        return torch.full((batch,), seq - 1, dtype=torch.long)
    non_pad = (input_ids != config.pad_token_id).to(torch.long)
    return (torch.arange(seq, device=input_ids.device) * non_pad).argmax(-1)


class GPT2ForSequenceClassification(GPT2PreTrainedModel):
    """A linear score on the hidden state of each row's last non-padding token."""

    def __init__(self, config: GPT2Config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.transformer = GPT2Model(config)
        self.score = nn.Linear(config.n_embd, config.num_labels, bias=False)
        self.post_init()

    def forward(
        self,
        input_ids=None,
        past_key_values=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        inputs_embeds=None,
        cache_position=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ) -> SequenceClassifierOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.transformer(
            input_ids,
            past_key_values,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            cache_position,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        logits = self.score(outputs.last_hidden_state)
        batch, seq = logits.shape[:2]
        last = last_non_pad_index(self.config, input_ids, batch, seq).to(logits.device)
        pooled_logits = logits[torch.arange(batch, device=logits.device), last]
        loss = (
            sequence_classification_loss(self.config, pooled_logits, labels) if labels is not None else None
        )
        return finish_output(
            SequenceClassifierOutput(
                loss=loss,
                logits=pooled_logits,
                hidden_states=outputs.hidden_states,
                attentions=outputs.attentions,
            ),
            return_dict,
        )
