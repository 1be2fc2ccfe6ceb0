"""Running a configured set of trials: config, engines (how trials are batched), executors
(where they run), the runner (the only store writer) and the progress display."""
