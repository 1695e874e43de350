"""The quiz bank (attnlab.exercises.quiz): answers computed from the package, checked right."""

import math

import pytest

from attnlab.exercises.quiz import check_quiz, questions


def test_every_chapter_has_questions_and_every_answer_is_an_option():
    bank = questions()
    assert {q.chapter for q in bank} == set(range(1, 9))
    assert len({q.id for q in bank}) == len(bank)
    for q in bank:
        assert 0 <= q.answer < len(q.options) and len(set(q.options)) == len(q.options) >= 3, q.id


def test_computed_answers_are_the_ones_the_chapters_derive():
    by = {q.id: q for q in questions()}
    assert by["ch2-se-params"].options[by["ch2-se-params"].answer] == f"{2 * 256 * 256 // 16:,}"
    assert by["ch3-spatial-params"].options[by["ch3-spatial-params"].answer] == "98"
    assert by["ch4-eca-k"].options[by["ch4-eca-k"].answer] == "5"
    assert by["ch5-simam-floor"].options[by["ch5-simam-floor"].answer] == f"{1 / (1 + math.exp(-0.5)):.2f}"
    assert by["ch6-grids"].options[by["ch6-grids"].answer] == "13 x 13 and 26 x 26"


def test_check_quiz_marks_right_and_wrong_with_the_reason():
    q = questions(chapter=4)[0]
    wrong = (q.answer + 1) % len(q.options)
    result = check_quiz({q.id: q.answer, questions(chapter=2)[0].id: questions(chapter=2)[0].answer})
    assert result.score == 2 and result.total == 2 and "2 of 2 right" in str(result)
    result = check_quiz({q.id: wrong})
    assert result.score == 0 and f"the answer is {q.options[q.answer]!r}" in str(result)


def test_bad_answers_are_refused_by_name():
    with pytest.raises(KeyError, match="unknown question 'ch9-x'"):
        check_quiz({"ch9-x": 0})
    q = questions(chapter=1)[0]
    with pytest.raises(ValueError, match=f"the answer to '{q.id}' must be an option index 0-{len(q.options) - 1}"):
        check_quiz({q.id: 7})
