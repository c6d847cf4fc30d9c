"""`digitedge search`: Optuna's multi-objective search for the most accurate int8 model that fits a board.

space    what a trial may propose, and how its parameters become a Config
budget   flash, TFLM arena and MACs of a proposal, measured before training
objective one trial: reject over budget, else train (pruned early when losing) and score int8 on validation
study    the Optuna study: storage, sampler, resume, one line per trial
outputs  trials.csv, pareto.csv, the front plot and best.toml
"""
