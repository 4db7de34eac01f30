"""Transferability (chapters 08-09): descriptors, adversarial validation, atomic-energy training and errors.

:mod:`~xailib.transfer.descriptors` turns structures into feature tables; :mod:`~xailib.transfer.adversarial`
trains xgboost classifiers that tell two sets apart; :mod:`~xailib.transfer.atomic` builds training sets
with atomic-energy targets (from :mod:`xailib.qm.partition`) and the error tables of the trained models.
"""

from xailib.base.errors import UnsupportedElementError
from xailib.transfer.adversarial import (DEFAULT_XGB_PARAMS, AdversarialInputError, AdversarialResult,
                                         adversarial_validation, random_split_control)
from xailib.transfer.atomic import (FUNCTIONAL_GROUPS, MODEL_NAMES, SCHEME_KEYS, build_transfer_db, error_tables,
                                    functional_groups, hydrogen_energies, load_partition, load_results,
                                    mean_abs_by, predict, reference_table, trained_scheme, transfer_db)
from xailib.transfer.descriptors import (BOND_BINS, RADIAL_BINS, Descriptors, atom_descriptors, bonds,
                                         hydrogen_partners, intensive, molecule_descriptors)

__all__ = ["UnsupportedElementError", "DEFAULT_XGB_PARAMS", "AdversarialInputError", "AdversarialResult",
           "adversarial_validation", "random_split_control", "FUNCTIONAL_GROUPS", "MODEL_NAMES", "SCHEME_KEYS",
           "build_transfer_db", "error_tables", "functional_groups", "hydrogen_energies", "load_partition",
           "load_results", "mean_abs_by", "predict", "reference_table", "trained_scheme", "transfer_db",
           "BOND_BINS", "RADIAL_BINS", "Descriptors", "atom_descriptors", "bonds", "hydrogen_partners", "intensive",
           "molecule_descriptors"]
