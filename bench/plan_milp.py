#!/usr/bin/env python3
"""The peer for the planner benchmark: the same model as a MILP, solved by HiGHS through
scipy.optimize.milp, to the same relative gap (1e-6).

    python3 bench/plan_milp.py instance.json

Priorities follow refuge's default policy (1 + waiting/60 + flag weights) unless the
instance gives them; ineligible households are left out; end_day defaults to 30 days after
the last batch. Prints the objective, HiGHS's status and gap, and the time spent in milp().
"""
import json
import sys
import time

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

FLAG_WEIGHTS = {
    "self_harm_risk": 4.0, "medical_urgent": 4.0, "unaccompanied_minor": 2.0, "pregnant": 2.0,
    "minor": 1.0, "elderly": 1.0, "disability": 1.0, "chronic_illness": 0.5,
}


def main(path):
    instance = json.load(open(path))
    policy = instance.get("policy", {})
    target = policy.get("target_wait_days", 60.0)
    weights = policy.get("flag_weights", FLAG_WEIGHTS)
    batches = instance["batches"]
    end_day = instance.get("end_day") or max(b["day"] for b in batches) + 30
    households = [h for h in instance["households"] if h.get("eligible", True)]
    columns, weights_out, rows_h, rows_b, sizes = [], [], [], [], []
    for h_index, h in enumerate(households):
        priority = h.get("priority")
        if priority is None:
            priority = 1.0 + h.get("waiting_days", 0.0) / target + sum(weights.get(f, 0.0) for f in h.get("flags", []))
        for b_index, b in enumerate(batches):
            if h["origin"] in b["origins"]:
                columns.append((h_index, b_index))
                weights_out.append(priority * h["size"] * (end_day - b["day"]))
                sizes.append(h["size"])
    n = len(columns)
    c = -np.array(weights_out)
    data, row, col = [], [], []
    for j, (h_index, b_index) in enumerate(columns):
        row.append(h_index); col.append(j); data.append(1.0)
        row.append(len(households) + b_index); col.append(j); data.append(float(sizes[j]))
    a = coo_matrix((data, (row, col)), shape=(len(households) + len(batches), n)).tocsr()
    upper = np.array([1.0] * len(households) + [float(b["seats"]) for b in batches])
    constraint = LinearConstraint(a, -np.inf, upper)
    start = time.perf_counter()
    result = milp(c, constraints=constraint, integrality=np.ones(n), bounds=Bounds(0, 1),
                  options={"mip_rel_gap": 1e-6, "disp": False})
    elapsed = time.perf_counter() - start
    print(f"HiGHS milp: {len(households)} households, {len(batches)} batches, {n} binaries")
    print(f"objective {-result.fun:.6f}  status {result.status} ({result.message})  "
          f"gap {getattr(result, 'mip_gap', float('nan')):.2e}  time {elapsed:.3f}s")


if __name__ == "__main__":
    main(sys.argv[1])
