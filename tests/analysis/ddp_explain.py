"""Run by tests/analysis/test_explain_ddp.py: explain_dataset on 2 CPU processes (Lightning DDP, gloo).

Lightning's DDP strategy starts the second process by running this script again, so it must be a script.
Usage: python tests/analysis/ddp_explain.py OUT.npz
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

if __name__ == "__main__":
    import torch
    from lrp_models import mol, potential

    from xailib.analysis import explain_dataset

    torch.set_num_threads(1)
    structures = [mol(name) for name in ("H2O", "CH3CH2OH", "CH4", "NH3", "CH3OH")]  # odd: the sampler pads
    explain_dataset(potential("schnet", 3), structures, out=sys.argv[1], progress=False,
                    accelerator="cpu", devices=2, strategy="ddp")
