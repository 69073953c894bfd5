"""Collections: index a folder or corpus of audio once, then search it by text or by example in milliseconds.

``build.py`` embeds clips by windows (incremental by content hash, one transaction per batch), ``store.py`` keeps
them in SQLite with a FAISS index beside it, ``search.py`` ranks clips by their best window.
"""
