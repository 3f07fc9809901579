"""The teacher seam: every call the stages need from an LLM (or its offline stand-in)."""

from .base import (
    BoundaryRequest,
    CompressRequest,
    JudgeRequest,
    RefineRequest,
    Teacher,
)

__all__ = ["BoundaryRequest", "CompressRequest", "JudgeRequest", "RefineRequest", "Teacher"]
