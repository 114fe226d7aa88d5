"""GPT-2: the registry entry (preprocessors only, no models yet); importing it imports no framework."""

MODEL_TYPE = "gpt2"
TOKENIZER = "GPT2Tokenizer"
IMPORT_STRUCTURE = {
    "tokenization_gpt2": ["GPT2Tokenizer"],
}
