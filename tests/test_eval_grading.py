"""Answer extraction and grading: known right and wrong answers, every grading route, real model
outputs from ../shared/data, multiple choice, and pass@1 over k samples."""

from __future__ import annotations

import doctest
import json

import pytest

from openmementos.decode.metrics import GenerationMetrics
from openmementos.evaluate import answers, grading
from openmementos.evaluate.answers import extract_answer, extract_choice, last_boxed
from openmementos.evaluate.grading import grade_choice, grade_math, normalize, sympy_equal
from openmementos.evaluate.harness import Problem, Sample, grade, load_problems, pass_at_1


def test_docstring_examples_print_what_the_functions_return():
    for module in (answers, grading):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__


@pytest.mark.parametrize("text,expected,method", [
    (r"<think>maybe \boxed{3}</think>So $\boxed{\frac{1}{2}}$.", r"\frac{1}{2}", "boxed"),
    (r"<think>x</think>first \boxed{1}, then \boxed{\left( 3, \frac{\pi}{2} \right)}", r"\left( 3, \frac{\pi}{2} \right)", "boxed"),
    (r"<think>long thinking ... so \boxed{42} and then the budget ran out", "42", "boxed"),
    (r"</think>The answer is \fbox{7}", "7", "boxed"),
    (r"</think>Hence \boxed 5.", "5", "boxed"),
    ("</think>\n\nThe final answer is: $x = 12$.\n\nDone", "x = 12", "final_phrase"),
    ("</think>\n\nSo we get **17 apples** in total", "17 apples", "bold"),
    ("</think>\n\nthe value is 3, then 4, so 1,024", "1024", "last_number"),
    ("</think>\n\nI could not solve it.", None, "none"),
])
def test_answers_come_from_the_last_boxed_then_fallbacks(text, expected, method):
    assert extract_answer(text) == answers.Extracted(expected, method)


def test_an_unclosed_box_is_not_an_answer():
    assert last_boxed(r"\boxed{\frac{1}{2}") is None


RIGHT = [
    ("0.5", r"\frac{1}{2}"),
    (r"\dfrac{14}{3}", r"\frac{14}{3}"),
    (r"(3, \frac{\pi}{2})", r"\left( 3, \frac{\pi}{2} \right)"),
    (r"2\sqrt{2}", r"\sqrt{8}"),
    ("90", r"90^\circ"),
    (r"x^2+2x+1", r"(x+1)^2"),
    ("1,000", "1000"),
    (r"\text{Evelyn}", "Evelyn"),
    (r"[1, 2)", r"[1,2)"),
]
WRONG = [
    ("3", "4"),
    ("56", "28"),
    ("(1,2)", "[1,2]"),
    (r"\frac{1}{3}", "0.33"),
    (r"x+1", r"x-1"),
    ("(1, 2, 3)", "(1, 2)"),
]
ROUTES = ["sympy", "math_verify"]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("predicted,gold", RIGHT)
def test_known_right_answers_are_graded_right(route, predicted, gold):
    pytest.importorskip("sympy")
    if route == "math_verify":
        pytest.importorskip("math_verify")
    assert grade_math(predicted, gold, route).correct


@pytest.mark.parametrize("route", ROUTES + ["string"])
@pytest.mark.parametrize("predicted,gold", WRONG)
def test_known_wrong_answers_are_graded_wrong(route, predicted, gold):
    if route != "string":
        pytest.importorskip("sympy")
    if route == "math_verify":
        pytest.importorskip("math_verify")
    assert not grade_math(predicted, gold, route).correct


def test_the_string_route_alone_still_catches_formatting_differences():
    assert grade_math(r"$\dfrac{3}{56}$.", r"\frac{3}{56}", "string") == grading.Grade(True, "exact")
    assert normalize(r"\text{(C)}") == "(C)" and normalize("x = 5") == "5"
    assert grade_math(None, "1").method == "no_answer"


def test_the_sympy_route_never_evaluates_code_from_the_model():
    pytest.importorskip("sympy")
    assert sympy_equal("__import__('os').getcwd()", "1") is None
    assert sympy_equal("exec(1)", "1") is None
    assert grading.latex_to_sympy_text(r"\frac{1}{2}+\sqrt{3}") == "((1)/(2))+sqrt(3)"


def test_real_model_outputs_grade_as_their_answers_say(shared_data):
    # R1-Distill-Qwen-7B on MATH-500 problems 0-19: the producer's own grader missed formatting
    # variants (\dfrac, degrees, \left( ... \right)); items 9, 11 and 18 are really wrong.
    rows = [json.loads(line) for line in (shared_data / "traces" / "math500_r1_distill_qwen7b.jsonl").open()]
    problems = {p.problem: p for p in load_problems(shared_data / "eval" / "math500.jsonl", limit=40)}
    wrong = []
    for i, row in enumerate(rows):
        problem = problems[row["problem"]]
        _, _, correct, _ = grade(problem, row["full_response"])
        if not correct:
            wrong.append(i)
    assert wrong == [9, 11, 18]


def test_multiple_choice_takes_the_final_letter():
    assert extract_choice(r"<think>B? no</think>So \boxed{D}").answer == "D"
    assert extract_choice("</think>The answer is (b).").answer == "B"
    assert extract_choice("</think>Both fail except one. Final choice: C").answer == "C"
    assert extract_choice("</think>Options (A) and (C) fail; answer: B").answer == "B"
    assert grade_choice("C", "(C)").correct and not grade_choice("B", "C").correct
    problem = Problem("q1", "Which?", "C", kind="choice", choices=("one", "two", "three"))
    assert "C. three" in problem.prompt() and "letter" in problem.prompt()
    assert grade(problem, r"</think>\boxed{C}")[2] and not grade(problem, r"</think>\boxed{E}")[2]


def test_pass_at_1_averages_the_samples_of_each_problem_then_the_problems():
    metrics = GenerationMetrics("memento", 1, 1, 0, 0, 0)

    def sample(pid: str, correct: bool) -> Sample:
        return Sample(pid, "memento", 0, "", None, "none", correct, "exact", metrics)

    samples = [sample("a", True), sample("a", False), sample("a", False), sample("a", True),
               sample("b", True), sample("b", True), sample("b", True), sample("b", True)]
    assert pass_at_1(samples) == pytest.approx((0.5 + 1.0) / 2)


def test_problems_load_from_the_real_math500_file(shared_data):
    problems = load_problems(shared_data / "eval" / "math500.jsonl")
    assert len(problems) == 500 and problems[0].answer == r"\left( 3, \frac{\pi}{2} \right)"
    assert problems[0].prompt().endswith(r"put your final answer within \boxed{}.")
