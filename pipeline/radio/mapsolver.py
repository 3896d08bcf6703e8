"""Radio maps that see through the car's antenna: a receive pattern applied per ray.

Sionna RT's ``RadioMapSolver`` assumes an ideal isotropic receiver (its own docstring):
each ray that crosses the measurement plane adds |E|^2 to its cell whatever its
direction. The car's rooftop antenna (pipeline.radio.receiver) weighs every ray by its
gain toward the ray's arrival direction, so :class:`PatternRadioMapSolver` scales the
field of each ray by sqrt(G_rx(-k)) where the ray crosses the plane (k: its direction of
propagation), for shoot-and-bounce and for first-order diffraction alike:

    P_cell = sum_rays G_rx(-k_i) |E_i|^2 w_i        (instead of sum_rays |E_i|^2 w_i)

The hook wraps ``radio_map.add_paths`` for the duration of the two methods of the solver
that call it; :func:`check_receiver_hook` fails loudly if a Sionna RT release changes
that method's signature or stops calling it (the version is pinned in pyproject.toml).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator

from pipeline.runtime import import_sionna_rt

rt = import_sionna_rt()
import drjit as dr  # noqa: E402
from sionna.rt import RadioMapSolver  # noqa: E402
from sionna.rt.radio_map_solvers.planar_radio_map import PlanarRadioMap  # noqa: E402

_ADD_PATHS_ARGS = ("self", "e_fields", "array_w", "si", "k_world")


def check_receiver_hook() -> None:
    """Raise if Sionna RT no longer adds rays to radio maps where the receive-pattern hook expects."""
    problems = []
    params = list(inspect.signature(PlanarRadioMap.add_paths).parameters)
    if tuple(params[:5]) != _ADD_PATHS_ARGS:
        problems.append(f"PlanarRadioMap.add_paths takes {params[:5]}, expected {list(_ADD_PATHS_ARGS)}")
    for name in ("_shoot_and_bounce", "_evaluate_first_order_diffraction"):
        method = getattr(RadioMapSolver, name, None)
        if method is None or "radio_map.add_paths(" not in inspect.getsource(method):
            problems.append(f"RadioMapSolver.{name} no longer calls radio_map.add_paths")
    if problems:
        raise RuntimeError("Sionna RT receive-pattern hook broken: " + "; ".join(problems)
                           + " (pin sionna-rt==2.2.0 or port pipeline/radio/mapsolver.py)")


class PatternRadioMapSolver(RadioMapSolver):
    """A :class:`sionna.rt.RadioMapSolver` whose cells receive through ``receiver``'s pattern.

    ``receiver`` is any object with ``drjit_ray_gain(arrival: mi.Vector3f) -> mi.Float``
    (a :class:`pipeline.radio.receiver.ReceiverModel`); ``None`` keeps Sionna's isotropic cells.
    """

    def __init__(self) -> None:
        check_receiver_hook()
        super().__init__()
        self._receiver = None

    def __call__(self, scene, *, receiver=None, **kwargs):  # noqa: ANN001, ANN003, ANN204
        self._receiver = receiver
        try:
            return super().__call__(scene, **kwargs)
        finally:
            self._receiver = None

    @contextlib.contextmanager
    def _receiving(self, radio_map) -> Iterator[None]:  # noqa: ANN001
        """Within the block, rays added to ``radio_map`` are weighed by the receive pattern."""
        receiver = self._receiver
        if receiver is None:
            yield
            return
        original = radio_map.add_paths

        def add_paths(e_fields, array_w, si, k_world, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            amplitude = dr.sqrt(receiver.drjit_ray_gain(-k_world))
            return original(e_fields, [w * amplitude for w in array_w], si, k_world, *args, **kwargs)

        radio_map.add_paths = add_paths
        try:
            yield
        finally:
            del radio_map.add_paths  # the class's method again

    def _shoot_and_bounce(self, scene, radio_map, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        with self._receiving(radio_map):
            return super()._shoot_and_bounce(scene, radio_map, *args, **kwargs)

    def _evaluate_first_order_diffraction(self, scene, radio_map, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        with self._receiving(radio_map):
            return super()._evaluate_first_order_diffraction(scene, radio_map, *args, **kwargs)
