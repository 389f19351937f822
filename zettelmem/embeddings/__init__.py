"""Text embedders: the packaged int8 ONNX all-MiniLM-L6-v2 (default), OpenAI, hashing."""

from zettelmem.embeddings.base import Embedder, make_embedder

__all__ = ["Embedder", "make_embedder"]
