"""The Task type: parsed once where a task enters, interchangeable with its string."""
import json
import pickle

import pytest
import torch

from gsat import ERM, GIN, GSAT
from gsat.core.task import Task
from gsat.data.base import GraphDataset
from gsat.errors import ConfigError

NAMES = ["binary", "multiclass", "multilabel", "regression"]


@pytest.mark.parametrize("name", NAMES)
def test_a_task_is_its_string(name):
    task = Task.parse(name)
    assert isinstance(task, Task) and isinstance(task, str)
    assert task == name and name == task and Task(name) is task
    assert hash(task) == hash(name) and {name: 1}[task] == 1 and task in (name,)
    assert str(task) == f"{task}" == "%s" % task == name
    assert repr(task) == repr(name) and f"{task!r}" == repr(name)
    assert json.dumps({"task": task}) == json.dumps({"task": name})
    assert pickle.loads(pickle.dumps(task)) is task
    assert Task.parse(task) is task


def test_members_and_order():
    assert [t.value for t in Task] == NAMES
    assert (Task.BINARY, Task.MULTICLASS, Task.MULTILABEL, Task.REGRESSION) == tuple(NAMES)


@pytest.mark.parametrize("value", ["ranking", "Binary", "", None, 1, ["binary"], b"binary"])
def test_unknown_tasks_are_refused_with_the_choices(value):
    with pytest.raises(ValueError, match=r"unknown task .*; choose one of: binary, "
                                         r"multiclass, multilabel, regression$"):
        Task.parse(value)


def test_parse_names_the_place_and_raises_the_given_error():
    with pytest.raises(ConfigError, match=r"^dataset mine: unknown task 'x'; choose one of"):
        Task.parse("x", "dataset mine", ConfigError)


@pytest.mark.parametrize("cls", [GSAT, ERM])
def test_models_parse_their_task(cls):
    model = cls(GIN(3, 1, hidden_channels=8), task="multiclass")
    assert model.task is Task.MULTICLASS
    assert cls(GIN(3, 1, hidden_channels=8)).task is Task.BINARY
    with pytest.raises(ValueError, match=r"unknown task 'multi'; choose one of: binary, "
                                         r"multiclass, multilabel"):
        cls(GIN(3, 1, hidden_channels=8), task="multi")


def _dataset(**kw):
    args = dict(name="mine", train=[], valid=[], test=[], num_features=3, num_outputs=1,
                task="binary", metric="acc")
    args.update(kw)
    return GraphDataset(**args)


def test_datasets_parse_their_task():
    assert _dataset().task is Task.BINARY
    assert _dataset(task=Task.MULTILABEL, metric="rocauc").task is Task.MULTILABEL
    with pytest.raises(ConfigError, match="dataset mine: unknown task 'graph'"):
        _dataset(task="graph")


def test_prediction_loss_takes_the_string_or_the_task():
    from gsat.core.functional import prediction_loss

    logits, y = torch.randn(4, 3), torch.tensor([0, 2, 1, 2])
    assert torch.equal(prediction_loss(logits, y, "multiclass"),
                       prediction_loss(logits, y, Task.MULTICLASS))
