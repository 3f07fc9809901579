"""The eval harness (``openmementos eval``): ``answers`` (extraction), ``grading`` (math-verify,
sympy or strings) and ``harness`` (problems, backends, pass@1 and the per-mode report)."""
