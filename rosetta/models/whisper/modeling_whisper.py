"""Whisper in PyTorch: config -> conv front end -> attention -> encoder/decoder layers -> stacks -> heads.

Parameter names are Hugging Face's (`model.encoder.conv1.weight`, `model.decoder.layers.0.encoder_attn.k_proj.weight`,
`proj_out.weight` tied to `model.decoder.embed_tokens.weight`), so its checkpoints load here and ours load there.
The decoder's self-attention follows the shared KV-cache contract (`StaticCache`, written in place); its
cross-attention keys and values are computed once from the encoder output and kept in `WhisperCache.cross_*`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from ...backends.torch.activations import get_activation
from ...backends.torch.cache import StaticCache
from ...backends.torch.modeling_utils import PreTrainedModel, checkpointed_call
from ...backends.torch.pytorch_utils import Linear
from ...core.errors import InputError
from ...core.outputs import BaseModelOutput, Seq2SeqLMOutput, Seq2SeqModelOutput, finish_output
from .configuration_whisper import WhisperConfig
from .generation_whisper import Ops, WhisperPlan, process_scores, transcribe, whisper_plan


def sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> np.ndarray:
    """Whisper's encoder positions: [length, channels], sines then cosines (stored as a weight)."""
    if channels % 2 != 0:
        raise InputError(f"d_model must be even for sinusoidal positions, got {channels}.")
    increment = math.log(max_timescale) / (channels // 2 - 1)
    inv_timescales = torch.exp(-increment * torch.arange(channels // 2))
    scaled = torch.arange(length).view(-1, 1) * inv_timescales.view(1, -1)
    return torch.cat([scaled.sin(), scaled.cos()], dim=1)


def shift_tokens_right(
    input_ids: torch.Tensor, pad_token_id: int, decoder_start_token_id: int
) -> torch.Tensor:
    """Labels -> decoder inputs: start token first, -100 replaced by the pad id."""
    shifted = input_ids.new_zeros(input_ids.shape)
    shifted[:, 1:] = input_ids[:, :-1].clone()
    shifted[:, 0] = decoder_start_token_id
    return shifted.masked_fill(shifted == -100, pad_token_id)


class WhisperCache:
    """The decoder's cache: self-attention keys/values per the shared contract (`self_attention`, a
    `StaticCache`) and the cross-attention keys/values, computed once from the encoder output."""

    def __init__(self, self_attention: StaticCache, num_layers: int):
        self.self_attention = self_attention
        self.cross_key_cache: list[torch.Tensor | None] = [None] * num_layers
        self.cross_value_cache: list[torch.Tensor | None] = [None] * num_layers

    @property
    def max_length(self) -> int:
        return self.self_attention.max_length


class WhisperAttention(nn.Module):
    """Multi-head attention; self-attention (causal in the decoder) or cross-attention over the encoder output."""

    def __init__(self, config: WhisperConfig, num_heads: int, layer_idx: int = 0, is_cross: bool = False):
        super().__init__()
        embed_dim = config.d_model
        if embed_dim % num_heads != 0:
            raise InputError(
                f"d_model ({embed_dim}) must be a multiple of the attention heads ({num_heads})."
            )
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.scaling = self.head_dim**-0.5
        self.layer_idx = layer_idx
        self.is_cross = is_cross
        self.dropout = config.attention_dropout
        self.eager = getattr(config, "_attn_implementation", None) == "eager"
        self.k_proj = Linear(embed_dim, embed_dim, bias=False)
        self.v_proj = Linear(embed_dim, embed_dim)
        self.q_proj = Linear(embed_dim, embed_dim)
        self.out_proj = Linear(embed_dim, embed_dim)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, _ = x.shape
        return x.view(batch, seq, self.num_heads, self.head_dim).transpose(1, 2)

    def _keys_values(self, source: torch.Tensor, cache: WhisperCache | None, cache_position: Any):
        if self.is_cross:
            if cache is not None and cache.cross_key_cache[self.layer_idx] is not None:
                return cache.cross_key_cache[self.layer_idx], cache.cross_value_cache[self.layer_idx]
            key, value = self._heads(self.k_proj(source)), self._heads(self.v_proj(source))
            if cache is not None:  # contiguous: SDPA of one query over a strided view is ~8x slower on CPU
                key, value = key.contiguous(), value.contiguous()
                cache.cross_key_cache[self.layer_idx], cache.cross_value_cache[self.layer_idx] = key, value
            return key, value
        key, value = self._heads(self.k_proj(source)), self._heads(self.v_proj(source))
        if cache is not None:
            key, value = cache.self_attention.update(self.layer_idx, key, value, cache_position)
        return key, value

    def forward(
        self,
        hidden_states: torch.Tensor,
        key_value_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        cache: WhisperCache | None = None,
        cache_position: Any = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        query = self._heads(self.q_proj(hidden_states) * self.scaling)
        source = key_value_states if self.is_cross else hidden_states
        key, value = self._keys_values(source, cache, cache_position)
        dropout = self.dropout if self.training else 0.0
        if output_attentions or self.eager:
            scores = query @ key.transpose(-1, -2)
            if attention_mask is not None:
                scores = scores + attention_mask
            probs = nn.functional.softmax(scores, dim=-1)
            context = nn.functional.dropout(probs, p=dropout, training=self.training) @ value
        else:  # the query is already scaled, as transformers scales it
            probs = None
            context = nn.functional.scaled_dot_product_attention(
                query, key, value, attn_mask=attention_mask, dropout_p=dropout, scale=1.0
            )
        batch, _, seq, _ = context.shape
        context = context.transpose(1, 2).reshape(batch, seq, self.num_heads * self.head_dim)
        return self.out_proj(context), probs


class WhisperEncoderLayer(nn.Module):
    """Pre-norm block: x + self-attention(LN(x)), then h + MLP(LN(h))."""

    def __init__(self, config: WhisperConfig):
        super().__init__()
        self.self_attn = WhisperAttention(config, config.encoder_attention_heads)
        self.self_attn_layer_norm = nn.LayerNorm(config.d_model)
        self.activation_fn = get_activation(config.activation_function)
        self.fc1 = Linear(config.d_model, config.encoder_ffn_dim)
        self.fc2 = Linear(config.encoder_ffn_dim, config.d_model)
        self.final_layer_norm = nn.LayerNorm(config.d_model)
        self.dropout, self.activation_dropout = config.dropout, config.activation_dropout

    def forward(self, hidden_states: torch.Tensor, output_attentions: bool = False):
        attn, probs = self.self_attn(
            self.self_attn_layer_norm(hidden_states), output_attentions=output_attentions
        )
        hidden_states = hidden_states + nn.functional.dropout(attn, p=self.dropout, training=self.training)
        ffn = self.activation_fn(self.fc1(self.final_layer_norm(hidden_states)))
        ffn = nn.functional.dropout(ffn, p=self.activation_dropout, training=self.training)
        ffn = nn.functional.dropout(self.fc2(ffn), p=self.dropout, training=self.training)
        return hidden_states + ffn, probs


class WhisperDecoderLayer(nn.Module):
    """Pre-norm block: causal self-attention, cross-attention over the encoder output, then the MLP."""

    def __init__(self, config: WhisperConfig, layer_idx: int = 0):
        super().__init__()
        heads = config.decoder_attention_heads
        self.self_attn = WhisperAttention(config, heads, layer_idx)
        self.self_attn_layer_norm = nn.LayerNorm(config.d_model)
        self.encoder_attn = WhisperAttention(config, heads, layer_idx, is_cross=True)
        self.encoder_attn_layer_norm = nn.LayerNorm(config.d_model)
        self.activation_fn = get_activation(config.activation_function)
        self.fc1 = Linear(config.d_model, config.decoder_ffn_dim)
        self.fc2 = Linear(config.decoder_ffn_dim, config.d_model)
        self.final_layer_norm = nn.LayerNorm(config.d_model)
        self.dropout, self.activation_dropout = config.dropout, config.activation_dropout

    def forward(
        self, hidden_states, mask, encoder_hidden_states, cache, cache_position, output_attentions=False
    ):
        drop = self.dropout if self.training else 0.0
        attn, self_probs = self.self_attn(
            self.self_attn_layer_norm(hidden_states), None, mask, cache, cache_position, output_attentions
        )
        hidden_states = hidden_states + nn.functional.dropout(attn, p=drop)
        attn, cross_probs = self.encoder_attn(
            self.encoder_attn_layer_norm(hidden_states),
            encoder_hidden_states,
            None,
            cache,
            None,
            output_attentions,
        )
        hidden_states = hidden_states + nn.functional.dropout(attn, p=drop)
        ffn = self.activation_fn(self.fc1(self.final_layer_norm(hidden_states)))
        ffn = nn.functional.dropout(ffn, p=self.activation_dropout, training=self.training)
        return hidden_states + nn.functional.dropout(self.fc2(ffn), p=drop), self_probs, cross_probs


class WhisperPreTrainedModel(PreTrainedModel):
    config_class = WhisperConfig
    supports_gradient_checkpointing = True
    base_model_prefix = "model"
    main_input_name = "input_features"

    def _init_weights(self, module: nn.Module) -> None:
        """Normal(0, init_std) for linear, conv and embedding weights; sinusoids for the encoder positions."""
        std = self.config.init_std
        if isinstance(module, (nn.Linear, nn.Conv1d)):
            module.weight.data.normal_(mean=0.0, std=std)
            if module.bias is not None:
                module.bias.data.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.data.normal_(mean=0.0, std=std)
        elif isinstance(module, nn.LayerNorm):
            module.weight.data.fill_(1.0)
            module.bias.data.zero_()
        if isinstance(module, WhisperEncoder):
            module.embed_positions.weight.data.copy_(sinusoids(*module.embed_positions.weight.shape))


class WhisperEncoder(nn.Module):
    """Two convolutions (the second strides by 2), fixed sinusoidal positions, pre-norm layers, final LN."""

    def __init__(self, config: WhisperConfig):
        super().__init__()
        self.config = config
        self.conv1 = nn.Conv1d(config.num_mel_bins, config.d_model, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(config.d_model, config.d_model, kernel_size=3, stride=2, padding=1)
        self.embed_positions = nn.Embedding(config.max_source_positions, config.d_model)
        self.embed_positions.requires_grad_(False)
        self.layers = nn.ModuleList([WhisperEncoderLayer(config) for _ in range(config.encoder_layers)])
        self.layer_norm = nn.LayerNorm(config.d_model)

    def forward(self, input_features, output_attentions=False, output_hidden_states=False) -> BaseModelOutput:
        expected = self.config.max_source_positions * 2
        if (
            input_features is None
            or input_features.dim() != 3
            or input_features.shape[1:]
            != (
                self.config.num_mel_bins,
                expected,
            )
        ):
            shape = None if input_features is None else tuple(input_features.shape)
            raise InputError(
                f"Whisper needs input_features [batch, {self.config.num_mel_bins}, {expected}] (num_mel_bins, "
                f"2 * max_source_positions), got {shape}. Pass WhisperFeatureExtractor's output (padded to 30 s)."
            )
        hidden = nn.functional.gelu(self.conv1(input_features.to(self.conv1.weight.dtype)))
        hidden = nn.functional.gelu(self.conv2(hidden)).permute(0, 2, 1)
        hidden = hidden + self.embed_positions.weight
        hidden = nn.functional.dropout(hidden, p=self.config.dropout, training=self.training)
        states, attentions = (), ()
        for layer in self.layers:
            states += (hidden,)
            hidden, probs = checkpointed_call(self, layer, hidden, output_attentions)
            attentions += (probs,)
        hidden = self.layer_norm(hidden)
        return BaseModelOutput(
            last_hidden_state=hidden,
            hidden_states=states + (hidden,) if output_hidden_states else None,
            attentions=attentions if output_attentions else None,
        )


def _decoder_mask(attention_mask, batch, seq, key_length, cache_position, dtype, device) -> torch.Tensor:
    """Additive [batch, 1, seq, key_length] mask: causal from `cache_position`, padding from `attention_mask`."""
    query_slots = torch.arange(seq, device=device).view(-1, 1) + cache_position
    allowed = torch.arange(key_length, device=device).view(1, -1) <= query_slots
    allowed = allowed.view(1, 1, seq, key_length).expand(batch, 1, seq, key_length)
    if attention_mask is not None:
        allowed = allowed & attention_mask.view(batch, 1, 1, key_length).to(torch.bool)
    return torch.zeros(allowed.shape, dtype=dtype, device=device).masked_fill(
        ~allowed, torch.finfo(dtype).min
    )


class WhisperDecoder(nn.Module):
    """Token + learned position embeddings, pre-norm decoder layers, final LN."""

    def __init__(self, config: WhisperConfig):
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.d_model)
        self.embed_positions = nn.Embedding(config.max_target_positions, config.d_model)
        self.layers = nn.ModuleList([WhisperDecoderLayer(config, i) for i in range(config.decoder_layers)])
        self.layer_norm = nn.LayerNorm(config.d_model)
        self.embed_scale = math.sqrt(config.d_model) if config.scale_embedding else 1.0

    def forward(
        self,
        input_ids,
        encoder_hidden_states,
        attention_mask=None,
        position_ids=None,
        cache=None,
        cache_position=None,
        output_attentions=False,
        output_hidden_states=False,
    ) -> dict[str, Any]:
        batch, seq = input_ids.shape
        start = 0 if cache_position is None else int(cache_position)
        if start + seq > self.config.max_target_positions:
            raise InputError(
                f"decoder_input_ids reach position {start + seq}, beyond max_target_positions "
                f"({self.config.max_target_positions}); shorten the decoder prompt or max_new_tokens."
            )
        if cache is not None:
            cache.self_attention.check_fits(start, seq)
        if position_ids is None:
            position_ids = torch.arange(start, start + seq, device=input_ids.device).expand(batch, seq)
        hidden = self.embed_tokens(input_ids) * self.embed_scale + self.embed_positions(position_ids)
        hidden = nn.functional.dropout(hidden, p=self.config.dropout, training=self.training)
        key_length = cache.max_length if cache is not None else seq
        mask = _decoder_mask(attention_mask, batch, seq, key_length, start, hidden.dtype, hidden.device)
        position = torch.tensor(start, device=hidden.device)
        states, self_attn, cross_attn = (), (), ()
        for layer in self.layers:
            states += (hidden,)
            hidden, self_probs, cross_probs = checkpointed_call(
                self,
                layer,
                hidden,
                mask,
                encoder_hidden_states,
                cache,
                position,
                output_attentions,
                cache=cache,
            )
            self_attn, cross_attn = self_attn + (self_probs,), cross_attn + (cross_probs,)
        hidden = self.layer_norm(hidden)
        return {
            "last_hidden_state": hidden,
            "hidden_states": states + (hidden,) if output_hidden_states else None,
            "attentions": self_attn if output_attentions else None,
            "cross_attentions": cross_attn if output_attentions else None,
        }


class WhisperModel(WhisperPreTrainedModel):
    """The encoder and the decoder, without the vocabulary projection."""

    def __init__(self, config: WhisperConfig):
        super().__init__(config)
        self.encoder = WhisperEncoder(config)
        self.decoder = WhisperDecoder(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.decoder.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.decoder.embed_tokens = value

    def get_encoder(self) -> WhisperEncoder:
        return self.encoder

    def forward(
        self,
        input_features: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: Any = None,
        past_key_values: WhisperCache | None = None,
        decoder_position_ids: torch.Tensor | None = None,
        cache_position: Any = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> Seq2SeqModelOutput | tuple:
        config = self.config
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        return_dict = config.return_dict if return_dict is None else return_dict
        if encoder_outputs is None:
            encoder_outputs = self.encoder(input_features, output_attentions, output_hidden_states)
        elif not isinstance(encoder_outputs, BaseModelOutput):
            encoder_outputs = BaseModelOutput(last_hidden_state=encoder_outputs[0])
        if decoder_input_ids is None:
            raise InputError(
                "Whisper's decoder needs decoder_input_ids (start with config.decoder_start_token_id)."
            )
        decoder = self.decoder(
            decoder_input_ids,
            encoder_outputs.last_hidden_state,
            decoder_attention_mask,
            decoder_position_ids,
            past_key_values,
            cache_position,
            output_attentions,
            output_hidden_states,
        )
        outputs = Seq2SeqModelOutput(
            last_hidden_state=decoder["last_hidden_state"],
            past_key_values=past_key_values,
            decoder_hidden_states=decoder["hidden_states"],
            decoder_attentions=decoder["attentions"],
            cross_attentions=decoder["cross_attentions"],
            encoder_last_hidden_state=encoder_outputs.last_hidden_state,
            encoder_hidden_states=encoder_outputs.hidden_states,
            encoder_attentions=encoder_outputs.attentions,
        )
        return finish_output(outputs, return_dict)


class WhisperForConditionalGeneration(WhisperPreTrainedModel):
    """Encoder-decoder with the vocabulary projection `proj_out` tied to the decoder's token embeddings."""

    _tied_weights_keys = ["proj_out.weight"]

    def __init__(self, config: WhisperConfig):
        super().__init__(config)
        self.model = WhisperModel(config)
        self.proj_out = Linear(config.d_model, config.vocab_size, bias=False)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.proj_out

    def get_encoder(self) -> WhisperEncoder:
        return self.model.encoder

    def init_cache(self, batch_size: int, max_length: int) -> WhisperCache:
        """An empty decoder cache: the contract's `StaticCache` for self-attention plus empty cross slots."""
        config = self.config
        heads = config.decoder_attention_heads
        static = StaticCache(
            config.decoder_layers,
            batch_size,
            heads,
            max_length,
            config.d_model // heads,
            self.dtype,
            self.device,
        )
        return WhisperCache(static, config.decoder_layers)

    def forward(
        self,
        input_features: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: Any = None,
        past_key_values: WhisperCache | None = None,
        decoder_position_ids: torch.Tensor | None = None,
        cache_position: Any = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> Seq2SeqLMOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        if labels is not None and decoder_input_ids is None:
            decoder_input_ids = shift_tokens_right(
                labels, self.config.pad_token_id, self.config.decoder_start_token_id
            )
        outputs = self.model(
            input_features,
            decoder_input_ids,
            decoder_attention_mask,
            encoder_outputs,
            past_key_values,
            decoder_position_ids,
            cache_position,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        logits = self.proj_out(outputs.last_hidden_state)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), labels.reshape(-1).long()
            )
        result = Seq2SeqLMOutput(
            loss=loss, logits=logits, **{k: v for k, v in outputs.items() if k != "last_hidden_state"}
        )
        return finish_output(result, return_dict)

    @torch.no_grad()
    def generate(
        self,
        input_features: Any,
        generation_config: Any = None,
        attention_mask: Any = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        """Greedy transcription as transformers' `generate` (same tokens): per 30 s window the encoder once, then one
        token per step over the cached decoder (self-attention `StaticCache` + cross-attention keys/values), with the
        forced prompt (<|startoftranscript|>[<|lang|><|task|>][<|notimestamps|>]) and the suppression and timestamp
        rules of `generation_whisper.process_scores`. More than `2 * max_source_positions` frames is long-form:
        windows seek to the last predicted timestamp (`return_timestamps` is then implied; batches need the frames'
        `attention_mask`). Keywords: `max_new_tokens`, `max_length`, `language`, `task`, `return_timestamps`.

        Returns the new tokens [batch, n] as transformers does: the prompt and the end-of-text left out, rows padded
        with `pad_token_id`."""
        model_config = getattr(self, "generation_config", None)

        def plan_for(long_form: bool) -> WhisperPlan:
            return whisper_plan(self.config, model_config, generation_config, kwargs, long_form)

        tokens = transcribe(
            plan_for, self.config, _to_numpy(input_features), _to_numpy(attention_mask), self._window
        )
        return torch.from_numpy(tokens).to(self.device)

    def _window(self, plan: WhisperPlan, features: np.ndarray) -> np.ndarray:
        encoder_hidden = self.model.encoder(torch.from_numpy(features).to(self.device)).last_hidden_state
        return _greedy(self, plan, encoder_hidden).cpu().numpy()


def _to_numpy(value: Any) -> np.ndarray | None:
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


TORCH_OPS = Ops(
    asarray=lambda x: torch.from_numpy(np.asarray(x)),
    where=torch.where,
    max=lambda x, axis: torch.amax(x, dim=axis),
    logsumexp=lambda x, axis: torch.logsumexp(x, dim=axis),
    log_softmax=lambda x: torch.log_softmax(x, dim=-1),
    column=lambda x, i: x[:, max(int(i), 0)],
)


def _greedy(
    model: WhisperForConditionalGeneration, plan: WhisperPlan, encoder_hidden: torch.Tensor
) -> torch.Tensor:
    """One window: prefill the prompt, then one token per step; the new tokens [batch, steps] (pad after the end)."""
    batch, device = encoder_hidden.shape[0], encoder_hidden.device
    begin = len(plan.prompt)
    tokens = torch.full((batch, plan.max_length), plan.pad_token_id, dtype=torch.long, device=device)
    tokens[:, :begin] = torch.tensor(plan.prompt, dtype=torch.long, device=device)
    cache = model.init_cache(batch, plan.max_length)
    mask = torch.zeros(batch, plan.max_length, dtype=torch.long, device=device)
    done = torch.zeros(batch, dtype=torch.bool, device=device)
    eos = torch.tensor(plan.eos_token_ids, device=device)
    ops = Ops(**{**TORCH_OPS.__dict__, "asarray": lambda x: torch.from_numpy(np.asarray(x)).to(device)})
    step_ids, position, cur = tokens[:, :begin], 0, begin
    while cur < plan.max_length:
        mask[:, position : position + step_ids.shape[1]] = 1
        logits = model(
            decoder_input_ids=step_ids,
            encoder_outputs=(encoder_hidden,),
            decoder_attention_mask=mask,
            past_key_values=cache,
            cache_position=position,
            return_dict=True,
        ).logits[:, -1, :]
        position += step_ids.shape[1]
        scores = process_scores(ops, plan, tokens, cur, logits.float())
        next_tokens = torch.argmax(scores, dim=-1)
        next_tokens = torch.where(done, torch.full_like(next_tokens, plan.pad_token_id), next_tokens)
        tokens[:, cur] = next_tokens
        cur += 1
        done = done | torch.isin(next_tokens, eos)
        if bool(done.all()):
            break
        step_ids = next_tokens[:, None]
    return tokens[:, begin:cur]
