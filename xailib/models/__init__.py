"""SchNet and PaiNN potentials (schnetpack): configuration, build/save/load, training and evaluation.

A saved model is a folder (``model.pt`` state dict, its checksum ``model.pt.sha256``, ``config.json``,
``metrics.json``); shipped models live in ``data/models/<name>`` and can be loaded by name:
``load_model("md17-ethanol-schnet")``.
"""

from xailib.base.errors import UnsupportedElementError
from xailib.models.build import (ElementGuard, UntrustedModelError, build_model, calculator, check_elements,
                                 load_model, model_config, model_cutoff, model_dir, model_metrics, save_model,
                                 train_settings)
from xailib.models.config import ModelConfig, ModelConfigError
from xailib.models.envelopes import cosine_cutoff, local_exponent, polynomial_envelope
from xailib.models.evaluation import DatasetPropertyError, errors_by_element, evaluate
from xailib.models.files import ModelChecksumError, ModelFileError, ModelMismatchError, ModelNotFoundError
from xailib.models.inventory import (metrics_table, predict_test_split, readme_table, shipped_models,
                                     write_models_readme)
from xailib.models.replicas import TrainingLogError, learning_curve, replicas, seed_metrics, seed_table
from xailib.models.training import (OutputExistsError, TrainConfig, TrainConfigError, load_train_config, read_split,
                                    train)

__all__ = ["ModelConfig", "ModelConfigError", "UnsupportedElementError", "UntrustedModelError", "ElementGuard",
           "ModelFileError", "ModelChecksumError", "ModelMismatchError", "ModelNotFoundError",
           "build_model", "calculator", "check_elements", "load_model", "save_model", "model_config",
           "model_cutoff", "model_dir", "model_metrics", "train_settings", "evaluate", "learning_curve",
           "errors_by_element", "DatasetPropertyError", "TrainConfig", "TrainConfigError", "OutputExistsError",
           "load_train_config", "read_split", "train", "cosine_cutoff", "local_exponent", "polynomial_envelope", "metrics_table",
           "predict_test_split", "readme_table", "shipped_models", "write_models_readme", "replicas", "seed_metrics",
           "seed_table", "TrainingLogError"]
