"""The one adapter around OR-Tools routing: a typed pickup-and-delivery problem in, routes out.

Every visit (a task's pickup, its delivery, a courier's start and end) becomes a routing node of
its own, mapped onto the caller's travel matrix, so several orders at one store or one door are
no trouble. Transit and cost are handed to OR-Tools as precomputed matrices, so no Python runs
per arc during the search.

Times are whole units of the caller's choosing (seconds in the service, hundredths of a unit in
the benchmarks). A task's ``due`` is a promise, not a wall: lateness is allowed at
``late_cost`` per unit, so the plan minimises lateness first and travel second, and a task is
only left out when no courier can carry it at all (capacity, shift, pinning), with the reason.
:func:`solve` minimises summed lateness; :func:`solve_promises` (the dispatch planner's) ranks
plans by promises kept first, then lateness, then travel.
"""

from __future__ import annotations

import math
import multiprocessing
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection

from ortools.constraint_solver import (
    pywrapcp,
    routing_enums_pb2,
    routing_ils_pb2,
    routing_parameters_pb2,
)
from ortools.sat.python import cp_model
from ortools.util import optional_boolean_pb2

Matrix = Sequence[Sequence[int]]
# courier id -> its stops in order, as (task id, "pickup" | "delivery"): a plan to start from
RouteHint = Mapping[str, Sequence[tuple[str, str]]]
Pool = set[tuple[str, tuple[tuple[str, str], ...]]]  # (courier id, its stops) met in searches


@dataclass(frozen=True, slots=True)
class Task:
    """Carry one order from ``pickup`` to ``delivery`` (matrix node indexes).

    ``pickup`` is None when the goods travel from the start: with ``courier`` set the order is
    already on board that courier; without, whichever courier delivers it loads it at its start
    (a depot delivery, as in VRPTW). ``courier`` set with a pickup pins the task to that courier.
    """

    id: str
    pickup: int | None
    delivery: int
    ready: int  # earliest pickup
    due: int  # promised delivery time (soft unless ``hard_due``)
    size: int = 1
    pickup_service: int = 0
    delivery_service: int = 0
    courier: str | None = None
    hard_due: bool = False
    pickup_due: int | None = None  # latest pickup start, hard (benchmark windows)
    delivery_ready: int = 0  # earliest delivery start (benchmark windows)
    # the promise itself when ``due`` is planned earlier (a margin): a steady re-plan holds
    # an order the plan in force delivers past this (not merely past ``due``) where it is told
    promise: int | None = None

    def __post_init__(self) -> None:
        if self.size < 0 or self.ready < 0:
            msg = f"task {self.id}: size and ready must not be negative"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class Courier:
    """A courier: where it is (``start`` node), from when, until when, and how much it carries."""

    id: str
    start: int
    available_at: int
    shift_end: int
    capacity: int
    end: int | None = None  # a node to finish at (a depot); None: the route ends at its last stop
    profile: str | None = None  # which of the problem's travel ``profiles`` it moves by
    takes_new: bool = True  # False: only its own tasks (a courier in overtime finishing its load)

    def __post_init__(self) -> None:
        if self.shift_end < self.available_at:
            msg = f"courier {self.id}: shift ends before the courier is available"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class SolveOptions:
    time_limit_s: float = 5.0
    late_cost: int = 1_000  # per unit of lateness, against 1 per unit of travel
    vehicle_cost: int = 0  # fixed cost per courier used (benchmarks minimising fleet size)
    # per unit a pickup starts after the order is ready: rewards fetching orders promptly, so
    # that being on time is not the only reason to hurry (0: only lateness and travel count)
    wait_cost: int = 0
    solution_limit: int | None = None  # stop after this many improving solutions (tests)
    first_solution: str = "PARALLEL_CHEAPEST_INSERTION"  # an OR-Tools FirstSolutionStrategy
    metaheuristic: str = "GUIDED_LOCAL_SEARCH"  # an OR-Tools LocalSearchMetaheuristic
    log_search: bool = False  # OR-Tools' own progress log on stderr, for tuning
    # also re-insert a neighbourhood of visits at once: under tight time windows, where single
    # moves are nearly all infeasible, this is what still finds improvements (Li & Lim)
    close_nodes_lns: bool = False
    # iterated local search instead of ``metaheuristic``: ruin by removing strings of visits
    # from neighbouring routes (SISR) and recreate by cheapest insertion, accepted by simulated
    # annealing; it escapes the minima tight windows trap guided local search in (Li & Lim)
    ruin_recreate: bool = False
    ruin_visits: int = 10  # SISR: visits removed per ruin, on average
    ruin_string: int = 10  # SISR: longest string removed from one route
    anneal_from: float = 0.0  # SA start temperature, in cost units (0: OR-Tools picks)
    # solve_fewest_couriers only: 2 runs its two stagings side by side in two processes
    workers: int = 1
    # per unit an order's delivery moves more than ``steady_within`` from where the hint (the
    # plan in force) has it: what has been told stays unless the gain is clear. In the promise
    # search a promise kept outweighs it; late orders move only for a clear cut in lateness.
    steady_cost: int = 0
    steady_within: int = 60
    late_within: int = 900  # a late order may move until this past its promise (steady)


@dataclass(frozen=True, slots=True)
class RoutingProblem:
    travel: Matrix  # travel[i][j]: time from node i to node j
    tasks: tuple[Task, ...]
    couriers: tuple[Courier, ...]
    cost: Matrix | None = None  # arc cost (e.g. distance); default: the courier's travel time
    profiles: Mapping[str, Matrix] = field(default_factory=dict)  # e.g. walk, e-bike, car

    def travel_for(self, courier: Courier) -> Matrix:
        """The travel matrix of the courier's vehicle (the default one without a profile)."""
        return self.travel if courier.profile is None else self.profiles[courier.profile]

    def __post_init__(self) -> None:
        size = len(self.travel)
        if any(len(row) != size for row in self.travel):
            msg = "the travel matrix must be square"
            raise ValueError(msg)
        for extra in [self.cost, *self.profiles.values()]:
            if extra is not None and (len(extra) != size or any(len(r) != size for r in extra)):
                msg = "cost and profile matrices must have the travel matrix's shape"
                raise ValueError(msg)
        for courier in self.couriers:
            if courier.profile is not None and courier.profile not in self.profiles:
                msg = f"courier {courier.id} moves by unknown profile {courier.profile!r}"
                raise ValueError(msg)
        nodes = [n for t in self.tasks for n in (t.pickup, t.delivery) if n is not None]
        nodes += [n for c in self.couriers for n in (c.start, c.end) if n is not None]
        if any(not 0 <= n < size for n in nodes):
            msg = "a node index is outside the travel matrix"
            raise ValueError(msg)
        if len({t.id for t in self.tasks}) != len(self.tasks):
            msg = "task ids must be unique"
            raise ValueError(msg)
        if len({c.id for c in self.couriers}) != len(self.couriers):
            msg = "courier ids must be unique"
            raise ValueError(msg)
        known = {c.id for c in self.couriers}
        for task in self.tasks:
            if task.courier is not None and task.courier not in known:
                msg = f"task {task.id} names unknown courier {task.courier}"
                raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class Visit:
    task_id: str
    kind: str  # "pickup" | "delivery"
    node: int
    arrival: int
    start: int  # service starts (waiting for ``ready`` if early)
    departure: int
    late_by: int = 0


@dataclass(frozen=True, slots=True)
class Route:
    courier_id: str
    visits: tuple[Visit, ...]
    cost: int
    finish: int  # when the last visit (or the return to ``end``) is done


@dataclass(frozen=True, slots=True)
class Plan:
    routes: tuple[Route, ...]
    unassigned: dict[str, str] = field(default_factory=dict)  # task id -> reason
    status: str = "empty"
    solve_s: float = 0.0

    @property
    def total_cost(self) -> int:
        return sum(route.cost for route in self.routes)

    @property
    def total_lateness(self) -> int:
        return sum(v.late_by for route in self.routes for v in route.visits)

    @property
    def couriers_used(self) -> int:
        return sum(1 for route in self.routes if route.visits)


