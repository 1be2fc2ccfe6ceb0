"""The GPT trials' tests evaluate on a short text: the whole evaluation text costs a second a point."""

import pytest

import actbench.tasks.gpt.train as gpt_train


@pytest.fixture
def short_evaluation(monkeypatch):
    """Evaluation on the first 2,000 characters of the evaluation text: the trial tests' time."""
    splits = gpt_train.text_splits

    def shortened(corpus, split):
        training, evaluation = splits(corpus, split)
        return training, evaluation[:2000]

    monkeypatch.setattr(gpt_train, "text_splits", shortened)
