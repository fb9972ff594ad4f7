r"""Per-epoch TensorBoard logging of training (``--tensorboard`` on the command line,
:obj:`tensorboard=...` in :func:`gsat.fit`)."""
from __future__ import annotations

import math
import numbers
from pathlib import Path
from typing import Any, Mapping, Optional, Union

from gsat.errors import ConfigError

#: record keys with a split prefix are logged as ``<split>/<rest>``
SPLITS = ("train", "valid", "test")


def scalar_tag(key: str) -> str:
    r"""TensorBoard tag of a history key: :obj:`"train_loss"` becomes :obj:`"train/loss"`,
    :obj:`"valid_interp_auc"` becomes :obj:`"valid/interp_auc"`, :obj:`"r"` stays
    :obj:`"r"`, :obj:`"seconds"` becomes :obj:`"time/seconds"`."""
    split, _, rest = key.partition("_")
    if split in SPLITS and rest:
        return f"{split}/{rest}"
    if key == "seconds":
        return "time/seconds"
    return key


class TensorBoardLogger:
    r"""Writes one epoch at a time to a TensorBoard event file in :obj:`log_dir`:

    * a scalar for every finite number of the epoch record (losses and their parts, the
      prior :math:`r`, prediction metrics, interpretation AUC, seconds), tagged by
      :func:`scalar_tag` (e.g. :obj:`train/loss`, :obj:`train/info`, :obj:`r`,
      :obj:`valid/metric`, :obj:`valid/interp_auc`);
    * two histograms of the validation attention: :obj:`attention/ground_truth` (edges
      with :obj:`edge_label` 1) and :obj:`attention/other` (the rest), when the validation
      graphs have ground truth.

    Args:
        log_dir (str or Path): the folder of the event files (created if missing).

    Raises:
        gsat.errors.ConfigError: the :obj:`tensorboard` package is not installed.
    """

    def __init__(self, log_dir: Union[str, Path]):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise ConfigError("TensorBoard logging needs the 'tensorboard' package, which is "
                              "not installed; run: pip install -e \".[tensorboard]\" (or pip "
                              "install tensorboard)") from exc
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.writer = SummaryWriter(log_dir=str(self.log_dir))

    def log_epoch(self, epoch: int, record: Mapping[str, Any], valid: Optional[Any] = None) -> None:
        r"""Log one epoch.

        Args:
            epoch (int): the step.
            record (dict): the epoch's history record; numbers are logged as scalars (the
                key :obj:`epoch` itself and NaN values are skipped).
            valid (gsat.training.engine.EvalResult, optional): the validation pass, evaluated with
                :obj:`keep_arrays=True`, for the attention histograms.
        """
        for key, val in record.items():
            if key == "epoch" or isinstance(val, bool) or not isinstance(val, numbers.Real):
                continue
            if math.isfinite(float(val)):
                self.writer.add_scalar(scalar_tag(key), float(val), epoch)
        att = getattr(valid, "edge_att", None)
        lab = getattr(valid, "edge_label", None)
        if att is not None and lab is not None:
            gt = lab.view(-1) > 0
            att = att.view(-1).float()
            if bool(gt.any()):
                self.writer.add_histogram("attention/ground_truth", att[gt], epoch)
            if bool((~gt).any()):
                self.writer.add_histogram("attention/other", att[~gt], epoch)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