class _Layout:
    """Routing nodes: 2 per task with a pickup, 1 per task on board, start and end per courier."""

    def __init__(self, problem: RoutingProblem) -> None:
        self.matrix_node: list[int | None] = []  # None: an open route's end, anywhere
        self.service: list[int] = []
        self.visits: list[tuple[Task, str] | None] = []
        self.pickup_of: dict[str, int] = {}
        self.delivery_of: dict[str, int] = {}
        for task in problem.tasks:
            if task.pickup is not None:
                self.pickup_of[task.id] = self._add(
                    task.pickup, task.pickup_service, (task, "pickup")
                )
            self.delivery_of[task.id] = self._add(
                task.delivery, task.delivery_service, (task, "delivery")
            )
        self.starts = [self._add(c.start, 0, None) for c in problem.couriers]
        self.ends = [self._add(c.end, 0, None) for c in problem.couriers]

    def _add(self, node: int | None, service: int, visit: tuple[Task, str] | None) -> int:
        self.matrix_node.append(node)
        self.service.append(service)
        self.visits.append(visit)
        return len(self.matrix_node) - 1

    def matrix(self, source: Matrix, *, with_service: bool) -> list[list[int]]:
        """Routing-node matrix from a problem matrix; travel into an open end costs nothing."""
        rows = []
        for i, a in enumerate(self.matrix_node):
            service = self.service[i] if with_service else 0
            rows.append(
                [
                    0 if i == j else service + (0 if a is None or b is None else int(source[a][b]))
                    for j, b in enumerate(self.matrix_node)
                ]
            )
        return rows


def solve(
    problem: RoutingProblem, options: SolveOptions | None = None, *, hint: RouteHint | None = None
) -> Plan:
    """Plan every task onto a courier, minimising lateness first and cost second.

    ``hint`` (e.g. the previous plan) is where the search starts when it is still feasible;
    stops of unknown tasks or couriers are ignored, and an infeasible hint is simply not used.
    """
    return _solve(problem, options or SolveOptions(), hint, hard=frozenset(), optional={})


def solve_fewest_couriers(problem: RoutingProblem, options: SolveOptions | None = None) -> Plan:
    """Plan every task on as few couriers as can carry them all, then with the least cost;
    ``vehicle_cost`` must price a courier above any cost saving (the benchmarks' ranking).

    A fleet cost alone leaves guided local search hopping between fleet sizes, so in stages
    sharing ``time_limit_s``: ruin-and-recreate with the fleet cost, then route elimination
    (empty the shortest route and search from the rest on one courier fewer, while that
    works), then cost only on the fleet found. Two stagings, since neither wins everywhere:
    one gives the first stage more time (fewer couriers more often), the other the last
    (ruin-and-recreate from scratch on the fleet, which escapes the routes the first stages
    left, but cannot start from them). With ``workers=2`` both run, in two processes, and
    the better plan is kept; with one, the second.
    """
    options = options or SolveOptions()
    if options.workers < 2:
        return _fewest_couriers(problem, options, first_share=0.4, final_from_scratch=True)
    context = multiprocessing.get_context("fork")  # the problem is not copied again
    receiver, sender = context.Pipe(duplex=False)
    other = context.Process(target=_fewest_couriers_into, args=(sender, problem, options),
                            daemon=True)  # fmt: skip
    other.start()
    sender.close()
    try:
        plans = [_fewest_couriers(problem, options, first_share=0.4, final_from_scratch=True)]
        if receiver.poll(max(1.0, options.time_limit_s * 0.2)):
            plans.append(receiver.recv())
    finally:
        receiver.close()
        other.terminate()
        other.join()
    return min(plans, key=_fleet_rank)


def _fleet_rank(plan: Plan) -> tuple[int, int, int]:
    return len(plan.unassigned), plan.couriers_used, plan.total_cost


def _fewest_couriers_into(
    sender: Connection, problem: RoutingProblem, options: SolveOptions
) -> None:
    sender.send(_fewest_couriers(problem, options, first_share=0.6, final_from_scratch=False))
    sender.close()


def _fewest_couriers(
    problem: RoutingProblem, options: SolveOptions, *, first_share: float,
    final_from_scratch: bool,
) -> Plan:  # fmt: skip
    seconds = options.time_limit_s
    deadline = time.perf_counter() + seconds
    searching = replace(options, vehicle_cost=0, close_nodes_lns=True)
    first = replace(options, time_limit_s=seconds * first_share, ruin_recreate=True)
    plan = solve(problem, first)
    elimination_ends = deadline - seconds * (0.4 if final_from_scratch else 0.2)
    named = {t.courier for t in problem.tasks if t.courier is not None}  # these must stay
    while time.perf_counter() < elimination_ends and not plan.unassigned:
        used = sorted((r for r in plan.routes if r.visits), key=lambda r: len(r.visits))
        emptied = [r for r in used if r.courier_id not in named]
        if len(used) <= 1 or not emptied:
            break
        kept = {r.courier_id for r in used} - {emptied[0].courier_id} | named
        fewer = replace(problem, couriers=tuple(c for c in problem.couriers if c.id in kept))
        budget = min(seconds / 10, elimination_ends - time.perf_counter())
        attempt = solve(fewer, replace(searching, time_limit_s=max(0.1, budget)),
                        hint=_hint_of(plan))  # fmt: skip
        if attempt.unassigned:
            break
        plan, problem = attempt, fewer
    kept = {r.courier_id for r in plan.routes if r.visits} | named
    final = replace(problem, couriers=tuple(c for c in problem.couriers if c.id in kept))
    last = replace(searching, time_limit_s=max(0.1, deadline - time.perf_counter()))
    if final_from_scratch:
        polished = solve(final, replace(last, ruin_recreate=True, close_nodes_lns=False))
    else:
        polished = solve(final, last, hint=_hint_of(plan))
    return min(plan, polished, key=_fleet_rank)


def solve_promises(
    problem: RoutingProblem, options: SolveOptions | None = None, *, hint: RouteHint | None = None
) -> Plan:
    """Plan every task, ranked as a delivery business ranks plans: most promises kept, then
    fewest units late for the rest, then least cost.

    Summed lateness alone spreads delay over many orders; so two searches instead. The first
    treats each promise as a wall and lets an order be left out at a penalty larger than any
    travel can cost, so it keeps as many promises as it can (orders on board are never left out:
    their lateness is priced as in :func:`solve`). The second starts from its routes and plans
    the orders it left out, late, at ``late_cost`` per unit, while the promises it kept stay
    walls; so nothing is dropped unless no courier can carry it at all. ``hint`` (the plan in
    force) is where the first search starts, less the orders it would deliver late.

    With ``steady_cost`` the time the hint tells for each order is kept too: priced past
    ``steady_within``; an order told past its promise may move until ``late_within`` past it
    (a wall worth less than a promise); the late orders the first search leaves out go back
    where the hint has them, on its courier. So a re-plan moves what was told only for a
    promise or a clear gain.
    """
    options = options or SolveOptions()
    started = time.perf_counter()
    if not problem.couriers:
        return solve(problem, options)
    if len(problem.tasks) > SPLIT_ABOVE and len(problem.couriers) > 1:
        return _solve_by_area(problem, options, hint, started)
    anchors = _anchors(problem, hint or {}) if options.steady_cost else {}
    searched, told_late = _told_kept(problem, anchors, options.steady_within,
                                     options.late_within)  # fmt: skip
    plan = _solve_promises(searched, options, hint, anchors, told_late, started)
    return plan if searched is problem else _late_against(problem, plan)


