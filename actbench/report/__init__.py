"""Reports from the results store: build (store -> report data), stats (tests, intervals,
verdicts), tables and figures (rendering), formats and writers (the files)."""
