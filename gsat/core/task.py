r"""The prediction task of a graph classifier, checked once where it enters (a model, a
dataset, :func:`gsat.fit`) and a :class:`Task` from there on."""
from __future__ import annotations

import enum
from typing import Any, Dict, Type

__all__ = ["Task", "prediction_record"]


class Task(str, enum.Enum):
    r"""What a graph classifier predicts.

    - :obj:`BINARY` (:obj:`"binary"`): one yes/no label per graph, one logit.
    - :obj:`MULTICLASS` (:obj:`"multiclass"`): one of :math:`C` classes, :math:`C` logits.
    - :obj:`MULTILABEL` (:obj:`"multilabel"`): :math:`T` yes/no labels per graph (missing
      labels are NaN), :math:`T` logits.
    - :obj:`REGRESSION` (:obj:`"regression"`): :math:`T \ge 1` real values per graph
      (missing values are NaN), :math:`T` outputs.

    A :class:`Task` is a :class:`str`: it compares equal to its value
    (:obj:`Task.BINARY == "binary"`), hashes like it, and prints, formats and serialises to
    JSON as the value, so every place that accepts the strings accepts a :class:`Task` and
    messages and files read as before.
    """

    BINARY = "binary"
    MULTICLASS = "multiclass"
    MULTILABEL = "multilabel"
    REGRESSION = "regression"

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return repr(self.value)

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @classmethod
    def parse(cls, value: Any, where: str = "", error: Type[Exception] = ValueError
              ) -> "Task":
        r"""The :class:`Task` named by :obj:`value` (a :class:`Task` or its string).

        Args:
            value: :obj:`"binary"`, :obj:`"multiclass"`, :obj:`"multilabel"`,
                :obj:`"regression"` or a :class:`Task`.
            where (str, optional): prefix of the error message (e.g. the dataset).
                (default: none)
            error (type, optional): the exception raised for any other value.
                (default: :class:`ValueError`)

        Raises:
            ValueError: (or :obj:`error`) :obj:`value` names no task; the message lists the
                tasks.
        """
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            try:
                return cls(value)
            except ValueError:
                pass
        choices = ", ".join(t.value for t in cls)
        raise error(f"{where + ': ' if where else ''}unknown task {value!r}; choose one of: "
                    f"{choices}")


def prediction_record(logits: Any, task: str) -> Dict[str, Any]:
    r"""The prediction of one graph (or node) from its logits (a tensor): the class and its
    probability (binary: :obj:`prediction` 0/1 and the probability of that class;
    multi-class: also :obj:`probabilities`; multi-label: per label; regression: the values,
    :obj:`probability` :obj:`None`)."""
    import torch

    lg = logits.detach().double().view(-1)
    if task == "regression":  # the predicted values themselves
        values = [float(v) for v in lg]
        return {"prediction": values[0] if len(values) == 1 else values, "probability": None}
    if task == "binary":
        p = float(torch.sigmoid(lg[0]))
        return {"prediction": int(p > 0.5), "probability": p}
    if task == "multiclass":
        probs = torch.softmax(lg, 0)
        k = int(probs.argmax())
        return {"prediction": k, "probability": float(probs[k]),
                "probabilities": [float(v) for v in probs]}
    probs = torch.sigmoid(lg)
    return {"prediction": [int(v > 0.5) for v in probs],
            "probability": [float(v) for v in probs]}