def _solve_promises(
    problem: RoutingProblem, options: SolveOptions, hint: RouteHint | None,
    anchors: Mapping[str, int], told_late: frozenset[str], started: float,
) -> Plan:  # fmt: skip
    keepable = frozenset(t.id for t in problem.tasks if _promise_can_be_kept(problem, t))
    # each arc is used at most once, so this bounds any plan's cost: one more promise kept
    # outweighs whatever it costs
    costs = [problem.cost] if problem.cost else [problem.travel_for(c) for c in problem.couriers]
    nodes = {n for t in problem.tasks for n in (t.pickup, t.delivery) if n is not None}
    nodes |= {n for c in problem.couriers for n in (c.start, c.end) if n is not None}
    longest = max(int(m[a][b]) for m in {id(m): m for m in costs}.values() for a in nodes
                  for b in nodes)  # fmt: skip
    first_tasks = tuple(t for t in problem.tasks if t.id in keepable or not _may_be_left(t))
    # and so does every other term the first search prices: the lateness of orders on board
    # (delivered before their courier's shift ends), waiting at pick-ups,
    # couriers used, told arrivals moved;
    # otherwise it may give up a promise to make an order on board a little less late
    shift_end = {c.id: c.shift_end for c in problem.couriers}
    last = max(shift_end.values())
    priced = sum(
        options.late_cost * max(0, shift_end.get(t.courier or "", last) - t.due)
        for t in first_tasks
        if t.id not in keepable and not t.hard_due
    )
    pickups = [t for t in first_tasks if t.pickup is not None]
    priced += sum(options.wait_cost * max(0, last - t.ready) for t in pickups)
    priced += options.vehicle_cost * len(problem.couriers)
    # moving told arrivals: later, up to a wall; earlier, down to the start
    priced += sum(
        options.steady_cost * max(t.due - anchors[t.id] - options.steady_within, anchors[t.id])
        for t in first_tasks
        if t.id in anchors
    )
    travel_bound = (2 * len(problem.tasks) + 2 * len(problem.couriers)) * max(1, longest)
    # a told time kept outweighs all that; a promise kept outweighs all told times together
    told_penalty = travel_bound + priced + 1
    keep_penalty = told_penalty * (len(told_late & keepable) + 1)
    penalties = {t: told_penalty if t in told_late else keep_penalty for t in keepable}
    first_problem = replace(problem, tasks=first_tasks)
    big = len(problem.tasks) > POLISH_UP_TO
    first_share, second_end_share = (BIG_FIRST_SHARE, BIG_SECOND_END) if big else (
        FIRST_SHARE, SECOND_END)  # fmt: skip
    first_budget = replace(options, time_limit_s=options.time_limit_s * first_share)
    start_from = _on_time_part(first_problem, hint or {}, keepable)
    pool: Pool | None = None if big else set()  # (big: no time is left to use it)
    first = _solve(first_problem, first_budget, start_from, hard=keepable,
                   optional=penalties, anchors=anchors, pool=pool)  # fmt: skip
    kept = (
        frozenset(v.task_id for r in first.routes for v in r.visits if v.kind == "delivery")
        & keepable
    )
    if first.status == "no solution":  # not even a start: price every delay from the outset
        budget = max(0.1, options.time_limit_s - (time.perf_counter() - started))
        return solve(problem, replace(options, time_limit_s=budget), hint=hint)
    # what building a model of this size took, beyond its search: no later search may
    # start without this much time to spare
    building = max(0.0, first.solve_s - first_budget.time_limit_s)
    planned = {v.task_id for r in first.routes for v in r.visits}
    left = [t for t in problem.tasks if t.id not in planned]
    if not left:
        return _polished(problem, first, options, anchors, started, pool, building)
    # (a big problem's late orders search to the end: it is what makes the plan complete,
    # and it needs its model built first)
    second_end = options.time_limit_s * second_end_share - (0.0 if big else building)
    remaining = max(0.1, second_end - (time.perf_counter() - started))
    # the late orders start where the plan in force has them, the new ones at a route's end;
    # from fresh places the search would shuffle them every re-plan
    restored = _restored(problem, _hint_of(first), hint or {}, {t.id for t in left}, kept)
    placed = {task_id for stops in restored.values() for task_id, _ in stops}
    start_from = _appended(problem, restored, [t for t in left if t.id not in placed])
    fallbacks = (_appended(problem, _hint_of(first), left), _hint_of(first))
    # and stay with the courier the plan in force gives them: the first search has had its
    # chance to keep their promises elsewhere; moving them on now would only trade minutes
    # late between orders (and turn what was told upside down every re-plan)
    lefts = {t.id for t in left}
    stay = {task_id: courier_id for courier_id, stops in restored.items()
            for task_id, _ in stops if task_id in lefts}  # fmt: skip
    second = None
    if stay:
        second = _solve(problem, replace(options, time_limit_s=remaining), start_from,
                        hard=kept, optional={}, anchors=anchors, stay=stay,
                        pool=pool)  # fmt: skip
        if any(task_id in second.unassigned for task_id in stay):  # no room: let them go
            second = None
    told = _timed(problem, start_from, kept) if stay else None
    out_of_time = time.perf_counter() - started > options.time_limit_s
    if second is None and told is not None and out_of_time:
        second = told  # (a loaded machine) what was told, as it stands, rather than afresh
    if second is None:
        remaining = max(0.1, second_end - (time.perf_counter() - started))
        second = _solve(problem, replace(options, time_limit_s=remaining), start_from,
                        hard=kept, optional={}, fallback=fallbacks, anchors=anchors,
                        pool=pool)  # fmt: skip
    if second.status == "no solution" and told is not None:
        second = told
    if second.status == "no solution":  # the walls kept nothing feasible: price every delay
        second = solve(problem, replace(options, time_limit_s=0.5), hint=_hint_of(first))
    if _rank(first) > _rank(second):  # the second search should never do worse; if it does
        planned = {v.task_id for r in first.routes for v in r.visits}
        reasons = {k: v for k, v in second.unassigned.items() if k not in planned}
        second = replace(first, unassigned=reasons | dict(first.unassigned))
    return _polished(problem, second, options, anchors, started, pool, building)


def _timed(
    problem: RoutingProblem, routes: Mapping[str, Sequence[tuple[str, str]]],
    walls: frozenset[str],
) -> Plan | None:  # fmt: skip
    """The routes as a plan, timed by the solver's rules, if they plan every task and keep
    every rule (capacity, shift, the promises in ``walls``); None otherwise."""
    tasks = {t.id: t for t in problem.tasks}
    planned = [task_id for stops in routes.values() for task_id, kind in stops
               if kind == "delivery"]  # fmt: skip
    if sorted(planned) != sorted(tasks) or any(c.end is not None for c in problem.couriers):
        return None
    built = []
    for courier in problem.couriers:
        stops = list(routes.get(courier.id, ()))
        travel = problem.travel_for(courier)
        owned = {t for t, _ in stops if tasks[t].courier not in (None, courier.id)}
        pairs = all((t, "pickup") in stops for t, k in stops if k == "delivery"
                    and tasks[t].pickup is not None)  # fmt: skip
        if owned or not pairs or not _fits(stops, tasks, courier, travel, walls):
            return None
        visits, position, clock, cost = [], courier.start, courier.available_at, 0
        times = _timeline(stops, tasks, courier.start, courier.available_at, travel)
        for task_id, kind, begin, departure, node in times:
            task = tasks[task_id]
            late = max(0, begin - task.due) if kind == "delivery" else 0
            visits.append(Visit(task_id, kind, node, clock + int(travel[position][node]),
                                begin, departure, late))  # fmt: skip
            cost += int((problem.cost or travel)[position][node])
            position, clock = node, departure
        built.append(Route(courier.id, tuple(visits), cost, clock))
    return Plan(tuple(built), {}, "solved", 0.0)


def _rank(plan: Plan) -> tuple[int, int, int, int]:
    """Higher is better: most orders planned, most promises kept, least lateness, least cost
    (counted from the routes: the first search's plan does not list the orders it never saw)."""
    deliveries = [v for r in plan.routes for v in r.visits if v.kind == "delivery"]
    kept = sum(1 for v in deliveries if not v.late_by)
    return (len(deliveries), kept, -plan.total_lateness, -plan.total_cost)


POLISH_END = 0.95  # of the time: the travel cleanup searches until then, the pool after
POOL_ROUTES = 60_000  # routes kept from the searches for the set partitioning, at most
POOL_TIME_SHARE = 0.05  # of a search's time, for reading the routes of its solutions
MIN_SEARCH_S = 0.05  # less than this left: no further search is started


