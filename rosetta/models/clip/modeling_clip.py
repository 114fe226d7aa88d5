"""CLIP in PyTorch: configs -> embeddings -> attention -> layer -> encoder -> towers -> CLIPModel and projections.

Parameter names are transformers' (`text_model.embeddings.token_embedding.weight`,
`vision_model.embeddings.patch_embedding.weight`, `visual_projection.weight`, `logit_scale`, ...), so its
checkpoints load here and ours load there. A tower model (`CLIPTextModel`, `CLIPVisionModel`) holds its
layers directly, as transformers 5 saves it; its `base_model_prefix` ("text_model" / "vision_model") lets
it load a transformers 4 file or a whole CLIPModel folder too.
"""

from __future__ import annotations

import torch
from torch import nn

from ...backends.torch.activations import get_activation
from ...backends.torch.modeling_utils import PreTrainedModel, checkpointed_call, torch_input_view
from ...backends.torch.pytorch_utils import resize_patch_position_embeddings
from ...core.errors import InputError
from ...core.inputs import CHECKED_INPUTS, check_model_inputs
from ...core.outputs import BaseModelOutput, BaseModelOutputWithPooling, finish_output
from .configuration_clip import CLIPConfig, CLIPTextConfig, CLIPVisionConfig
from .outputs_clip import CLIPOutput, CLIPTextModelOutput, CLIPVisionModelOutput

# Checkpoint keys of the other parts of a CLIPModel, left aside when one part loads from its folder.
_TEXT_PARTS = [r"^vision_model\.", r"^visual_projection\.", r"^logit_scale$"]
_VISION_PARTS = [r"^text_model\.", r"^text_projection\.", r"^logit_scale$"]


def pooled_at_eos(
    last_hidden_state: torch.Tensor, input_ids: torch.Tensor, eos_token_id: int | None
) -> torch.Tensor:
    """The hidden state at the end-of-text token: the largest id when `eos_token_id` is 2 (configs from before
    transformers' fix), else the first `eos_token_id` of each row."""
    ids = input_ids.to(dtype=torch.int, device=last_hidden_state.device)
    positions = ids.argmax(dim=-1) if eos_token_id == 2 else (ids == eos_token_id).int().argmax(dim=-1)
    return last_hidden_state[
        torch.arange(last_hidden_state.shape[0], device=last_hidden_state.device), positions
    ]


def contrastive_loss(logits_per_text: torch.Tensor) -> torch.Tensor:
    """The mean of the text->image and image->text cross-entropies, matching pairs on the diagonal."""
    targets = torch.arange(len(logits_per_text), device=logits_per_text.device)
    caption_loss = nn.functional.cross_entropy(logits_per_text, targets)
    image_loss = nn.functional.cross_entropy(logits_per_text.t(), targets)
    return (caption_loss + image_loss) / 2.0


def _normalised(embeds: torch.Tensor) -> torch.Tensor:
    return embeds / embeds.pow(2).sum(dim=-1, keepdim=True).pow(0.5)


