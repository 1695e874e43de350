"""The quiz bank: short multiple-choice questions per chapter, checked automatically.

Every right answer that is a number is *computed* from the package (a parameter count from the
module itself, a kernel size from the rule), never typed, so the bank cannot drift from the code::

    >>> from attnlab.exercises.quiz import questions, check_quiz
    >>> q = questions(chapter=2)[0]
    >>> print(q.text)                                                   # doctest: +SKIP
    >>> check_quiz({q.id: 0})                                           # doctest: +SKIP

:func:`check_quiz` takes ``{question id: index of the chosen option}`` and says, per question,
right or wrong, with the reason; the instructor guide prints the whole bank.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

__all__ = ["Question", "questions", "check_quiz", "QuizResult"]


@dataclass(frozen=True)
class Question:
    """One question: ``options`` in display order, ``answer`` the index of the right one (computed
    when the bank is built), ``why`` the one-line reason shown after answering."""

    id: str
    chapter: int
    text: str
    options: tuple[str, ...]
    answer: int
    why: str


def _numeric(qid: str, chapter: int, text: str, right: int | float, wrong: Sequence[int | float], why: str,
             fmt: str = "{:,}") -> Question:
    """A question whose right option is a computed number, placed among ``wrong`` ones in sorted
    order (so its position says nothing)."""
    values = sorted({right, *wrong})
    if len(values) != len(wrong) + 1:
        raise ValueError(f"quiz {qid}: a wrong option equals the right answer {right!r}")
    return Question(qid, chapter, text, tuple(fmt.format(v) for v in values), values.index(right), why)


def _choice(qid: str, chapter: int, text: str, right: str, wrong: Sequence[str], why: str) -> Question:
    options = sorted([right, *wrong])
    return Question(qid, chapter, text, tuple(options), options.index(right), why)


def _bank() -> list[Question]:
    import torch

    from attnlab.attention import ECA, SimAM, SpatialAttention, SqueezeExcite, eca_kernel_size
    from attnlab.models import YoloV4Tiny

    def n_params(module: torch.nn.Module) -> int:
        return sum(p.numel() for p in module.parameters())

    se = n_params(SqueezeExcite(256, reduction=16))
    spatial = n_params(SpatialAttention(7))
    k512 = eca_kernel_size(512)
    eca = n_params(ECA(512))
    with torch.no_grad():     # a constant channel: every activation at its mean gets the floor
        floor = SimAM()(torch.ones(1, 1, 4, 4))[0, 0, 0, 0].item()
    grids = [416 // s for s in YoloV4Tiny(20, attention="none").strides]
    return [
        _choice("ch1-gate-size", 1, "A channel gate for a feature map of shape (C, H, W) holds how many numbers?",
                "C", ["H x W", "C x H x W", "1"],
                "one weight per channel, shared by every position of that channel"),
        _numeric("ch2-se-params", 2, "SqueezeExcite(256, reduction=16), without biases: how many parameters?",
                 se, [256 * 16, 2 * 256 * 256, 256 * 16 + 16 * 256 + 256 + 16 + 1],
                 "two fully connected layers, 256 x 16 and 16 x 256: 2 C^2 / r"),
        _choice("ch2-residual", 2, "In a ResNet block, where does SE go?",
                "on the residual branch, before the addition",
                ["after the addition, on the sum", "on the identity path", "before the first convolution"],
                "gating the sum would also scale the identity, which the skip connection keeps intact"),
        _numeric("ch3-spatial-params", 3, "CBAM's spatial gate with a 7 x 7 kernel (no bias): how many weights?",
                 spatial, [49, 7 * 7 * 3, 2 * 49 + 1 + 64],
                 "one 7 x 7 convolution over two maps (channel mean and channel max): 2 x 49"),
        _choice("ch3-order", 3, "Which arrangement did the CBAM paper find best?",
                "channel gate first, then spatial gate",
                ["spatial gate first, then channel gate", "both gates in parallel, summed",
                 "the spatial gate alone"],
                "the paper's ablation on ImageNet (a fraction of a point; Chapter 3 could not confirm it)"),
        _numeric("ch4-eca-k", 4, "The reference project's ECA rule (gamma 2, b 1, made odd): kernel size for 512 channels?",
                 k512, [3, 7, 9], "t = |(log2 512 + 1) / 2| = 5, already odd"),
        _numeric("ch4-eca-params", 4, "ECA(512): how many parameters?", eca, [512, 2 * 512, 512 * 512 // 16],
                 "one shared 1-D kernel across channels: k weights, no bias"),
        _numeric("ch5-simam-floor", 5, "What is the smallest weight SimAM can give an activation?",
                 round(floor, 2), [0.0, 0.5, 0.25],
                 "1/e* >= 1/2, so the weight sigma(1/e*) >= sigma(1/2)", fmt="{:.2f}"),
        _choice("ch5-ca-pool", 5, "How does Coordinate Attention pool a (C, H, W) map?",
                "along the width and along the height, separately",
                ["over all positions at once, like SE", "over the channels, like CBAM's spatial gate",
                 "not at all"],
                "two 1-D profiles keep the position along the other axis"),
        _choice("ch6-grids", 6, "YOLOv4-tiny at 416 x 416: the grids of its two heads?",
                f"{grids[0]} x {grids[0]} and {grids[1]} x {grids[1]}",
                ["52 x 52 and 26 x 26", "7 x 7 and 14 x 14", "416 x 416 and 208 x 208"],
                "strides 32 and 16"),
        _choice("ch7-clear", 7, "When does the book call a difference between two variants clear?",
                "when the paired t interval of the per-seed differences excludes zero",
                ["when the means differ by more than one standard deviation",
                 "when the attention variant has the higher mean", "when one seed shows a gain"],
                "the book's one rule, attnlab.experiments.verdict"),
        _numeric("ch7-voc11", 7, "VOC2007's 11-point AP reads the precision envelope at how many recall levels?",
                 11, [10, 101, 100], "recall 0, 0.1, ..., 1.0; COCO uses 101"),
        _choice("ch8-bare", 8, "The reference project's .pth files are bare state_dicts. What must you tell "
                "`python -m attnlab predict`?",
                "the attention (--phi) and the classes (--classes voc or --num-classes)",
                ["nothing: the file says what it is", "only the image size", "the training recipe"],
                "a state_dict holds tensors, not the configuration that built them"),
    ]


_CACHE: list[Question] | None = None


def questions(chapter: int | None = None) -> list[Question]:
    """The bank (built once), or one chapter's questions."""
    global _CACHE
    if _CACHE is None:
        _CACHE = _bank()
    return [q for q in _CACHE if chapter is None or q.chapter == chapter]