def _polished(
    problem: RoutingProblem, plan: Plan, options: SolveOptions, anchors: Mapping[str, int],
    started: float, pool: Pool | None, building: float,
) -> Plan:  # fmt: skip
    """The plan with its travel cut and nothing won given back: a search for travel alone
    from it (:func:`_cleaned`), then the best combination of the routes met on the way
    (:func:`_partitioned`), cleaned again from there if time is left."""

    def left(until: float, *, search: bool = True) -> float:
        return options.time_limit_s * until - (time.perf_counter() - started) - (
            building if search else 0.0)  # fmt: skip

    if plan.routes and left(POLISH_END) > MIN_SEARCH_S:
        budget = replace(options, time_limit_s=left(POLISH_END))
        plan = _cleaned(problem, plan, budget, anchors, pool)
    if plan.routes and pool and left(0.97, search=False) > MIN_SEARCH_S:
        combined = _partitioned(problem, plan, pool, options, anchors, left(0.97, search=False))
        if combined is not plan and left(1.0) > 4 * MIN_SEARCH_S:
            combined = _cleaned(problem, combined, replace(options, time_limit_s=left(0.99)),
                                anchors, None)  # fmt: skip
        plan = combined
    return replace(plan, solve_s=time.perf_counter() - started)


def _cleaned(
    problem: RoutingProblem, plan: Plan, options: SolveOptions, anchors: Mapping[str, int],
    pool: Pool | None,
) -> Plan:  # fmt: skip
    """The plan's travel cut by a search that holds what it won: each promise kept stays a
    wall, and each late order may be delivered earlier but not later than the plan has it;
    the search starts from the plan's routes. The plan itself if nothing better is found."""
    when = {v.task_id: v.start for r in plan.routes for v in r.visits if v.kind == "delivery"}
    # the tasks the plan leaves out stay too: one on board still takes room
    capped = tuple(
        replace(task, due=when[task.id]) if when.get(task.id, task.due) > task.due else task
        for task in problem.tasks
    )
    found = _solve(replace(problem, tasks=capped), options, _hint_of(plan),
                   hard=frozenset(when), optional={}, anchors=anchors, pool=pool)  # fmt: skip
    if found.status == "no solution" or not found.unassigned.keys() <= plan.unassigned.keys():
        return plan
    found = _late_against(problem, found)
    return found if _rank(found) > _rank(plan) else plan


def _route_value(
    tasks: Mapping[str, Task], courier: Courier, stops: Sequence[tuple[str, str]],
    travel: Matrix, cost: Matrix, options: SolveOptions, anchors: Mapping[str, int],
) -> tuple[int, int, int] | None:  # fmt: skip
    """(promises kept, units late, cost) of the courier making these stops, by the solver's
    rules; None if it breaks one (pairs, ownership, capacity, shift, hard windows). The cost
    is what the searches price besides lateness: travel, waiting, couriers used, told times
    moved."""
    picked: set[str] = set()
    load = sum(t.size for t in tasks.values() if t.pickup is None and t.courier == courier.id)
    for task_id, kind in stops:
        task = tasks[task_id]
        if task.courier not in (None, courier.id) or (task.courier is None
                                                      and not courier.takes_new):  # fmt: skip
            return None
        if kind == "pickup":
            picked.add(task_id)
        elif task.pickup is not None and task_id not in picked:
            return None
        elif task.pickup is None and task.courier is None:
            load += task.size  # loaded at the start for this route
    if len(picked) != sum(1 for _, kind in stops if kind == "delivery"
                          and tasks[_].pickup is not None):  # fmt: skip
        return None
    if load > courier.capacity:  # what it starts with: a first drop-off must not hide it
        return None
    for task_id, kind in stops:
        load += tasks[task_id].size if kind == "pickup" else -tasks[task_id].size
        if load > courier.capacity or load < 0:
            return None
    times = _timeline(stops, tasks, courier.start, courier.available_at, travel)
    if times and times[-1][3] > courier.shift_end:
        return None
    kept = late = 0
    price = options.vehicle_cost if stops else 0
    position = courier.start
    for task_id, kind, begin, _, node in times:
        task = tasks[task_id]
        price += int(cost[position][node])
        position = node
        if kind == "pickup":
            if task.pickup_due is not None and begin > task.pickup_due:
                return None
            price += options.wait_cost * max(0, begin - task.ready)
            continue
        if task.hard_due and begin > task.due:
            return None
        anchor = anchors.get(task.id)
        if anchor is not None and options.steady_cost:
            moved = max(
                begin - anchor - options.steady_within,
                anchor - options.steady_within - begin if anchor > task.due else 0,
            )
            price += options.steady_cost * max(0, moved)  # fmt: skip
        if begin <= task.due:
            kept += 1
        else:
            late += begin - task.due
    return kept, late, price


def _partitioned(
    problem: RoutingProblem, plan: Plan, pool: Pool, options: SolveOptions,
    anchors: Mapping[str, int], time_limit_s: float,
) -> Plan:  # fmt: skip
    """The best combination of routes met during the searches: one route per courier (its
    own from some solution, or none), each planned order on exactly one, ranked by promises
    kept, then units late, then cost (a set partitioning, by CP-SAT); the plan itself unless
    the combination ranks higher. Orders on board stay with their courier, since only its
    routes carry them."""
    if any(c.end is not None for c in problem.couriers):
        return plan  # routes into a depot are not valued here
    tasks = {t.id: t for t in problem.tasks}
    covered = {v.task_id for r in plan.routes for v in r.visits if v.kind == "delivery"}
    current = {(r.courier_id, tuple((v.task_id, v.kind) for v in r.visits)) for r in plan.routes}
    candidates: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[int, int, int]] = {}
    variants = _variants(problem, pool | current)
    for courier in problem.couriers:
        travel = problem.travel_for(courier)
        cost = problem.cost or travel
        for stops in variants[courier.id]:
            if all(task_id in covered for task_id, _ in stops):
                value = _route_value(tasks, courier, stops, travel, cost, options, anchors)
                if value is not None:
                    candidates[courier.id, stops] = value
    if not current <= candidates.keys():  # the plan's own routes must be there to be beaten
        return plan
    keys = list(candidates)
    model = cp_model.CpModel()
    chosen = [model.new_bool_var(f"r{i}") for i in range(len(keys))]
    for courier in problem.couriers:
        model.add_exactly_one(x for x, key in zip(chosen, keys, strict=True)
                            if key[0] == courier.id)  # fmt: skip
    on: dict[str, list[cp_model.IntVar]] = {task_id: [] for task_id in covered}
    for x, (_, stops) in zip(chosen, keys, strict=True):
        for task_id, kind in stops:
            if kind == "delivery":
                on[task_id].append(x)
    for task_id in covered:
        model.add_exactly_one(on[task_id])
    # lexicographic by weights: a unit late outweighs all cost, a promise all lateness
    most: dict[str, tuple[int, int]] = {}
    for (courier_id, _), (_, late, price) in candidates.items():
        was = most.get(courier_id, (0, 0))
        most[courier_id] = (max(was[0], late), max(was[1], price))
    late_weight = sum(p for _, p in most.values()) + 1
    kept_weight = sum(late for late, _ in most.values()) * late_weight + late_weight
    model.maximize(sum(
        x * (kept_weight * kept - late_weight * late - price)
        for x, (kept, late, price) in zip(chosen, candidates.values(), strict=True)
    ))  # fmt: skip
    for x, key in zip(chosen, keys, strict=True):
        model.add_hint(x, key in current)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.01, time_limit_s)
    solver.parameters.num_workers = 2
    if solver.solve(model) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return plan
    routes = {key[0]: list(key[1]) for x, key in zip(chosen, keys, strict=True)
              if solver.boolean_value(x)}  # fmt: skip
    part = replace(problem, tasks=tuple(t for t in problem.tasks if t.id in covered))
    found = _timed(part, routes, frozenset())
    if found is None:
        return plan
    found = replace(found, unassigned=dict(plan.unassigned), status=plan.status)
    return found if _rank(found) > _rank(plan) else plan


TRANSFER_TO = 4  # a route met is also tried on this many other couriers, nearest first