class CLIPVisionEmbeddings(nn.Module):
    """Class embedding + patch embeddings (a strided conv without bias), plus learned positions."""

    def __init__(self, config: CLIPVisionConfig):
        super().__init__()
        self.embed_dim = config.hidden_size
        self.initializer_range = config.initializer_range
        self.image_size = config.image_size
        self.patch_size = config.patch_size
        self.num_channels = config.num_channels
        self.class_embedding = nn.Parameter(torch.randn(self.embed_dim))
        self.patch_embedding = nn.Conv2d(
            config.num_channels,
            self.embed_dim,
            kernel_size=config.patch_size,
            stride=config.patch_size,
            bias=False,
        )
        self.num_positions = (config.image_size // config.patch_size) ** 2 + 1
        self.position_embedding = nn.Embedding(self.num_positions, self.embed_dim)
        self.register_buffer(
            "position_ids", torch.arange(self.num_positions).expand((1, -1)), persistent=False
        )

    def interpolate_pos_encoding(self, embeddings: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """The position embeddings resized (bicubic) to the patch grid of a height x width image."""
        num_patches = embeddings.shape[1] - 1
        position_embedding = self.position_embedding.weight.unsqueeze(0)
        num_positions = position_embedding.shape[1] - 1
        if num_patches == num_positions and height == width:
            return self.position_embedding(self.position_ids)
        return resize_patch_position_embeddings(
            position_embedding, height // self.patch_size, width // self.patch_size
        )

    def forward(self, pixel_values: torch.Tensor, interpolate_pos_encoding: bool = False) -> torch.Tensor:
        shape = tuple(pixel_values.shape)
        check_pixel_values(shape, self.num_channels, self.image_size, interpolate_pos_encoding)
        patch_embeds = self.patch_embedding(pixel_values.to(self.patch_embedding.weight.dtype))
        patch_embeds = patch_embeds.flatten(2).transpose(1, 2)
        class_embeds = self.class_embedding.expand(pixel_values.shape[0], 1, -1)
        embeddings = torch.cat([class_embeds, patch_embeds], dim=1)
        if interpolate_pos_encoding:
            return embeddings + self.interpolate_pos_encoding(embeddings, shape[2], shape[3])
        return embeddings + self.position_embedding(self.position_ids)


def check_pixel_values(
    shape: tuple[int, ...], num_channels: int, image_size: int, interpolate_pos_encoding: bool = False
) -> None:
    """Refuse pixel_values that are not [batch, num_channels, image_size, image_size] (any height and width
    with `interpolate_pos_encoding`), naming what to do."""
    if len(shape) != 4 or shape[1] != num_channels:
        raise InputError(
            f"pixel_values must be [batch, {num_channels}, height, width] (config.num_channels = {num_channels}), "
            f"got shape {shape}. Pass the image processor's output."
        )
    if not interpolate_pos_encoding and (shape[2] != image_size or shape[3] != image_size):
        raise InputError(
            f"Input image size ({shape[2]}*{shape[3]}) doesn't match the model's ({image_size}*{image_size}). "
            "Resize the image with CLIPImageProcessor (crop_size = the config's image_size), or pass "
            "interpolate_pos_encoding=True to resize the position embeddings."
        )


class CLIPTextEmbeddings(nn.Module):
    def __init__(self, config: CLIPTextConfig):
        super().__init__()
        self.token_embedding = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position_embedding = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.register_buffer(
            "position_ids", torch.arange(config.max_position_embeddings).expand((1, -1)), persistent=False
        )

    def forward(self, input_ids: torch.Tensor, position_ids: torch.Tensor | None = None) -> torch.Tensor:
        if position_ids is None:
            position_ids = self.position_ids[:, : input_ids.shape[-1]]
        return self.token_embedding(input_ids) + self.position_embedding(position_ids)


class CLIPAttention(nn.Module):
    """Multi-head self-attention with an additive mask (causal and padding in the text tower)."""

    def __init__(self, config: CLIPTextConfig | CLIPVisionConfig):
        super().__init__()
        self.embed_dim = config.hidden_size
        self.num_heads = config.num_attention_heads
        if self.embed_dim % self.num_heads:
            raise InputError(
                f"hidden_size ({self.embed_dim}) must be a multiple of num_attention_heads ({self.num_heads})."
            )
        self.head_dim = self.embed_dim // self.num_heads
        self.scale = self.head_dim**-0.5
        self.dropout = config.attention_dropout
        self.num_layers = config.num_hidden_layers  # for the initialiser's scale
        self.eager = getattr(config, "_attn_implementation", None) == "eager"
        self.k_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.v_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.q_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.out_proj = nn.Linear(self.embed_dim, self.embed_dim)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, _ = x.shape
        return x.view(batch, seq, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        query = self.split_heads(self.q_proj(hidden_states))
        key = self.split_heads(self.k_proj(hidden_states))
        value = self.split_heads(self.v_proj(hidden_states))
        dropout = self.dropout if self.training else 0.0
        if output_attentions or self.eager:
            scores = (query @ key.transpose(-1, -2)) * self.scale
            if attention_mask is not None:
                scores = scores + attention_mask
            probs = nn.functional.dropout(
                nn.functional.softmax(scores, dim=-1), p=dropout, training=self.training
            )
            context = probs @ value
        else:
            probs = None
            context = nn.functional.scaled_dot_product_attention(
                query, key, value, attn_mask=attention_mask, dropout_p=dropout, scale=self.scale
            )
        batch, _, seq, _ = context.shape
        context = context.transpose(1, 2).reshape(batch, seq, self.embed_dim)
        return self.out_proj(context), probs


class CLIPMLP(nn.Module):
    def __init__(self, config: CLIPTextConfig | CLIPVisionConfig):
        super().__init__()
        self.num_layers = config.num_hidden_layers  # for the initialiser's scale
        self.activation_fn = get_activation(config.hidden_act)
        self.fc1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.fc2 = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.activation_fn(self.fc1(hidden_states)))


class CLIPEncoderLayer(nn.Module):
    """Pre-norm block: x + attention(LN(x)), then h + MLP(LN(h))."""

    def __init__(self, config: CLIPTextConfig | CLIPVisionConfig):
        super().__init__()
        self.self_attn = CLIPAttention(config)
        self.layer_norm1 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = CLIPMLP(config)
        self.layer_norm2 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attention_output, probs = self.self_attn(
            self.layer_norm1(hidden_states), attention_mask, output_attentions
        )
        hidden_states = hidden_states + attention_output
        return hidden_states + self.mlp(self.layer_norm2(hidden_states)), probs


class CLIPEncoder(nn.Module):
    def __init__(self, config: CLIPTextConfig | CLIPVisionConfig):
        super().__init__()
        self.layers = nn.ModuleList([CLIPEncoderLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> BaseModelOutput:
        all_hidden_states = (hidden_states,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for layer in self.layers:
            hidden_states, probs = checkpointed_call(
                self, layer, hidden_states, attention_mask, output_attentions
            )
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            if output_attentions:
                all_attentions += (probs,)
        return BaseModelOutput(
            last_hidden_state=hidden_states, hidden_states=all_hidden_states, attentions=all_attentions
        )


def causal_padding_mask(
    attention_mask: torch.Tensor | None, batch: int, seq: int, dtype: torch.dtype, device
) -> torch.Tensor:
    """Additive [batch, 1, seq, seq] mask: 0 where a query may attend (earlier, unpadded keys), dtype-min elsewhere."""
    allowed = torch.ones(seq, seq, dtype=torch.bool, device=device).tril()[None, None]
    if attention_mask is not None:
        allowed = allowed & attention_mask[:, None, None, :].to(device=device, dtype=torch.bool)
    allowed = allowed.expand(batch, 1, seq, seq)
    zeros = torch.zeros((), dtype=dtype, device=device)
    return torch.where(allowed, zeros, torch.tensor(torch.finfo(dtype).min, dtype=dtype, device=device))


class CLIPPreTrainedModel(PreTrainedModel):
    config_class = CLIPConfig
    supports_gradient_checkpointing = True
    base_model_prefix = "clip"

    def _init_weights(self, module: nn.Module) -> None:
        """transformers' CLIP initialisation: scaled normals per module kind, LayerNorm ones/zeros, biases zero."""
        factor = self.config.initializer_factor
        if isinstance(module, (nn.Linear, nn.LayerNorm, nn.Embedding, nn.Conv2d)):
            super()._init_weights(module)  # biases zero, LayerNorm ones/zeros; the weights drawn below
        if isinstance(module, CLIPTextEmbeddings):
            module.token_embedding.weight.data.normal_(mean=0.0, std=factor * 0.02)
            module.position_embedding.weight.data.normal_(mean=0.0, std=factor * 0.02)
        elif isinstance(module, CLIPVisionEmbeddings):
            std = module.initializer_range * factor
            nn.init.normal_(module.class_embedding, mean=0.0, std=module.embed_dim**-0.5 * factor)
            nn.init.normal_(module.patch_embedding.weight, std=std)
            nn.init.normal_(module.position_embedding.weight, std=std)
        elif isinstance(module, CLIPAttention):
            layers = module.num_layers
            nn.init.normal_(module.q_proj.weight, std=module.embed_dim**-0.5 * (2 * layers) ** -0.5 * factor)
            nn.init.normal_(module.k_proj.weight, std=module.embed_dim**-0.5 * (2 * layers) ** -0.5 * factor)
            nn.init.normal_(module.v_proj.weight, std=module.embed_dim**-0.5 * (2 * layers) ** -0.5 * factor)
            nn.init.normal_(module.out_proj.weight, std=module.embed_dim**-0.5 * factor)
        elif isinstance(module, CLIPMLP):
            hidden = module.fc1.in_features
            nn.init.normal_(module.fc1.weight, std=(2 * hidden) ** -0.5 * factor)
            nn.init.normal_(module.fc2.weight, std=hidden**-0.5 * (2 * module.num_layers) ** -0.5 * factor)
        elif isinstance(module, CLIPModel):
            nn.init.normal_(
                module.text_projection.weight, std=module.text_projection.in_features**-0.5 * factor
            )
            nn.init.normal_(
                module.visual_projection.weight, std=module.visual_projection.in_features**-0.5 * factor
            )
            module.logit_scale.data.fill_(self.config.logit_scale_init_value)
        elif isinstance(module, (CLIPTextModelWithProjection, CLIPVisionModelWithProjection)):
            projection = getattr(module, "text_projection", None) or module.visual_projection
            nn.init.normal_(projection.weight, std=projection.in_features**-0.5 * factor)


class CLIPTextModel(CLIPPreTrainedModel):
    """The text tower, pooled at the end-of-text token; no projection."""

    config_class = CLIPTextConfig
    base_model_prefix = "text_model"
    _keys_to_ignore_on_load_unexpected = [*_TEXT_PARTS, r"^text_projection\."]

    def __init__(self, config: CLIPTextConfig):
        super().__init__(config)
        self.embeddings = CLIPTextEmbeddings(config)
        self.encoder = CLIPEncoder(config)
        self.final_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.eos_token_id = config.eos_token_id
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.token_embedding

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.embeddings.token_embedding = value

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutputWithPooling | tuple:
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        return_dict = self.config.return_dict if return_dict is None else return_dict
        if input_ids is None:
            raise InputError("CLIP's text model needs input_ids: pass the tokenizer's output.")
        input_ids = input_ids.view(-1, input_ids.shape[-1])
        hidden_states = self.embeddings(input_ids, position_ids)
        batch, seq = input_ids.shape
        mask = causal_padding_mask(attention_mask, batch, seq, hidden_states.dtype, hidden_states.device)
        encoder_outputs = self.encoder(hidden_states, mask, output_attentions, output_hidden_states)
        last_hidden_state = self.final_layer_norm(encoder_outputs.last_hidden_state)
        outputs = BaseModelOutputWithPooling(
            last_hidden_state=last_hidden_state,
            pooler_output=pooled_at_eos(last_hidden_state, input_ids, self.eos_token_id),
            hidden_states=encoder_outputs.hidden_states,
            attentions=encoder_outputs.attentions,
        )
        return finish_output(outputs, return_dict)


class CLIPVisionModel(CLIPPreTrainedModel):
    """The vision tower, pooled at the class token (post-LayerNorm); no projection."""

    config_class = CLIPVisionConfig
    base_model_prefix = "vision_model"
    main_input_name = "pixel_values"
    _keys_to_ignore_on_load_unexpected = [*_VISION_PARTS, r"^visual_projection\."]

    def __init__(self, config: CLIPVisionConfig):
        super().__init__(config)
        self.embeddings = CLIPVisionEmbeddings(config)
        self.pre_layrnorm = nn.LayerNorm(
            config.hidden_size, eps=config.layer_norm_eps
        )  # transformers' spelling
        self.encoder = CLIPEncoder(config)
        self.post_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.patch_embedding

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        interpolate_pos_encoding: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutputWithPooling | tuple:
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        return_dict = self.config.return_dict if return_dict is None else return_dict
        if pixel_values is None:
            raise InputError("CLIP's vision model needs pixel_values: pass the image processor's output.")
        hidden_states = self.pre_layrnorm(self.embeddings(pixel_values, bool(interpolate_pos_encoding)))
        encoder_outputs = self.encoder(hidden_states, None, output_attentions, output_hidden_states)
        last_hidden_state = encoder_outputs.last_hidden_state
        outputs = BaseModelOutputWithPooling(
            last_hidden_state=last_hidden_state,
            pooler_output=self.post_layernorm(last_hidden_state[:, 0, :]),
            hidden_states=encoder_outputs.hidden_states,
            attentions=encoder_outputs.attentions,
        )
        return finish_output(outputs, return_dict)


class CLIPModel(CLIPPreTrainedModel):
    """Both towers, their projections into one space, and `logit_scale`: image-text similarity logits."""

    def __init__(self, config: CLIPConfig):
        super().__init__(config)
        text_config, vision_config = config.text_config, config.vision_config
        for tower in (text_config, vision_config):
            tower._attn_implementation = config._attn_implementation
        self.text_model = CLIPTextModel(text_config)
        self.vision_model = CLIPVisionModel(vision_config)
        self.visual_projection = nn.Linear(vision_config.hidden_size, config.projection_dim, bias=False)
        self.text_projection = nn.Linear(text_config.hidden_size, config.projection_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(float(config.logit_scale_init_value)))
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.text_model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.text_model.set_input_embeddings(value)

    def _check_inputs(self, args: tuple, kwargs: dict) -> None:
        """The text inputs against the text tower's vocabulary and length (the CLIP config has neither)."""
        names = ("input_ids", "pixel_values", "attention_mask", "position_ids")
        inputs = {**dict(zip(names, args)), **kwargs}
        views = {
            k: torch_input_view(v)
            for k, v in inputs.items()
            if k in CHECKED_INPUTS and isinstance(v, torch.Tensor)
        }
        check_model_inputs(self.config.text_config, type(self).__name__, views)

    def get_text_features(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
    ) -> BaseModelOutputWithPooling:
        """The text tower's output with `pooler_output` projected into the shared space (transformers 5)."""
        outputs = self.text_model(
            input_ids, attention_mask, position_ids, output_attentions, output_hidden_states, return_dict=True
        )
        outputs.pooler_output = self.text_projection(outputs.pooler_output)
        return outputs

    def get_image_features(
        self,
        pixel_values: torch.Tensor,
        interpolate_pos_encoding: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
    ) -> BaseModelOutputWithPooling:
        """The vision tower's output with `pooler_output` projected into the shared space (transformers 5)."""
        outputs = self.vision_model(
            pixel_values, interpolate_pos_encoding, output_attentions, output_hidden_states, return_dict=True
        )
        outputs.pooler_output = self.visual_projection(outputs.pooler_output)
        return outputs

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        return_loss: bool | None = None,
        interpolate_pos_encoding: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> CLIPOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        flags = dict(output_attentions=output_attentions, output_hidden_states=output_hidden_states)
        vision_outputs = self.get_image_features(pixel_values, interpolate_pos_encoding, **flags)
        text_outputs = self.get_text_features(input_ids, attention_mask, position_ids, **flags)
        image_embeds = _normalised(vision_outputs.pooler_output)
        text_embeds = _normalised(text_outputs.pooler_output)
        logits_per_text = (text_embeds @ image_embeds.t()) * self.logit_scale.exp()
        outputs = CLIPOutput(
            loss=contrastive_loss(logits_per_text) if return_loss else None,
            logits_per_image=logits_per_text.t(),
            logits_per_text=logits_per_text,
            text_embeds=text_embeds,
            image_embeds=image_embeds,
            text_model_output=text_outputs,
            vision_model_output=vision_outputs,
        )
        return finish_output(outputs, return_dict)


class CLIPTextModelWithProjection(CLIPPreTrainedModel):
    """The text tower and `text_projection`: `text_embeds` in the shared space (not normalised)."""

    config_class = CLIPTextConfig
    base_model_prefix = "text_model"
    _keys_to_ignore_on_load_unexpected = _TEXT_PARTS

    def __init__(self, config: CLIPTextConfig):
        super().__init__(config)
        self.text_model = CLIPTextModel(config)
        self.text_projection = nn.Linear(config.hidden_size, config.projection_dim, bias=False)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.text_model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.text_model.set_input_embeddings(value)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> CLIPTextModelOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.text_model(
            input_ids, attention_mask, position_ids, output_attentions, output_hidden_states, return_dict=True
        )
        result = CLIPTextModelOutput(
            text_embeds=self.text_projection(outputs.pooler_output),
            last_hidden_state=outputs.last_hidden_state,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )
        return finish_output(result, return_dict)


class CLIPVisionModelWithProjection(CLIPPreTrainedModel):
    """The vision tower and `visual_projection`: `image_embeds` in the shared space (not normalised)."""

    config_class = CLIPVisionConfig
    base_model_prefix = "vision_model"
    main_input_name = "pixel_values"
    _keys_to_ignore_on_load_unexpected = _VISION_PARTS

    def __init__(self, config: CLIPVisionConfig):
        super().__init__(config)
        self.vision_model = CLIPVisionModel(config)
        self.visual_projection = nn.Linear(config.hidden_size, config.projection_dim, bias=False)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.vision_model.get_input_embeddings()

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        interpolate_pos_encoding: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> CLIPVisionModelOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.vision_model(
            pixel_values, interpolate_pos_encoding, output_attentions, output_hidden_states, return_dict=True
        )
        result = CLIPVisionModelOutput(
            image_embeds=self.visual_projection(outputs.pooler_output),
            last_hidden_state=outputs.last_hidden_state,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )
        return finish_output(result, return_dict)
