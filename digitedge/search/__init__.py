"""`digitedge search`: Optuna's multi-objective search for the most accurate int8 model that fits a board.

space       what a trial may propose, and how its parameters become a Config
budget      a proposal's figures (flash, RAM, MACs, instructions) and the hard limits
targets     what the figures mean on TFLite Micro or on the generated C for one Cortex-M board
cost_model  instructions per inference of the generated C, fitted per core on QEMU's counts
ladder      successive halving over one study per rung: cheap trials first, the best promoted
objective   one trial at one rung: reject over the limits, else train on the rung's budget and score int8
study       storage, studies, the worker loop, resume, a lost database
outputs     trials.csv, pareto.csv (Optuna's best_trials), the front plot, best.toml, best-<budget>.toml
"""