def _variants(problem: RoutingProblem, routes: Pool) -> dict[str, set[tuple[tuple[str, str], ...]]]:
    """Courier id -> the stop sequences worth valuing for it: none at all, the routes met
    on it, each less one order (so that an order another route carries too can go there),
    and the routes met on the couriers that start nearest to it: what lets the set
    partitioning combine more than the solutions it was given."""
    found: dict[str, set[tuple[tuple[str, str], ...]]] = {c.id: {()} for c in problem.couriers}
    starts = {c.id: c.start for c in problem.couriers}
    travel = problem.travel
    nearest = {
        c.id: sorted((o for o in problem.couriers if o.id != c.id),
                     key=lambda o: travel[c.start][o.start])[:TRANSFER_TO]
        for c in problem.couriers
    }  # fmt: skip
    for courier_id, stops in routes:
        if courier_id not in starts:
            continue
        mine = found[courier_id]
        mine.add(stops)
        for task_id in dict.fromkeys(t for t, _ in stops):
            mine.add(tuple(s for s in stops if s[0] != task_id))
        for other in nearest[courier_id]:
            found[other.id].add(stops)
    return found


def _collect_routes(
    problem: RoutingProblem, layout: _Layout, manager: pywrapcp.RoutingIndexManager,
    model: pywrapcp.RoutingModel, pool: Pool,
) -> None:  # fmt: skip
    """Put the routes of the solutions the search meets into ``pool``: of every one while
    reading them takes no more than ``POOL_TIME_SHARE`` of the search's time (a descent at
    300 orders meets thousands, and reading each costs more than finding it)."""
    ids = [c.id for c in problem.couriers]
    began = time.perf_counter()
    spent = [0.0]

    def record() -> None:
        now = time.perf_counter()
        if len(pool) >= POOL_ROUTES or spent[0] > POOL_TIME_SHARE * (now - began):
            return
        for v, courier_id in enumerate(ids):
            stops = []
            index = model.NextVar(model.Start(v)).Value()
            while not model.IsEnd(index):
                visit = layout.visits[manager.IndexToNode(index)]
                assert visit is not None  # only starts and ends lack one
                stops.append((visit[0].id, visit[1]))
                index = model.NextVar(index).Value()
            pool.add((courier_id, tuple(stops)))
        spent[0] += time.perf_counter() - now

    model.AddAtSolutionCallback(record)


SPLIT_ABOVE = 400  # tasks: a bigger snapshot is planned area by area
AREA_TASKS = 200  # tasks per area, about


def _solve_by_area(
    problem: RoutingProblem, options: SolveOptions, hint: RouteHint | None, started: float
) -> Plan:
    """Big snapshots: split the tasks into areas around far-apart pick-ups, give each area
    couriers in proportion (nearest first), and plan the areas one after another, each with
    its share of the time. Orders near an area's edge may be planned less well than by one
    search over everything, but one search would not even find a first plan in time."""
    parts = _areas(problem, max(2, round(len(problem.tasks) / AREA_TASKS)), hint)
    routes: list[Route] = []
    unassigned: dict[str, str] = {}
    overrun = 0.0  # per task: what the areas so far took beyond their budget (model builds)
    planned = 0
    for k, part in enumerate(parts):
        # a little kept back: each area's model takes time to build and read out, and the
        # areas still to come need as much again
        share = sum(len(p.tasks) for p in parts[k:])
        left = 0.95 * options.time_limit_s - (time.perf_counter() - started) - overrun * share
        budget = replace(options, time_limit_s=max(0.1, left * len(part.tasks) / max(1, share)))
        before = time.perf_counter()
        plan = solve_promises(part, budget, hint=hint)
        spent = time.perf_counter() - before - budget.time_limit_s
        planned += len(part.tasks)
        overrun = max(overrun, spent / max(1, len(part.tasks)), 0.0)
        routes += plan.routes
        unassigned |= plan.unassigned
    order = {c.id: i for i, c in enumerate(problem.couriers)}
    routes.sort(key=lambda r: order[r.courier_id])
    status = "solved" if not unassigned else "partial"
    return Plan(tuple(routes), unassigned, status, time.perf_counter() - started)


def _areas(
    problem: RoutingProblem, count: int, hint: RouteHint | None = None
) -> list[RoutingProblem]:
    """The problem cut into ``count`` areas: seeds spread out over the pick-ups (each the
    farthest from those chosen), every task to its nearest seed, couriers to areas in
    proportion to their tasks, nearest pairs first; a task owned by a courier goes with it,
    and so does a task the plan in force gives a courier (areas are cut afresh each re-plan:
    otherwise a courier's planned stops would land in another area and the hint be lost)."""
    travel = problem.travel
    known = {c.id for c in problem.couriers}
    planned_by = {
        task_id: courier_id
        for courier_id, stops in (hint or {}).items()
        if courier_id in known
        for task_id, _ in stops
    }
    points = sorted({t.pickup if t.pickup is not None else t.delivery for t in problem.tasks})
    seeds = [points[0]]
    while len(seeds) < min(count, len(points)):
        seeds.append(max(points, key=lambda n: min(travel[s][n] for s in seeds)))
    free = [t for t in problem.tasks if t.courier is None and t.id not in planned_by]
    room = [math.ceil(1.2 * len(free) / len(seeds))] * len(seeds)  # areas of similar size
    ranked = {
        t.id: sorted(range(len(seeds)), key=lambda a: travel[seeds[a]][
            t.pickup if t.pickup is not None else t.delivery])
        for t in free
    }  # fmt: skip

    def regret(task: Task) -> int:  # what going to its second-nearest area would cost it
        first, *rest = ranked[task.id]
        node = task.pickup if task.pickup is not None else task.delivery
        return travel[seeds[rest[0]]][node] - travel[seeds[first]][node] if rest else 0

    area_of: dict[str, int] = {}
    for task in sorted(free, key=regret, reverse=True):
        area = next((a for a in ranked[task.id] if room[a] > 0), ranked[task.id][0])
        area_of[task.id] = area
        room[area] -= 1
    sizes = [sum(1 for a in area_of.values() if a == k) for k in range(len(seeds))]
    quota = [max(1, round(len(problem.couriers) * n / max(1, len(free)))) for n in sizes]
    courier_area: dict[str, int] = {}
    pairs = sorted((travel[c.start][seeds[a]], c.id, a)
                   for c in problem.couriers for a in range(len(seeds)))  # fmt: skip
    for _, courier_id, a in pairs:
        if courier_id not in courier_area and quota[a] > 0:
            courier_area[courier_id] = a
            quota[a] -= 1
    for c in problem.couriers:  # more couriers than quotas: to their nearest area
        courier_area.setdefault(
            c.id, min(range(len(seeds)), key=lambda a: travel[c.start][seeds[a]])
        )
    for t in problem.tasks:
        owner = t.courier or planned_by.get(t.id)
        if owner is not None:
            area_of[t.id] = courier_area[owner]
    return [
        replace(problem, tasks=tuple(t for t in problem.tasks if area_of[t.id] == a),
                couriers=tuple(c for c in problem.couriers if courier_area[c.id] == a))
        for a in range(len(seeds))
    ]  # fmt: skip


FIRST_SHARE = 0.7  # of the time: keeping promises is the harder search and the one that counts
SECOND_END = 0.88  # the late orders are planned by then; the rest cuts travel (cleanup, pool)
# over this many tasks (an area of a big snapshot, 300 orders) the two searches are short of
# time already and a cleanup search found nothing in what was left: only the pool's partition
POLISH_UP_TO = 150
BIG_FIRST_SHARE, BIG_SECOND_END = 0.7, 1.0


def _may_be_left(task: Task) -> bool:
    """Whether the first search may leave the task out: not when it is on board, nor when its
    due is a wall anyway (benchmark windows)."""
    return not task.hard_due and not (task.pickup is None and task.courier is not None)


def _promise_can_be_kept(problem: RoutingProblem, task: Task) -> bool:
    """Whether some courier allowed to carry the task could be on time doing it first, alone."""
    if not _may_be_left(task):
        return False
    allowed = [
        c
        for c in problem.couriers
        if (c.id == task.courier if task.courier else c.takes_new) and c.capacity >= task.size
    ]
    return any(delivery_start_alone(problem.travel_for(c), c, task) <= task.due for c in allowed)