@dataclass(frozen=True)
class QuizResult:
    """Per question: right or wrong and why; ``score`` right answers of ``total``."""

    lines: tuple[str, ...]
    score: int
    total: int

    def __str__(self) -> str:
        return "\n".join([*self.lines, f"{self.score} of {self.total} right"])

    def __repr__(self) -> str:
        return str(self)


def check_quiz(answers: Mapping[str, int], *, log: Callable[[str], None] | None = None) -> QuizResult:
    """Check ``{question id: chosen option index}``.

    Raises:
        KeyError: an unknown question id (the message lists the known ones).
        ValueError: an option index out of range for its question.
    """
    bank = {q.id: q for q in questions()}
    lines, score = [], 0
    for qid, choice in answers.items():
        if qid not in bank:
            raise KeyError(f"check_quiz: unknown question {qid!r}; known: {sorted(bank)}")
        q = bank[qid]
        if isinstance(choice, bool) or not isinstance(choice, int) or not 0 <= choice < len(q.options):
            raise ValueError(f"check_quiz: the answer to {qid!r} must be an option index 0-{len(q.options) - 1}, "
                             f"got {choice!r}")
        right = choice == q.answer
        score += right
        lines.append(f"{qid}: {'right' if right else 'wrong'}"
                     + ("" if right else f" (the answer is {q.options[q.answer]!r})") + f": {q.why}")
    result = QuizResult(tuple(lines), score, len(answers))
    if log is not None:
        log(str(result))
    return result
