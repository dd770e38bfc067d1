"""The guideline corpus: topic files, their schema, and their chunks."""