def _hint_of(plan: Plan) -> dict[str, list[tuple[str, str]]]:
    return {r.courier_id: [(v.task_id, v.kind) for v in r.visits] for r in plan.routes}


def _told_kept(
    problem: RoutingProblem, anchors: Mapping[str, int], within: int, late_within: int
) -> tuple[RoutingProblem, frozenset[str]]:
    """The problem with the ``due`` of each task the plan in force tells past its promise
    moved to ``late_within`` past the promise (or to the told time and ``within`` more, if
    later still), and those tasks: a told time kept, a wall in the promise search worth less
    than a promise. Otherwise that search would take a late order out of its place, to plan
    it afresh every re-plan, or let it slide later at every re-plan without end."""
    tasks = []
    told_late = set()
    for task in problem.tasks:
        told = anchors.get(task.id)
        promise = task.due if task.promise is None else max(task.due, task.promise)
        if told is not None and told > promise and _may_be_left(task):
            told_late.add(task.id)
            task = replace(task, due=max(told + within, promise + late_within))
        tasks.append(task)
    if not told_late:
        return problem, frozenset()
    return replace(problem, tasks=tuple(tasks)), frozenset(told_late)


def _late_against(problem: RoutingProblem, plan: Plan) -> Plan:
    """The plan with each delivery's lateness counted against the problem's own ``due``."""
    due = {t.id: t.due for t in problem.tasks}
    routes = tuple(
        replace(route, visits=tuple(
            replace(v, late_by=max(0, v.start - due[v.task_id])) if v.kind == "delivery" else v
            for v in route.visits))
        for route in plan.routes
    )  # fmt: skip
    return replace(plan, routes=routes)


def _anchors(problem: RoutingProblem, hint: RouteHint) -> dict[str, int]:
    """Task id -> when the hint, followed from each courier's position now, delivers it:
    the arrival the plan in force has told."""
    tasks = {t.id: t for t in problem.tasks}
    anchors: dict[str, int] = {}
    for courier in problem.couriers:
        stops = [s for s in dict.fromkeys(hint.get(courier.id, ())) if s[0] in tasks]
        times = _timeline(stops, tasks, courier.start, courier.available_at,
                          problem.travel_for(courier))  # fmt: skip
        anchors |= {task_id: begin for task_id, kind, begin, _, _ in times if kind == "delivery"}
    return anchors


def _restored(
    problem: RoutingProblem, routes: Mapping[str, Sequence[tuple[str, str]]], hint: RouteHint,
    left: set[str], walls: frozenset[str],
) -> dict[str, list[tuple[str, str]]]:  # fmt: skip
    """The routes with each ``left`` task put back where the hint has it: on the hint's
    courier, after the stop that precedes it there (never before an earlier one), unless that
    breaks a promise in ``walls``, the courier's capacity or shift, or the courier may not
    take it (then it stays out)."""
    tasks = {t.id: t for t in problem.tasks}
    restored = {courier_id: list(stops) for courier_id, stops in routes.items()}
    for courier in problem.couriers:
        route = restored.setdefault(courier.id, [])
        told = [s for s in dict.fromkeys(hint.get(courier.id, ())) if s[0] in tasks]
        for task_id in dict.fromkeys(t for t, _ in told if t in left):
            task = tasks[task_id]
            if task.courier not in (None, courier.id) or (
                task.courier is None and not courier.takes_new
            ):
                continue
            trial = _put_back(route, told, task_id)
            if _fits(trial, tasks, courier, problem.travel_for(courier), walls):
                route[:] = trial
    return restored


def _put_back(
    route: Sequence[tuple[str, str]], told: Sequence[tuple[str, str]], task_id: str
) -> list[tuple[str, str]]:
    """The route with the task's stops inserted after the stops that precede them in ``told``."""
    trial = list(route)
    position = 0
    for stop in told:
        if stop in trial:
            position = max(position, trial.index(stop) + 1)
        elif stop[0] == task_id:
            trial.insert(position, stop)
            position += 1
    return trial


def _fits(
    stops: Sequence[tuple[str, str]], tasks: Mapping[str, Task], courier: Courier,
    travel: Matrix, walls: frozenset[str],
) -> bool:  # fmt: skip
    """Whether the courier can make these stops in order: capacity, shift and walls."""
    load = sum(t.size for t in tasks.values() if t.pickup is None and t.courier == courier.id)
    for task_id, kind in stops:
        load += tasks[task_id].size if kind == "pickup" else -tasks[task_id].size
        if load > courier.capacity:
            return False
    times = _timeline(stops, tasks, courier.start, courier.available_at, travel)
    if times and times[-1][3] > courier.shift_end:
        return False
    return _first_late(stops, tasks, courier, travel, walls) is None


def _on_time_part(problem: RoutingProblem, hint: RouteHint, walls: frozenset[str]) -> RouteHint:
    """The hint less every task it would deliver after a wall-promise (and that task's
    pick-up), by the solver's timing rules; a task dropped only makes the rest earlier."""
    tasks = {t.id: t for t in problem.tasks}
    kept: dict[str, list[tuple[str, str]]] = {}
    for courier in problem.couriers:
        stops = [s for s in dict.fromkeys(hint.get(courier.id, ())) if s[0] in tasks]
        travel = problem.travel_for(courier)
        while True:
            late = _first_late(stops, tasks, courier, travel, walls)
            if late is None:
                break
            stops = [s for s in stops if s[0] != late]
        kept[courier.id] = stops
    return kept


def _first_late(
    stops: Sequence[tuple[str, str]], tasks: Mapping[str, Task], courier: Courier,
    travel: Matrix, walls: frozenset[str],
) -> str | None:  # fmt: skip
    for task_id, kind, begin, _, _ in _timeline(stops, tasks, courier.start,
                                                courier.available_at, travel):  # fmt: skip
        if kind == "delivery" and task_id in walls and begin > tasks[task_id].due:
            return task_id
    return None


def _timeline(
    stops: Sequence[tuple[str, str]], tasks: Mapping[str, Task], position: int, clock: int,
    travel: Matrix,
) -> list[tuple[str, str, int, int, int]]:  # fmt: skip
    """(task id, kind, service start, departure, node) of each stop from ``position`` at
    ``clock``, by the solver's rules."""
    times = []
    for task_id, kind in stops:
        task = tasks[task_id]
        target = task.pickup if kind == "pickup" else task.delivery
        if target is None:
            continue
        earliest = task.ready if kind == "pickup" else task.delivery_ready
        begin = max(clock + int(travel[position][target]), earliest)
        clock = begin + (task.pickup_service if kind == "pickup" else task.delivery_service)
        position = target
        times.append((task_id, kind, begin, clock, target))
    return times


def _appended(
    problem: RoutingProblem, routes: Mapping[str, Sequence[tuple[str, str]]], left: Sequence[Task]
) -> dict[str, list[tuple[str, str]]]:
    """The routes with each left-out task appended, earliest promise first, to the courier
    that can deliver it soonest after its last stop: a complete start for the late orders,
    which the search then moves to better places (it inserts one at a time, too slowly)."""
    tasks = {t.id: t for t in problem.tasks}
    extended = {c.id: list(routes.get(c.id, ())) for c in problem.couriers}
    ends = {}  # courier id -> (node, time) where and when its route is done
    for courier in problem.couriers:
        times = _timeline(extended[courier.id], tasks, courier.start, courier.available_at,
                          problem.travel_for(courier))  # fmt: skip
        ends[courier.id] = (times[-1][4], times[-1][3]) if times else (
            courier.start, courier.available_at)  # fmt: skip
    for task in sorted(left, key=lambda t: (t.due, t.id)):
        if task.pickup is None and task.courier is None:
            continue  # loaded at the start: that load is the search's to choose
        options = []
        for courier in problem.couriers:
            if (task.courier or courier.id) != courier.id or courier.capacity < task.size:
                continue
            if task.courier is None and not courier.takes_new:
                continue
            stops = [(task.id, "pickup")] if task.pickup is not None else []
            stops.append((task.id, "delivery"))
            times = _timeline(stops, tasks, *ends[courier.id], problem.travel_for(courier))
            if times and times[-1][3] <= courier.shift_end:
                options.append((times[-1][2], courier.id, stops, times[-1]))
        if options:
            _, chosen, stops, last = min(options)
            extended[chosen] += stops
            ends[chosen] = (last[4], last[3])
    return extended


