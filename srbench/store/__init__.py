"""Where things are kept: result files and journals, atomic writes, pinned assets, paths."""
