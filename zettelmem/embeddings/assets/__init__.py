"""Files the default embedder needs: the all-MiniLM-L6-v2 ``tokenizer.json`` (see ``NOTICE.md``)."""