def _solve(
    problem: RoutingProblem,
    options: SolveOptions,
    hint: RouteHint | None,
    *,
    hard: frozenset[str],
    optional: Mapping[str, int],
    fallback: Sequence[RouteHint] = (),
    anchors: Mapping[str, int] | None = None,
    stay: Mapping[str, str] | None = None,
    pool: Pool | None = None,
) -> Plan:
    """One OR-Tools search. ``hard``: tasks whose promise is a wall in this search (besides
    those with ``hard_due``); ``optional``: tasks that may be left out, at that penalty each
    (the others only when no courier can carry them at all); ``fallback``: the hints to start
    from, in turn, when ``hint`` breaks a rule; ``anchors``: task id -> the delivery time to
    keep near (``SolveOptions.steady_cost``); ``stay``: task id -> the only courier that may
    take it in this search; ``pool``: where the routes of every solution met go, as
    (courier id, stops), for :func:`_partitioned`."""
    started = time.perf_counter()
    if not problem.couriers:
        reasons = dict.fromkeys((t.id for t in problem.tasks), "no courier on shift")
        return Plan((), reasons, "no couriers", 0.0)
    layout = _Layout(problem)
    manager = pywrapcp.RoutingIndexManager(
        len(layout.matrix_node), len(problem.couriers), layout.starts, layout.ends
    )
    model = pywrapcp.RoutingModel(manager)
    registered: dict[tuple[int, bool], int] = {}

    def callback(source: Matrix, *, with_service: bool) -> int:
        key = (id(source), with_service)  # one registration per distinct matrix
        if key not in registered:
            rows = layout.matrix(source, with_service=with_service)
            registered[key] = model.RegisterTransitMatrix(rows)
        return registered[key]

    for v, courier in enumerate(problem.couriers):
        own_cost = problem.cost or problem.travel_for(courier)
        model.SetArcCostEvaluatorOfVehicle(callback(own_cost, with_service=False), v)
    if options.vehicle_cost:
        model.SetFixedCostOfAllVehicles(options.vehicle_cost)
    time_callbacks = [
        callback(problem.travel_for(courier), with_service=True) for courier in problem.couriers
    ]
    horizon = (
        max([c.shift_end for c in problem.couriers] + [t.due for t in problem.tasks] + [0]) * 4
        + 10_000
    )  # room for lateness; the soft bounds do the pricing
    model.AddDimensionWithVehicleTransits(time_callbacks, horizon, horizon, False, "time")
    clock = model.GetDimensionOrDie("time")
    demand = [0] * len(layout.matrix_node)
    on_board = {c.id: 0 for c in problem.couriers}
    for task in problem.tasks:
        demand[layout.delivery_of[task.id]] = -task.size
        if task.id in layout.pickup_of:
            demand[layout.pickup_of[task.id]] = task.size
        elif task.courier is not None:  # on board from the start: it frees room once delivered
            on_board[task.courier] += task.size
    # With depot deliveries the start load is the solver's choice, from what is on board up to
    # capacity: every delivery takes it down and it never goes below zero, so it covers them all;
    # goods left on board (an undelivered order) must still be there at the end.
    depot_deliveries = any(t.pickup is None and t.courier is None for t in problem.tasks)
    load_callback = model.RegisterUnaryTransitVector(demand)
    model.AddDimensionWithVehicleCapacity(
        load_callback, 0, [c.capacity for c in problem.couriers], False, "load"
    )
    load = model.GetDimensionOrDie("load")
    vehicle_of = {c.id: v for v, c in enumerate(problem.couriers)}
    for v, courier in enumerate(problem.couriers):
        start = model.Start(v)
        clock.CumulVar(start).SetRange(courier.available_at, courier.shift_end)
        clock.CumulVar(model.End(v)).SetMax(courier.shift_end)
        if depot_deliveries:
            load.CumulVar(start).SetRange(min(on_board[courier.id], courier.capacity),
                                          courier.capacity)  # fmt: skip
            left_on_board = [
                t.size * (1 - model.ActiveVar(manager.NodeToIndex(layout.delivery_of[t.id])))
                for t in problem.tasks
                if t.pickup is None and t.courier == courier.id
            ]
            if left_on_board:
                model.solver().Add(load.CumulVar(model.End(v)) >= sum(left_on_board))
        else:
            load.CumulVar(start).SetValue(min(on_board[courier.id], courier.capacity))
        model.AddVariableMinimizedByFinalizer(clock.CumulVar(model.End(v)))
    drop_penalty = options.late_cost * horizon * 10  # leaving an order out is worse than any delay
    open_to_new = None
    if not all(c.takes_new for c in problem.couriers):
        open_to_new = [v for v, c in enumerate(problem.couriers) if c.takes_new]
    for task in problem.tasks:
        delivery = manager.NodeToIndex(layout.delivery_of[task.id])
        allowed = [vehicle_of[task.courier]] if task.courier is not None else open_to_new
        if stay and task.id in stay:
            allowed = [vehicle_of[stay[task.id]]]
        clock.CumulVar(delivery).SetMin(task.delivery_ready)
        anchor = (anchors or {}).get(task.id)
        if task.hard_due or task.id in hard:
            clock.CumulVar(delivery).SetMax(task.due)
            if anchor is not None and options.steady_cost:
                # one soft upper bound per node: free here, since the promise is a wall
                clock.SetCumulVarSoftUpperBound(delivery, anchor + options.steady_within,
                                                options.steady_cost)  # fmt: skip
        else:
            clock.SetCumulVarSoftUpperBound(delivery, task.due, options.late_cost)
            if anchor is not None and options.steady_cost and anchor > task.due:
                # a late order: later is priced as lateness, earlier by this, so that late
                # orders swap places only for a clear cut in lateness (and waiting to keep
                # the time would cost more lateness than it saves)
                clock.SetCumulVarSoftLowerBound(delivery, anchor - options.steady_within,
                                                options.steady_cost)  # fmt: skip
        if task.id in layout.pickup_of:
            pickup = manager.NodeToIndex(layout.pickup_of[task.id])
            # same courier, pickup first: the routing model's own filters know this rule
            model.AddPickupAndDelivery(pickup, delivery)
            clock.CumulVar(pickup).SetMin(task.ready)
            if options.wait_cost:
                clock.SetCumulVarSoftUpperBound(pickup, task.ready, options.wait_cost)
            if task.pickup_due is not None:
                clock.CumulVar(pickup).SetMax(task.pickup_due)
            nodes = [pickup, delivery]
        else:
            nodes = [delivery]
        if allowed is not None:
            for index in nodes:  # -1 keeps "not performed" possible, so reasons can be given
                model.VehicleVar(index).SetValues([-1, *allowed])
        model.AddDisjunction(nodes, optional.get(task.id, drop_penalty), len(nodes))
    parameters = pywrapcp.DefaultRoutingSearchParameters()
    parameters.first_solution_strategy = getattr(
        routing_enums_pb2.FirstSolutionStrategy, options.first_solution
    )
    parameters.local_search_metaheuristic = getattr(
        routing_enums_pb2.LocalSearchMetaheuristic, options.metaheuristic
    )
    parameters.time_limit.FromMilliseconds(max(1, int(options.time_limit_s * 1000)))
    parameters.log_search = options.log_search
    if options.close_nodes_lns:
        operators = parameters.local_search_operators
        operators.use_local_cheapest_insertion_close_nodes_lns = optional_boolean_pb2.BOOL_TRUE
        operators.use_global_cheapest_insertion_close_nodes_lns = optional_boolean_pb2.BOOL_TRUE
    if options.ruin_recreate:
        _ruin_and_recreate(parameters, options)
    if options.solution_limit is not None:
        parameters.solution_limit = options.solution_limit
    if pool is not None:
        _collect_routes(problem, layout, manager, model, pool)
    start_from = None
    if hint and any(hint.values()):  # an empty hint would stand in for the construction
        start_from = _hinted_assignment(problem, layout, manager, model, hint, parameters)
    for other in fallback:
        if start_from is None and any(other.values()):
            start_from = _hinted_assignment(problem, layout, manager, model, other, parameters)
    if start_from is not None:
        assignment = model.SolveFromAssignmentWithParameters(start_from, parameters)
    elif options.ruin_recreate:  # OR-Tools runs it from its own first solution only
        assignment = model.SolveWithIteratedLocalSearch(parameters)
    else:
        assignment = model.SolveWithParameters(parameters)
    elapsed = time.perf_counter() - started
    if assignment is None:
        reasons = dict.fromkeys((t.id for t in problem.tasks), "no feasible plan found in time")
        return Plan((), reasons, "no solution", elapsed)
    return _read_plan(problem, layout, manager, model, assignment, clock, elapsed)


