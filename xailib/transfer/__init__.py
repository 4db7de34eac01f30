"""Transferability (chapters 08-09): descriptors, adversarial validation, atomic-energy training and errors.

:mod:`~xailib.transfer.descriptors` turns structures into feature tables; :mod:`~xailib.transfer.adversarial`
trains xgboost classifiers that tell two sets apart; :mod:`~xailib.transfer.atomic` builds training sets
with atomic-energy targets (from :mod:`xailib.qm.partition`) and the error tables of the trained models.

The studies whose cached results the chapters read, each with a ``save``/``load`` pair and a
``python -m xailib study ...`` subcommand:

* :mod:`~xailib.transfer.partition_runs`: atomic energies of a dataset's relaxed structures
  (``data/partition/<dataset>-<method>-<basis>.npz``, ``study partition``) and their cost
  (``study partition-timing``);
* :mod:`~xailib.transfer.adversarial_study`: nci-small against nci-large
  (``data/transfer/adversarial.npz``, ``study transfer adversarial``);
* :mod:`~xailib.transfer.models_study`: the six models of ``configs/transfer/`` (``study transfer train``)
  and their predictions (``data/transfer/results.npz``, ``study transfer eval``).
"""

from xailib.base.errors import UnsupportedElementError
from xailib.base.io import CacheFileError
from xailib.data.store import DatasetError
from xailib.transfer.adversarial import (DEFAULT_XGB_PARAMS, AdversarialInputError, AdversarialResult,
                                         adversarial_validation, random_split_control)
from xailib.transfer.adversarial_study import (ADVERSARIAL_ELEMENTS, ADVERSARIAL_FILE, adversarial_study,
                                               env_labels, load_adversarial, save_adversarial)
from xailib.transfer.atomic import (FUNCTIONAL_GROUPS, MODEL_NAMES, SCHEME_KEYS, build_transfer_db, error_tables,
                                    functional_groups, hydrogen_energies, mean_abs_by, predict, reference_table,
                                    trained_scheme, transfer_db)
from xailib.transfer.descriptors import (BOND_BINS, RADIAL_BINS, Descriptors, atom_descriptors, bonds,
                                         hydrogen_partners, intensive, molecule_descriptors)
from xailib.transfer.models_study import (RESULTS_FILE, TRANSFER_CONFIGS, evaluate_transfer_models, load_results,
                                          save_results, train_transfer_models, transfer_models_dir)
from xailib.transfer.partition_runs import (PARTITION_ARRAYS, equilibrium_frames, load_partition,
                                            load_partition_timing, partition_dataset, partition_path,
                                            partition_timing, save_partition, save_partition_timing,
                                            timing_molecules, timing_table)

__all__ = ["CacheFileError", "DatasetError", "UnsupportedElementError", "DEFAULT_XGB_PARAMS", "AdversarialInputError", "AdversarialResult",
           "adversarial_validation", "random_split_control",
           "ADVERSARIAL_ELEMENTS", "ADVERSARIAL_FILE", "adversarial_study", "env_labels", "load_adversarial",
           "save_adversarial",
           "FUNCTIONAL_GROUPS", "MODEL_NAMES", "SCHEME_KEYS", "build_transfer_db", "error_tables",
           "functional_groups", "hydrogen_energies", "mean_abs_by", "predict", "reference_table", "trained_scheme",
           "transfer_db",
           "BOND_BINS", "RADIAL_BINS", "Descriptors", "atom_descriptors", "bonds", "hydrogen_partners", "intensive",
           "molecule_descriptors",
           "RESULTS_FILE", "TRANSFER_CONFIGS", "evaluate_transfer_models", "load_results", "save_results",
           "train_transfer_models", "transfer_models_dir",
           "PARTITION_ARRAYS", "equilibrium_frames", "load_partition", "load_partition_timing", "partition_dataset",
           "partition_path", "partition_timing", "save_partition", "save_partition_timing", "timing_molecules",
           "timing_table"]
