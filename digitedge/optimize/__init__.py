"""Compression stage: QAT, magnitude pruning, and pruning-preserving QAT of the float baseline.

Each technique takes a trained tf_keras model, normalized train/validation arrays, an
OptimizeConfig and a seed, and returns (new model, per-epoch metrics DataFrame); the
caller saves them (digitedge.modelio.save_keras_model).
"""

from digitedge.optimize.finetune import METRIC_COLUMNS, kernel_sparsity
from digitedge.optimize.prune import pruning_schedule, train_pruned
from digitedge.optimize.prune_qat import train_pruned_qat
from digitedge.optimize.qat import train_qat

__all__ = ["METRIC_COLUMNS", "kernel_sparsity", "pruning_schedule", "train_pruned", "train_pruned_qat", "train_qat"]
