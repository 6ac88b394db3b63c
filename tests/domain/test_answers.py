"""The answer rule the daemon applies in questions.answer (and every client mirrors)."""

from __future__ import annotations

from specflowd.domain.answers import answer_problem
from specflowd.vocabulary import Question, QuestionOption

STORAGE = Question(question="Which storage?", header="storage", options=[QuestionOption(label="json"), QuestionOption(label="sqlite")])


def test_options_only_unless_the_question_offers_other() -> None:
    assert answer_problem(STORAGE, "postgres") == "'postgres' is not an option: answer one of 'json', 'sqlite'"
    assert answer_problem(STORAGE, "7") == "'7' is not an option: answer one of 'json', 'sqlite'"
    assert answer_problem(STORAGE, " SQLite ") is None
    assert answer_problem(STORAGE.model_copy(update={"allowOther": True}), "postgres") is None
    assert answer_problem(Question(question="Name?"), "anything at all") is None
    assert answer_problem(Question(question="Name?"), "  ") == "the answer is empty"


def test_multi_select_takes_several_options_comma_separated() -> None:
    several = STORAGE.model_copy(update={"multiSelect": True})
    assert answer_problem(several, "json, sqlite") is None
    assert answer_problem(several, "json, redis") == "'redis' is not an option: answer one or more of 'json', 'sqlite'"
