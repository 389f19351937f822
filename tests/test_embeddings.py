"""The packaged int8 ONNX all-MiniLM-L6-v2: offline, dynamic padding, batch-invariant."""

from __future__ import annotations

import numpy as np
import pytest

from zettelmem.config import OnnxEmbeddingConfig
from zettelmem.embeddings import make_embedder
from zettelmem.embeddings.hashing import HashingEmbedder
from zettelmem.embeddings.onnx import OnnxEmbedder, locate_model
from zettelmem.errors import ConfigurationError


@pytest.fixture(scope="module")
def emb():
    return make_embedder(OnnxEmbeddingConfig())


def test_loaded_once_per_process(emb):
    assert make_embedder(OnnxEmbeddingConfig()) is emb


def test_unit_vectors_and_dims(emb):
    v = emb.embed(["hello world", "a much longer sentence about beagles and rivers in Porto"])
    assert v.shape == (2, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert emb.embed([]).shape == (0, 384)


def test_dynamic_padding_does_not_change_vectors(emb):
    short = "I adopted a puppy."
    alone = emb.embed([short])[0]
    padded = emb.embed([short, "word " * 200])[0]  # batched beside a text 50x longer
    assert float(alone @ padded) > 0.9999


def test_tokenizer_pads_dynamically(emb):
    enc = emb.tokenizer.encode_batch(["hi", "hello there my friend"])
    assert len(enc[0].ids) < len(enc[1].ids) < 128  # the packaged file pads to 128; we don't


def test_semantics(emb):
    a, b, c = emb.embed(["The dog chased the ball in the park.", "A puppy ran after a ball outside.",
                         "Quarterly tax filing deadlines for corporations."])
    assert a @ b > a @ c + 0.3


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigurationError, match="model"):
        locate_model(OnnxEmbeddingConfig(model_path=tmp_path / "nope.onnx"))
    with pytest.raises(ConfigurationError, match="tokenizer"):
        OnnxEmbedder(OnnxEmbeddingConfig(tokenizer_path=tmp_path / "nope.json"))


def test_hashing_embedder_is_deterministic():
    h = HashingEmbedder(64)
    assert np.array_equal(h.embed(["a b c"]), h.embed(["a b c"]))
    assert h.embed(["a b c"]).shape == (1, 64)
