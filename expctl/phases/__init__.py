"""The phases of an experiment, side by side: new, launch, gather, validate, record, compare,
commit and import. Each reads what earlier phases left in the run folder through the run-folder
contract (expctl.rundir) and the layers below; no phase imports another. expctl.cycle is the one
module that chains them.
"""
