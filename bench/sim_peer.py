#!/usr/bin/env python3
"""An independent model of refuge's pipeline in SimPy, for checking results and speed.

    python3 bench/sim_peer.py scenario.toml [--replications N]

Same semantics as refuge-sim: Poisson arrivals per shelter (constant rate or a schedule),
beds with a first-come-first-served waiting list outside (or turning people away), c shared
screening servers, flights that board the ready people longest in their shelter, a daily
exit hazard, people already present at the start. Prints the mean wait from arrival to
departure, mean people waiting at the horizon, customers simulated and customers per second.
"""
import heapq
import math
import random
import sys
import time
import tomllib

import simpy

DAYS_PER_MONTH = 30.4375


def rate_steps(shelter):
    if "arrivals" in shelter:
        return [(float(day), float(rate) / DAYS_PER_MONTH) for day, rate in shelter["arrivals"]]
    return [(0.0, float(shelter.get("arrivals_per_month", 0.0)) / DAYS_PER_MONTH)]


class Pipeline:
    def __init__(self, env, scenario, rng):
        self.env, self.scenario, self.rng = env, scenario, rng
        self.shelters = scenario["shelter"]
        self.inside = [0] * len(self.shelters)
        self.waiting = [[] for _ in self.shelters]  # FIFO lists of person dicts
        screening = scenario.get("screening")
        self.screen = simpy.Resource(env, capacity=screening["servers"]) if screening else None
        self.ready = []  # heap of (entry time, seq, person)
        self.seq = 0
        self.flights = bool(scenario.get("flights") or scenario.get("transfer"))
        hazard = scenario.get("exits", {}).get("per_day", 0.0)
        self.exit_rate = -math.log(1.0 - hazard) if hazard else 0.0
        self.waits, self.arrivals, self.present = [], 0, 0

    def service(self):
        s = self.scenario["screening"]
        kind = s.get("distribution", "exponential")
        if kind == "deterministic":
            return s["mean_days"]
        if kind == "lognormal":
            sigma2 = math.log(1 + s["cv"] ** 2)
            return self.rng.lognormvariate(math.log(s["mean_days"]) - sigma2 / 2, math.sqrt(sigma2))
        return self.rng.expovariate(1.0 / s["mean_days"])

    def arrivals_process(self, index):
        steps = rate_steps(self.shelters[index])
        while True:
            remaining, t = self.rng.expovariate(1.0), self.env.now
            arrival = None
            for k, (start, rate) in enumerate(steps):
                end = steps[k + 1][0] if k + 1 < len(steps) else math.inf
                if end <= t:
                    continue
                frm = max(t, start)
                if rate > 0 and remaining < rate * (end - frm):
                    arrival = frm + remaining / rate
                    break
                if rate > 0:
                    remaining -= rate * (end - frm)
                t = end
            if arrival is None:
                return
            yield self.env.timeout(arrival - self.env.now)
            self.arrive(index, self.env.now)

    def arrive(self, index, at, initial=False):
        self.arrivals += 0 if initial else 1
        person = {"shelter": index, "arrival": at, "entry": at, "gone": False, "place": "list"}
        self.present += 1
        if self.exit_rate and not initial:
            self.env.process(self.exit_after(person, self.rng.expovariate(self.exit_rate)))
        capacity = self.shelters[index].get("capacity", math.inf)
        if initial:
            self.inside[index] += 1
            person["place"] = "inside"
            self.become_ready(person)
        elif self.inside[index] < capacity:
            self.enter(person)
        elif self.shelters[index].get("overflow", "wait") == "wait":
            self.waiting[index].append(person)
        else:
            person["gone"] = True
            self.present -= 1

    def enter(self, person):
        self.inside[person["shelter"]] += 1
        person["entry"], person["place"] = self.env.now, "inside"
        if self.screen is not None:
            self.env.process(self.screening(person))
        else:
            self.become_ready(person)

    def screening(self, person):
        with self.screen.request() as request:
            yield request
            if person["gone"]:
                return
            yield self.env.timeout(self.service())
        if not person["gone"]:
            self.become_ready(person)

    def become_ready(self, person):
        if self.flights:
            self.seq += 1
            heapq.heappush(self.ready, (person["entry"], self.seq, person))
        else:
            self.depart(person)

    def leave(self, person):
        person["gone"] = True
        self.present -= 1
        index = person["shelter"]
        if person["place"] == "inside":
            self.inside[index] -= 1
            capacity = self.shelters[index].get("capacity", math.inf)
            while self.inside[index] < capacity and self.waiting[index]:
                nxt = self.waiting[index].pop(0)
                if not nxt["gone"]:
                    self.enter(nxt)

    def depart(self, person):
        self.waits.append(self.env.now - person["arrival"])
        self.leave(person)

    def exit_after(self, person, delay):
        yield self.env.timeout(delay)
        if not person["gone"]:
            self.leave(person)

    def flight(self, day, seats):
        yield self.env.timeout(day - self.env.now)
        boarded = 0
        while boarded < seats and self.ready:
            _, _, person = heapq.heappop(self.ready)
            if not person["gone"]:
                self.depart(person)
                boarded += 1


def replicate(scenario, seed):
    rng = random.Random(seed)
    env = simpy.Environment()
    model = Pipeline(env, scenario, rng)
    for index, shelter in enumerate(model.shelters):
        for waited in shelter.get("initial_waiting_days", []):
            model.arrive(index, -float(waited), initial=True)
        env.process(model.arrivals_process(index))
    horizon = scenario["horizon_days"]
    departures = []
    for flights in scenario.get("flights", []):
        day = flights.get("first_day", 0.0)
        while day < horizon:
            departures.append((day, flights["seats"]))
            day += flights["every_days"]
    departures += [(t["day"], t["seats"]) for t in scenario.get("transfer", []) if t["day"] < horizon]
    for day, seats in sorted(departures):
        env.process(model.flight(day, seats))
    env.run(until=horizon)
    return model


def main():
    scenario = tomllib.load(open(sys.argv[1], "rb"))
    replications = scenario.get("replications", 100)
    if "--replications" in sys.argv:
        replications = int(sys.argv[sys.argv.index("--replications") + 1])
    start = time.perf_counter()
    waits, present, customers = [], 0, 0
    for r in range(replications):
        model = replicate(scenario, 1000 + r)
        waits += model.waits
        present += model.present
        customers += model.arrivals
    elapsed = time.perf_counter() - start
    print(f"SimPy: {replications} replications, {customers} customers in {elapsed:.2f}s "
          f"= {customers / elapsed:.0f} customers/s")
    print(f"mean wait {sum(waits) / max(len(waits), 1):.2f} days over {len(waits)} departures; "
          f"mean people waiting at the horizon {present / replications:.1f}")


if __name__ == "__main__":
    main()
