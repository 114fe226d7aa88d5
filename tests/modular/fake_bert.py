"""A small BERT-like model package (config, torch, TF, Flax) written into temporary folders.

`make_package(root, name)` builds `root/<name>/` as rosetta builds `rosetta/`: a `core` and
`backends` with tiny stand-ins for the base classes, and `models/bert/` with the four files a
model folder has. Modular sources written next to it (`models/<arch>/modular_<arch>.py`) import
`..bert.<file>` as the real ones will.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

CORE_CONFIGURATION = '''
"""Stand-in for rosetta.core.configuration."""

from rosetta.core.configuration import PretrainedConfig

__all__ = ["PretrainedConfig"]
'''

TORCH_UTILS = '''
"""Stand-in for rosetta.backends.torch.modeling_utils."""

from torch import nn


class PreTrainedModel(nn.Module):
    config_class = None
    base_model_prefix = ""

    def __init__(self, config):
        super().__init__()
        self.config = config

    def post_init(self):
        self.apply(self._init_weights)

    def _init_weights(self, module):
        pass
'''

TF_UTILS = '''
"""Stand-in for rosetta.backends.tf.modeling_tf_utils."""

import keras


class TFPreTrainedModel(keras.Model):
    config_class = None

    def __init__(self, config, *inputs, **kwargs):
        super().__init__(*inputs, **kwargs)
        self.config = config
'''

FLAX_UTILS = '''
"""Stand-in for rosetta.backends.flax.modeling_flax_utils."""


class FlaxPreTrainedModel:
    config_class = None
    module_class = None

    def __init__(self, config):
        self.config = config
        self.module = self.module_class(config)
'''

CONFIGURATION_BERT = '''
"""BERT's configuration."""

from __future__ import annotations

from typing import Any

from ...core.configuration import PretrainedConfig


class BertConfig(PretrainedConfig):
    """Configuration of a BERT model.

    Args:
        vocab_size: Number of tokens in the vocabulary.
        hidden_size: Width of the embeddings and of every layer.
        num_hidden_layers: Number of transformer layers.
        num_attention_heads: Attention heads per layer.
        intermediate_size: Width of the feed-forward block.
        hidden_act: Activation of the feed-forward block.
        hidden_dropout_prob: Dropout on embeddings and sub-layer outputs.
        max_position_embeddings: Longest sequence the position embeddings cover.
        type_vocab_size: Number of token types (segments).
        initializer_range: Standard deviation of the normal weight initialiser.
        layer_norm_eps: Epsilon of every LayerNorm.
        pad_token_id: Id of the padding token.
    """

    model_type = "bert"

    def __init__(
        self,
        vocab_size: int = 30522,
        hidden_size: int = 768,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        intermediate_size: int = 3072,
        hidden_act: str = "gelu",
        hidden_dropout_prob: float = 0.1,
        max_position_embeddings: int = 512,
        type_vocab_size: int = 2,
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-12,
        pad_token_id: int = 0,
        **kwargs: Any,
    ):
        super().__init__(pad_token_id=pad_token_id, **kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
'''

MODELING_BERT = '''
"""BERT in PyTorch: embeddings -> attention -> layer -> model -> heads."""

from __future__ import annotations

import math

import torch
from torch import nn

from ...backends.torch.modeling_utils import PreTrainedModel
from .configuration_bert import BertConfig

BERT_ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU}


