"""GPT-2's configuration (Hugging Face's field names, so its config.json files load as they are)."""

from __future__ import annotations

from typing import Any, ClassVar

from ...core.configuration import PretrainedConfig

# What every backend's GPT-2 declares about its checkpoint (kept here: this module imports no framework).
# torch's Conv1D stores its weight [in, out]: the TF/Flax Dense kernel as it is, not a transpose.
CONV1D_LAYOUTS: dict[str, str] = {r"\.(c_attn|c_proj|c_fc)\.weight$": "identity"}
# transformers 4 checkpoints hold the causal-mask buffers (`attn.bias`, `attn.masked_bias`); they are no weights.
IGNORED_BUFFERS: list[str] = [r"\.attn\.bias$", r"\.attn\.masked_bias$", r"\.crossattention\.bias$"]


class GPT2Config(PretrainedConfig):
    """Configuration of a GPT-2 model; the defaults give openai-community/gpt2 (124M).

    Args:
        vocab_size: Number of tokens in the vocabulary.
        n_positions: Longest sequence the learned position embeddings cover (`max_position_embeddings`).
        n_embd: Width of the embeddings and of every layer (`hidden_size`).
        n_layer: Number of transformer blocks (`num_hidden_layers`).
        n_head: Attention heads per block (`num_attention_heads`).
        n_inner: Width of the feed-forward block; None means 4 * n_embd.
        activation_function: Activation of the feed-forward block ("gelu_new", "gelu", "relu", ...).
        resid_pdrop: Dropout on the attention and feed-forward outputs.
        embd_pdrop: Dropout on the embeddings.
        attn_pdrop: Dropout on the attention probabilities.
        layer_norm_epsilon: Epsilon of every LayerNorm.
        initializer_range: Standard deviation of the normal weight initialiser.
        summary_*: Fields of transformers' sequence-summary heads, kept for round trips.
        scale_attn_weights: Divide attention scores by sqrt(head_dim).
        use_cache: Whether generation reuses past keys and values.
        scale_attn_by_inverse_layer_idx: Also divide the scores of block i by (i + 1).
        reorder_and_upcast_attn: Compute the scores in float32 (same numbers in float32 models).
    """

    model_type = "gpt2"
    attribute_map: ClassVar[dict[str, str]] = {
        "hidden_size": "n_embd",
        "max_position_embeddings": "n_positions",
        "num_attention_heads": "n_head",
        "num_hidden_layers": "n_layer",
    }

    def __init__(
        self,
        vocab_size: int = 50257,
        n_positions: int = 1024,
        n_embd: int = 768,
        n_layer: int = 12,
        n_head: int = 12,
        n_inner: int | None = None,
        activation_function: str = "gelu_new",
        resid_pdrop: float = 0.1,
        embd_pdrop: float = 0.1,
        attn_pdrop: float = 0.1,
        layer_norm_epsilon: float = 1e-5,
        initializer_range: float = 0.02,
        summary_type: str = "cls_index",
        summary_use_proj: bool = True,
        summary_activation: str | None = None,
        summary_proj_to_labels: bool = True,
        summary_first_dropout: float = 0.1,
        scale_attn_weights: bool = True,
        use_cache: bool = True,
        bos_token_id: int | None = 50256,
        eos_token_id: int | None = 50256,
        scale_attn_by_inverse_layer_idx: bool = False,
        reorder_and_upcast_attn: bool = False,
        **kwargs: Any,
    ):
        super().__init__(bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs)
        self.vocab_size = vocab_size
        self.n_positions = n_positions
        self.n_embd = n_embd
        self.n_layer = n_layer
        self.n_head = n_head
        self.n_inner = n_inner
        self.activation_function = activation_function
        self.resid_pdrop = resid_pdrop
        self.embd_pdrop = embd_pdrop
        self.attn_pdrop = attn_pdrop
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        self.summary_type = summary_type
        self.summary_use_proj = summary_use_proj
        self.summary_activation = summary_activation
        self.summary_proj_to_labels = summary_proj_to_labels
        self.summary_first_dropout = summary_first_dropout
        self.scale_attn_weights = scale_attn_weights
        self.use_cache = use_cache
        self.scale_attn_by_inverse_layer_idx = scale_attn_by_inverse_layer_idx
        self.reorder_and_upcast_attn = reorder_and_upcast_attn

    @property
    def inner_size(self) -> int:
        """The feed-forward width: `n_inner`, or 4 * n_embd when unset."""
        return self.n_inner if self.n_inner is not None else 4 * self.n_embd

    @property
    def attention_scale(self) -> float:
        """The factor on the scores of every block before `scale_attn_by_inverse_layer_idx`."""
        return (self.n_embd // self.n_head) ** -0.5 if self.scale_attn_weights else 1.0

    def layer_scaling(self, layer_idx: int) -> float:
        """The factor on the attention scores of block `layer_idx`."""
        scale = self.attention_scale
        return scale / float(layer_idx + 1) if self.scale_attn_by_inverse_layer_idx else scale