def _ruin_and_recreate(
    parameters: routing_parameters_pb2.RoutingSearchParameters, options: SolveOptions
) -> None:
    parameters.use_iterated_local_search = True
    # each perturbed solution is improved to its local minimum, then the next ruin comes
    parameters.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT
    )
    ils = parameters.iterated_local_search_parameters
    ils.perturbation_strategy = routing_ils_pb2.PerturbationStrategy.RUIN_AND_RECREATE
    ils.improve_perturbed_solution = True
    ruin = ils.ruin_recreate_parameters.ruin_strategies.add().sisr
    ruin.avg_num_removed_visits = options.ruin_visits
    ruin.max_removed_sequence_size = options.ruin_string
    ruin.bypass_factor = 0.01
    recreate = ils.ruin_recreate_parameters.recreate_strategy
    recreate.heuristic = routing_enums_pb2.FirstSolutionStrategy.LOCAL_CHEAPEST_INSERTION
    annealing = ils.reference_solution_acceptance_strategy.simulated_annealing
    annealing.cooling_schedule_strategy = routing_ils_pb2.CoolingScheduleStrategy.EXPONENTIAL
    if options.anneal_from:
        annealing.initial_temperature = options.anneal_from
        annealing.final_temperature = options.anneal_from / 1000
    else:
        annealing.automatic_temperatures = True
    ils.best_solution_acceptance_strategy.greedy_descent.SetInParent()


def _hinted_assignment(
    problem: RoutingProblem,
    layout: _Layout,
    manager: pywrapcp.RoutingIndexManager,
    model: pywrapcp.RoutingModel,
    hint: RouteHint,
    parameters: object,
) -> pywrapcp.Assignment | None:
    """The hint as a routing assignment, or None when it breaks a rule of this problem.

    Stops the courier may no longer make (an order on board or pinned elsewhere, a new order
    for a courier in overtime) are left out rather than losing the whole hint to them."""
    stops: list[list[tuple[str, str, int]]] = []
    used: set[int] = set()
    owner = {t.id: t.courier for t in problem.tasks}
    for courier in problem.couriers:
        route = []
        for task_id, kind in hint.get(courier.id, ()):
            if owner.get(task_id, courier.id) not in (courier.id, None) or (
                owner.get(task_id) is None and not courier.takes_new
            ):
                continue
            node = (layout.pickup_of if kind == "pickup" else layout.delivery_of).get(task_id)
            if node is not None and node not in used:
                used.add(node)
                route.append((task_id, kind, node))
        stops.append(route)
    # A pair split over two routes, half-hinted or delivered before its pickup makes OR-Tools
    # crash or hang in SolveFromAssignment (seen with a shuffled hint): such tasks start unplanned.
    where: dict[tuple[str, str], tuple[int, int]] = {}
    for v, route in enumerate(stops):
        for position, (task_id, kind, _) in enumerate(route):
            where[task_id, kind] = (v, position)
    broken = set()
    for task_id in {task_id for task_id, _ in where}:
        pickup, delivery = where.get((task_id, "pickup")), where.get((task_id, "delivery"))
        has_pickup = task_id in layout.pickup_of
        if delivery is None or (has_pickup and (pickup is None or pickup[0] != delivery[0]
                                                or pickup[1] > delivery[1])):  # fmt: skip
            broken.add(task_id)
    routes = [[manager.NodeToIndex(node) for task_id, _, node in route if task_id not in broken]
              for route in stops]  # fmt: skip
    model.CloseModelWithParameters(parameters)  # routes can only be read into a closed model
    return model.ReadAssignmentFromRoutes(routes, True)


def _read_plan(
    problem: RoutingProblem,
    layout: _Layout,
    manager: pywrapcp.RoutingIndexManager,
    model: pywrapcp.RoutingModel,
    assignment: pywrapcp.Assignment,
    clock: pywrapcp.RoutingDimension,
    elapsed: float,
) -> Plan:
    routes = []
    planned: set[str] = set()
    for v, courier in enumerate(problem.couriers):
        travel = problem.travel_for(courier)
        cost_matrix = problem.cost or travel
        index = model.Start(v)
        position = courier.start
        cost = 0
        visits = []
        previous_departure = assignment.Value(clock.CumulVar(index))
        while not model.IsEnd(index):
            index = assignment.Value(model.NextVar(index))
            node = manager.IndexToNode(index)
            target = layout.matrix_node[node]
            if model.IsEnd(index):
                if target is not None:
                    cost += int(cost_matrix[position][target])
                    previous_departure += int(travel[position][target])
                break
            visit = layout.visits[node]
            assert visit is not None and target is not None  # only ends lack a visit or a node
            task, kind = visit
            arrival = previous_departure + int(travel[position][target])
            begin = assignment.Value(clock.CumulVar(index))
            service = task.pickup_service if kind == "pickup" else task.delivery_service
            late = max(0, begin - task.due) if kind == "delivery" else 0
            visits.append(Visit(task.id, kind, target, arrival, begin, begin + service, late))
            cost += int(cost_matrix[position][target])
            position = target
            previous_departure = begin + service
            planned.add(task.id)
        routes.append(Route(courier.id, tuple(visits), cost, previous_departure))
    unassigned = {t.id: _why_unplanned(problem, t) for t in problem.tasks if t.id not in planned}
    status = "solved" if not unassigned else "partial"
    return Plan(tuple(routes), unassigned, status, elapsed)


def _why_unplanned(problem: RoutingProblem, task: Task) -> str:
    """A plain reason for a task left out of the plan, naming its courier when it has one."""
    if task.courier is None:
        couriers = [c for c in problem.couriers if c.takes_new]
        if not couriers:
            return "no courier on shift takes new orders"
        if not any(c.capacity >= task.size for c in couriers):
            return "no courier can carry it (capacity)"
        if not any(_can_finish(problem, c, task) for c in couriers):
            return (
                f"none of the {len(couriers)} couriers on shift can reach it and deliver "
                "before their shift ends"
            )
        return "no room in any courier's route (capacity or shift)"
    courier = next(c for c in problem.couriers if c.id == task.courier)
    who = f"pinned to courier {courier.id}, who" if task.pickup is not None else (
        f"on board courier {courier.id}, who")  # fmt: skip
    if courier.capacity < task.size:
        return f"{who} carries at most {courier.capacity} (it needs {task.size})"
    if not _can_finish(problem, courier, task):
        return f"{who} cannot reach it and deliver before their shift ends"
    return f"{who} has no room for it in their route with their other orders"


def _can_finish(problem: RoutingProblem, courier: Courier, task: Task) -> bool:
    """Whether the courier, going there first, can do this task alone before its shift ends."""
    start = delivery_start_alone(problem.travel_for(courier), courier, task)
    return start + task.delivery_service <= courier.shift_end


def delivery_start_alone(travel: Matrix, courier: Courier, task: Task) -> int:
    """When the courier starts delivering this task if it does it first and alone: the
    earliest it can be at the door, by the solver's own rules (ready time, service times)."""
    if task.pickup is None:
        arrive = courier.available_at + int(travel[courier.start][task.delivery])
    else:
        at_store = max(courier.available_at + int(travel[courier.start][task.pickup]), task.ready)
        arrive = at_store + task.pickup_service + int(travel[task.pickup][task.delivery])
    return max(arrive, task.delivery_ready)
