"""Files: outputs written atomically and as one set per stage; record files (JSON Lines, CSV, parquet) read and
written."""