def bert_attention_scale(hidden_size: int, num_heads: int) -> float:
    """Scale of BERT's attention scores."""
    return 1.0 / math.sqrt(hidden_size // num_heads)


class BertEmbeddings(nn.Module):
    """Word, position and token-type embeddings of BERT."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        # absolute positions
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        position_ids = self.create_position_ids(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        embeddings = self.word_embeddings(input_ids) + self.position_embeddings(position_ids)
        embeddings = embeddings + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(embeddings))

    def create_position_ids(self, input_ids: torch.Tensor) -> torch.Tensor:
        return torch.arange(input_ids.shape[1], device=input_ids.device).expand_as(input_ids)


class BertSelfAttention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.scale = bert_attention_scale(config.hidden_size, config.num_attention_heads)
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        batch, length, width = hidden_states.shape
        shape = (batch, length, self.num_heads, width // self.num_heads)
        query = self.query(hidden_states).view(shape).transpose(1, 2)
        key = self.key(hidden_states).view(shape).transpose(1, 2)
        value = self.value(hidden_states).view(shape).transpose(1, 2)
        probs = (torch.matmul(query, key.transpose(-1, -2)) * self.scale).softmax(-1)
        return torch.matmul(probs, value).transpose(1, 2).reshape(batch, length, width)


class BertLayer(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.attention = BertSelfAttention(config)
        self.attention_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.intermediate = nn.Linear(config.hidden_size, config.intermediate_size)
        self.activation = BERT_ACTIVATIONS[config.hidden_act]()
        self.output = nn.Linear(config.intermediate_size, config.hidden_size)
        self.output_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.attention_norm(hidden_states + self.attention(hidden_states))
        feed_forward = self.output(self.activation(self.intermediate(hidden_states)))
        return self.output_norm(hidden_states + feed_forward)


class BertPreTrainedModel(PreTrainedModel):
    config_class = BertConfig
    base_model_prefix = "bert"

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=self.config.initializer_range)


class BertModel(BertPreTrainedModel):
    """The bare BERT encoder."""

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True):
        super().__init__(config)
        self.embeddings = BertEmbeddings(config)
        self.layers = nn.ModuleList([BertLayer(config) for _ in range(config.num_hidden_layers)])
        self.pooler = nn.Linear(config.hidden_size, config.hidden_size) if add_pooling_layer else None
        self.post_init()

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None):
        hidden_states = self.embeddings(input_ids, token_type_ids=token_type_ids)
        for layer in self.layers:
            hidden_states = layer(hidden_states)
        pooled = torch.tanh(self.pooler(hidden_states[:, 0])) if self.pooler is not None else None
        return hidden_states, pooled


class BertForSequenceClassification(BertPreTrainedModel):
    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        _, pooled = self.bert(input_ids, token_type_ids=token_type_ids)
        return self.classifier(self.dropout(pooled))


class BertForMaskedLM(BertPreTrainedModel):
    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)
        self.post_init()

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        hidden_states, _ = self.bert(input_ids)
        return self.decoder(hidden_states)
'''

MODELING_TF_BERT = '''
"""BERT in TensorFlow/Keras."""

from __future__ import annotations

import keras
import tensorflow as tf

from ...backends.tf.modeling_tf_utils import TFPreTrainedModel
from .configuration_bert import BertConfig


class TFBertEmbeddings(keras.layers.Layer):
    def __init__(self, config: BertConfig, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.LayerNorm = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps, name="LayerNorm")

    def build(self, input_shape=None):
        self.weight = self.add_weight(name="weight", shape=(self.config.vocab_size, self.config.hidden_size))
        self.position_embeddings = self.add_weight(
            name="position_embeddings", shape=(self.config.max_position_embeddings, self.config.hidden_size)
        )
        super().build(input_shape)

    def call(self, input_ids):
        position_ids = tf.range(tf.shape(input_ids)[1])[None, :]
        embeddings = tf.gather(self.weight, input_ids) + tf.gather(self.position_embeddings, position_ids)
        return self.LayerNorm(embeddings)


class TFBertMainLayer(keras.layers.Layer):
    def __init__(self, config: BertConfig, **kwargs):
        super().__init__(**kwargs)
        self.embeddings = TFBertEmbeddings(config, name="embeddings")

    def call(self, input_ids):
        return self.embeddings(input_ids)


class TFBertPreTrainedModel(TFPreTrainedModel):
    config_class = BertConfig
    base_model_prefix = "bert"


class TFBertModel(TFBertPreTrainedModel):
    def __init__(self, config: BertConfig, *inputs, **kwargs):
        super().__init__(config, *inputs, **kwargs)
        self.bert = TFBertMainLayer(config, name="bert")

    def call(self, input_ids):
        return self.bert(input_ids)
'''

MODELING_FLAX_BERT = '''
"""BERT in JAX/Flax."""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from ...backends.flax.modeling_flax_utils import FlaxPreTrainedModel
from .configuration_bert import BertConfig


class FlaxBertEmbeddings(nn.Module):
    config: BertConfig
    dtype: jnp.dtype = jnp.float32

    def setup(self):
        self.word_embeddings = nn.Embed(self.config.vocab_size, self.config.hidden_size, dtype=self.dtype)
        self.position_embeddings = nn.Embed(self.config.max_position_embeddings, self.config.hidden_size)
        self.LayerNorm = nn.LayerNorm(epsilon=self.config.layer_norm_eps, dtype=self.dtype)

    def __call__(self, input_ids, position_ids):
        return self.LayerNorm(self.word_embeddings(input_ids) + self.position_embeddings(position_ids))


class FlaxBertModule(nn.Module):
    config: BertConfig
    dtype: jnp.dtype = jnp.float32

    def setup(self):
        self.embeddings = FlaxBertEmbeddings(self.config, dtype=self.dtype)

    def __call__(self, input_ids, position_ids=None):
        if position_ids is None:
            position_ids = jnp.broadcast_to(jnp.arange(input_ids.shape[-1]), input_ids.shape)
        return self.embeddings(input_ids, position_ids)


class FlaxBertPreTrainedModel(FlaxPreTrainedModel):
    config_class = BertConfig
    base_model_prefix = "bert"


class FlaxBertModel(FlaxBertPreTrainedModel):
    module_class = FlaxBertModule
'''

CORE_TOKENIZATION = '''
"""Stand-in for rosetta.core.tokenization."""


class PreTrainedTokenizer:
    model_input_names = ["input_ids"]

    def __init__(self, vocab: dict[str, int], **kwargs):
        self.vocab = vocab
'''

CORE_IMAGE_PROCESSING = '''
"""Stand-in for rosetta.core.image_processing."""


class BaseImageProcessor:
    def __init__(self, **kwargs):
        pass
'''

TOKENIZATION_BERT = '''
"""BERT's WordPiece tokenizer."""

from __future__ import annotations

from ...core.tokenization import PreTrainedTokenizer

BERT_SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[PAD]")


class BertTokenizer(PreTrainedTokenizer):
    """A BERT tokenizer."""

    def __init__(self, vocab: dict[str, int], do_lower_case: bool = True, **kwargs):
        super().__init__(vocab, **kwargs)
        self.do_lower_case = do_lower_case
        self.special_tokens = BERT_SPECIAL_TOKENS

    def tokenize(self, text: str) -> list[str]:
        return (text.lower() if self.do_lower_case else text).split()
'''

PACKAGE_FILES = {
    "__init__.py": "",
    "core/__init__.py": "",
    "core/configuration.py": CORE_CONFIGURATION,
    "core/tokenization.py": CORE_TOKENIZATION,
    "core/image_processing.py": CORE_IMAGE_PROCESSING,
    "backends/__init__.py": "",
    "backends/torch/__init__.py": "",
    "backends/torch/modeling_utils.py": TORCH_UTILS,
    "backends/tf/__init__.py": "",
    "backends/tf/modeling_tf_utils.py": TF_UTILS,
    "backends/flax/__init__.py": "",
    "backends/flax/modeling_flax_utils.py": FLAX_UTILS,
    "models/__init__.py": "",
    "models/bert/__init__.py": "",
    "models/bert/configuration_bert.py": CONFIGURATION_BERT,
    "models/bert/modeling_bert.py": MODELING_BERT,
    "models/bert/modeling_tf_bert.py": MODELING_TF_BERT,
    "models/bert/modeling_flax_bert.py": MODELING_FLAX_BERT,
    "models/bert/tokenization_bert.py": TOKENIZATION_BERT,
}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def make_package(root: Path, name: str = "pkg") -> Path:
    """`root/<name>/` with core, backends and models/bert; returns `root/<name>/models`."""
    for relative, text in PACKAGE_FILES.items():
        write(root / name / relative, text)
    return root / name / "models"


def add_modular(models: Path, arch: str, source: str) -> Path:
    """Write `models/<arch>/modular_<arch>.py` (and the package's `__init__.py`)."""
    write(models / arch / "__init__.py", "")
    return write(models / arch / f"modular_{arch}.py", source)


MODULAR_ROBERTA = '''
"""RoBERTa: BERT with padding-aware positions, a classification head on <s>, and more special tokens."""

from __future__ import annotations

import flax.linen as fnn
import jax.numpy as jnp
import tensorflow as tf
import torch
from torch import nn

from ..bert.configuration_bert import BertConfig
from ..bert.modeling_bert import BertEmbeddings, BertForSequenceClassification, BertModel
from ..bert.modeling_flax_bert import FlaxBertModel, FlaxBertModule
from ..bert.modeling_tf_bert import TFBertEmbeddings, TFBertModel


class RobertaConfig(BertConfig):
    """Configuration of a RoBERTa model.

    Args:
        bos_token_id: Id of the beginning-of-sequence token.
        eos_token_id: Id of the end-of-sequence token.
    """

    def __init__(self, pad_token_id: int = 1, bos_token_id: int = 0, eos_token_id: int = 2, **kwargs):
        super().__init__(pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs)


def create_position_ids_from_input_ids(input_ids: torch.Tensor, padding_idx: int) -> torch.Tensor:
    """Positions counted from padding_idx + 1, padding tokens keeping padding_idx."""
    mask = input_ids.ne(padding_idx).int()
    return torch.cumsum(mask, dim=1) * mask + padding_idx


class RobertaEmbeddings(BertEmbeddings):
    def __init__(self, config: RobertaConfig):
        super().__init__(config)
        self.padding_idx = config.pad_token_id
        self.position_embeddings = nn.Embedding(
            config.max_position_embeddings, config.hidden_size, padding_idx=config.pad_token_id
        )

    def create_position_ids(self, input_ids: torch.Tensor) -> torch.Tensor:
        return create_position_ids_from_input_ids(input_ids, self.padding_idx)


class RobertaModel(BertModel):
    pass


class RobertaClassificationHead(nn.Module):
    """Classification head on the first token (<s>)."""

    def __init__(self, config: RobertaConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.out_proj = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.out_proj(torch.tanh(self.dense(features[:, 0])))


class RobertaForSequenceClassification(BertForSequenceClassification):
    def __init__(self, config: RobertaConfig):
        super().__init__(config)
        self.roberta = RobertaModel(config, add_pooling_layer=False)
        self.classifier = RobertaClassificationHead(config)
        del self.dropout

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        hidden_states, _ = self.roberta(input_ids, token_type_ids=token_type_ids)
        return self.classifier(hidden_states)


class TFRobertaEmbeddings(TFBertEmbeddings):
    def __init__(self, config: RobertaConfig, **kwargs):
        super().__init__(config, **kwargs)
        self.padding_idx = config.pad_token_id

    def call(self, input_ids):
        mask = tf.cast(tf.math.not_equal(input_ids, self.padding_idx), input_ids.dtype)
        position_ids = tf.math.cumsum(mask, axis=1) * mask + self.padding_idx
        embeddings = tf.gather(self.weight, input_ids) + tf.gather(self.position_embeddings, position_ids)
        return self.LayerNorm(embeddings)


class TFRobertaModel(TFBertModel):
    pass


class FlaxRobertaModule(FlaxBertModule):
    def setup(self):
        super().setup()
        self.pooler = fnn.Dense(self.config.hidden_size, dtype=self.dtype)

    def __call__(self, input_ids, position_ids=None):
        if position_ids is None:
            mask = (input_ids != self.config.pad_token_id).astype("i4")
            position_ids = jnp.cumsum(mask, axis=-1) * mask + self.config.pad_token_id
        hidden_states = self.embeddings(input_ids, position_ids)
        return hidden_states, fnn.tanh(self.pooler(hidden_states[:, 0]))


class FlaxRobertaModel(FlaxBertModel):
    module_class = FlaxRobertaModule
'''
