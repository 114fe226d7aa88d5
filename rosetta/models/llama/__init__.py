"""Llama: the registry entry (preprocessors only, no models yet); importing it imports no framework."""

MODEL_TYPE = "llama"
TOKENIZER = "LlamaTokenizer"
IMPORT_STRUCTURE = {
    "tokenization_llama": ["LlamaTokenizer"],
}
