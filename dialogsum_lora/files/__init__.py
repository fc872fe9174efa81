"""Files: outputs written atomically; record files (JSON Lines, CSV, parquet) read and written."""
