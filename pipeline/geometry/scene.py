"""Extrude building volumes into closed meshes and write a Sionna RT (Mitsuba XML) scene.

Each volume is extruded with ``trimesh.creation.extrude_polygon``: the roof and floor are
triangulated by ear clipping with holes (never fan-triangulated, so concave roofs and
courtyards stay right), walls join them into a watertight solid from ``min_height_m``
to ``height_m``. Meshes are merged per radio material (one PLY each; Sionna merges shapes
of one material anyway) and a flat ground plane is added at z = 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import geopandas as gpd
import numpy as np
import shapely
import trimesh
from shapely.geometry import Polygon

from pipeline.errors import StinError
from pipeline.schema import ITU_MATERIALS

# ITU-R P.2040 materials known to Sionna RT 2.2 (sionna/rt/radio_materials/itu.py)
SCENE_XML = "scene.xml"
SCENE_METADATA = "metadata.json"


@dataclass(frozen=True)
class MaterialTable:
    """Building -> ITU radio material: facade tag, then material tag, then type, then default."""

    default: str
    by_building_material: dict[str, str]
    by_building_type: dict[str, str]
    ground: str
    thickness_m: float

    @classmethod
    def from_params(cls, scene_params: dict[str, Any]) -> "MaterialTable":
        from pipeline.config import number  # noqa: PLC0415

        w = "params.yaml scene.materials"
        mats = scene_params.get("materials") or {}
        if not isinstance(mats, dict):
            raise StinError(f"{w} must be a mapping", "see params.yaml for its keys")
        for key in ("by_building_material", "by_building_type"):
            if not isinstance(mats.get(key) or {}, dict):
                raise StinError(f"{w}.{key} must map OSM tag values to radio materials, got {mats.get(key)!r}",
                                f"write '{key}:' with lines such as 'glass: glass'")
        table = cls(
            default=str(mats.get("default", "concrete")),
            by_building_material={str(k).lower(): str(v) for k, v in (mats.get("by_building_material") or {}).items()},
            by_building_type={str(k).lower(): str(v) for k, v in (mats.get("by_building_type") or {}).items()},
            ground=str(mats.get("ground", "medium_dry_ground")),
            thickness_m=number({"t": mats.get("thickness_m", 0.2)}, "t", f"{w} thickness_m"),
        )
        used = {table.default, table.ground, *table.by_building_material.values(),
                *table.by_building_type.values()}
        unknown = sorted(used - set(ITU_MATERIALS))
        if unknown:
            raise StinError(f"params.yaml scene.materials: unknown radio material(s) {', '.join(unknown)}",
                            f"use ITU-R P.2040 names known to Sionna RT: {', '.join(ITU_MATERIALS)}")
        if table.thickness_m <= 0:
            raise StinError("params.yaml scene.materials.thickness_m must be > 0", "set a wall thickness in metres")
        return table

    def material_for(self, facade: Any, material: Any, btype: Any) -> str:
        for tag, lookup in ((facade, self.by_building_material), (material, self.by_building_material),
                            (btype, self.by_building_type)):
            if isinstance(tag, str) and tag.lower() in lookup:
                return lookup[tag.lower()]
        return self.default


def extrude_volume(geometry: Any, min_height_m: float, height_m: float) -> trimesh.Trimesh:
    """Closed triangle mesh of a (multi)polygon extruded from ``min_height_m`` to ``height_m``."""
    polygons = [geometry] if isinstance(geometry, Polygon) else list(geometry.geoms)
    meshes = []
    for poly in polygons:
        poly = shapely.set_precision(poly, 1e-3)  # mm grid: removes near-duplicate vertices
        if poly.is_empty or not isinstance(poly, Polygon):
            for sub in getattr(poly, "geoms", []):
                meshes.append(extrude_volume(sub, min_height_m, height_m))
            continue
        mesh = trimesh.creation.extrude_polygon(poly, height_m - min_height_m)
        mesh.apply_translation([0.0, 0.0, min_height_m])
        meshes.append(mesh)
    return trimesh.util.concatenate(meshes) if len(meshes) > 1 else meshes[0]


def ground_mesh(bounds: tuple[float, float, float, float], margin_m: float) -> trimesh.Trimesh:
    """Two triangles at z = 0 covering ``bounds`` (minx, miny, maxx, maxy) plus a margin; normal +z."""
    x0, y0, x1, y1 = bounds
    x0, y0, x1, y1 = x0 - margin_m, y0 - margin_m, x1 + margin_m, y1 + margin_m
    vertices = np.array([[x0, y0, 0.0], [x1, y0, 0.0], [x1, y1, 0.0], [x0, y1, 0.0]])
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    return trimesh.Trimesh(vertices=vertices, faces=faces, process=False)


MESH_MODES = ("per_material", "per_building")


def shape_name_of(building_id: str) -> str:
    """Scene shape name of a building: ``building-<osm type>-<osm id>`` (e.g. ``building-way-4252``)."""
    return "building-" + str(building_id).replace("/", "-")


def build_meshes(volumes: gpd.GeoDataFrame, table: MaterialTable, mode: str = "per_material"
                 ) -> tuple[dict[str, tuple[str, trimesh.Trimesh]], list[str]]:
    """Scene shapes {name: (material, mesh)} and the material chosen for each volume.

    ``per_material``: one merged mesh per material (``buildings-<material>``; fastest to load).
    ``per_building``: one mesh per OSM building (``building-<osm type>-<osm id>``, with a
    ``-<material>`` suffix only when its parts differ in material), so one building's material or
    height can be changed in the loaded scene (:func:`edit_building`).
    """
    if mode not in MESH_MODES:
        raise StinError(f"params.yaml scene.mesh = {mode!r} is unknown", f"use one of {', '.join(MESH_MODES)}")
    groups: dict[tuple[str, str], list[trimesh.Trimesh]] = {}
    chosen: list[str] = []
    for row in volumes.itertuples(index=False):
        mat = table.material_for(row.facade_material, row.building_material, row.building)
        chosen.append(mat)
        key = (mat, "") if mode == "per_material" else (mat, str(row.building_id))
        base = float(getattr(row, "ground_z_m", 0.0))  # terrain under the building (0 on flat ground)
        groups.setdefault(key, []).append(extrude_volume(row.geometry, base + float(row.min_height_m),
                                                         base + float(row.height_m)))
    shapes: dict[str, tuple[str, trimesh.Trimesh]] = {}
    materials_of: dict[str, set[str]] = {}
    for mat, bid in groups:
        materials_of.setdefault(bid, set()).add(mat)
    for (mat, bid), meshes in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if mode == "per_material":
            name = f"buildings-{mat}"
        else:
            name = shape_name_of(bid) + (f"-{mat}" if len(materials_of[bid]) > 1 else "")
        shapes[name] = (mat, trimesh.util.concatenate(meshes) if len(meshes) > 1 else meshes[0])
    return shapes, chosen


def edit_building(scene, building_id: str, *, material: str | None = None,  # noqa: ANN001
                  height_m: float | None = None) -> None:
    """Change one building of a loaded ``per_building`` Sionna RT scene before re-tracing.

    ``material``: an ITU material name (``"metal"``, ``"glass"``, ...); ``height_m``: new roof
    height, the base staying on the ground (the shape is scaled along z about its own base).
    ``building_id`` is the OSM id as in buildings_local.gpkg (``"way/4252"``)."""
    obj = scene.objects.get(shape_name_of(building_id))
    if obj is None:
        raise StinError(f"building {building_id!r} is not a shape of this scene",
                        "build the scene with params.yaml scene.mesh: per_building and use an id from buildings_local.gpkg")
    if material is not None:
        from pipeline.runtime import import_sionna_rt  # noqa: PLC0415

        rt = import_sionna_rt()
        mat = scene.get(material)  # the scene's materials are named after their ITU type (write_scene)
        if mat is None:
            mat = rt.ITURadioMaterial(material, material, thickness=_thickness(obj))
        obj.radio_material = mat
    if height_m is not None:
        if height_m <= 0:
            raise StinError(f"height_m = {height_m} must be > 0", "give the new roof height in metres")
        import mitsuba as mi  # noqa: PLC0415

        bbox = obj.mi_mesh.bbox()
        z0, z1 = float(bbox.min.z), float(bbox.max.z)
        factor = (height_m - z0) / (z1 - z0)
        sx, sy, sz = (float(v) for v in np.asarray(obj.scaling, float).ravel())
        obj.scaling = mi.Vector3f(sx, sy, sz * factor)  # Sionna scales about the shape's position
        px, py, _ = (float(v) for v in np.asarray(obj.position, float).ravel())
        obj.position = mi.Point3f(px, py, z0 + (height_m - z0) / 2.0)  # position = bbox centre: base stays at z0


def _thickness(obj) -> float:  # noqa: ANN001
    """The wall thickness of the building's current material (the scene's one thickness)."""
    return float(np.asarray(obj.radio_material.thickness).ravel()[0])


def write_scene(out_dir: Path, volumes: gpd.GeoDataFrame, table: MaterialTable,
                ground_bounds: tuple[float, float, float, float], ground_margin_m: float,
                metadata: dict[str, Any], mesh_mode: str = "per_material", terrain=None) -> dict[str, Any]:  # noqa: ANN001
    """Write ``scene.xml`` + ``meshes/*.ply`` + ``metadata.json`` into ``out_dir``.

    Returns statistics (triangles, materials) that are also stored in the metadata.
    """
    built, chosen = build_meshes(volumes, table, mesh_mode)
    meshes_dir = out_dir / "meshes"
    meshes_dir.mkdir(parents=True, exist_ok=True)
    shapes = [(name, mat, mesh) for name, (mat, mesh) in built.items()]
    if terrain is None:
        ground = ground_mesh(ground_bounds, ground_margin_m)
    else:  # the DEM's surface (pipeline.geometry.terrain)
        x0, y0, x1, y1 = ground_bounds
        ground = terrain.mesh((x0 - ground_margin_m, y0 - ground_margin_m, x1 + ground_margin_m, y1 + ground_margin_m))
    shapes.append(("ground", table.ground, ground))
    used_materials = sorted({*(mat for mat, _ in built.values()), table.ground})

    lines = ['<scene version="2.1.0">', "", "<!-- Materials: ITU-R P.2040 via Sionna RT -->"]
    for mat in used_materials:
        lines += [f'    <bsdf type="itu-radio-material" id={quoteattr(mat)}>',
                  f'        <string name="type" value={quoteattr(mat)}/>',
                  f'        <float name="thickness" value="{table.thickness_m!r}"/>',
                  "    </bsdf>"]
    lines += ["", "<!-- Shapes -->"]
    for shape_id, mat_id, mesh in shapes:
        rel = f"meshes/{shape_id}.ply"
        mesh.export(out_dir / rel, file_type="ply", encoding="binary")
        lines += [f'    <shape type="ply" id={quoteattr("mesh-" + shape_id)}>',
                  f'        <string name="filename" value={quoteattr(rel)}/>',
                  '        <boolean name="face_normals" value="true"/>',
                  f'        <ref id={quoteattr(mat_id)} name="bsdf"/>',
                  "    </shape>"]
    lines.append("</scene>")
    (out_dir / SCENE_XML).write_text("\n".join(lines) + "\n", encoding="utf-8")

    n_building_triangles = int(sum(len(m.faces) for _, m in built.values()))
    stats = {
        "mesh": mesh_mode,
        "n_shapes": len(shapes),
        "n_triangles": n_building_triangles + len(ground.faces),
        "n_building_triangles": n_building_triangles,
        "volumes_per_material": {m: chosen.count(m) for m in sorted(set(chosen))},
        "ground_material": table.ground,
        "ground_bounds_m": [b for b in ground_bounds],
        "ground_margin_m": ground_margin_m,
    }
    (out_dir / SCENE_METADATA).write_text(json.dumps({**metadata, **stats}, indent=2, sort_keys=True) + "\n",
                                          encoding="utf-8")
    return stats


class SceneCropper:
    """Cut a written scene down to what lies over a rectangle (per-tile scenes for tiled ray tracing).

    Buildings are kept whole: every connected part of a building mesh (one extruded volume) whose
    footprint box meets the rectangle is kept, every other one dropped; the ground keeps the triangles
    whose box meets it. The meshes are read once; :meth:`crop` writes as many cropped scenes as asked.
    """

    def __init__(self, scene_xml: Path) -> None:
        import xml.etree.ElementTree as ET  # noqa: PLC0415

        self.scene_xml = Path(scene_xml)
        self._tree = ET.parse(self.scene_xml)
        self._parts: dict[str, tuple[trimesh.Trimesh, np.ndarray, np.ndarray]] = {}  # rel path -> mesh, part, boxes
        for shape in self._tree.getroot().iter("shape"):
            rel = next(c.get("value") for c in shape if c.get("name") == "filename")
            mesh = trimesh.load(self.scene_xml.parent / rel, process=False, force="mesh")
            corners = mesh.vertices[mesh.faces][..., :2]  # (faces, 3, xy)
            lo, hi = corners.min(axis=1), corners.max(axis=1)
            if shape.get("id") == "mesh-ground":  # per triangle
                part = np.arange(len(mesh.faces))
            else:  # per connected part: one extruded volume
                part = trimesh.graph.connected_component_labels(mesh.face_adjacency, node_count=len(mesh.faces))
            n = int(part.max()) + 1 if len(part) else 0
            box_lo, box_hi = np.full((n, 2), np.inf), np.full((n, 2), -np.inf)
            np.minimum.at(box_lo, part, lo)
            np.maximum.at(box_hi, part, hi)
            self._parts[rel] = (mesh, part, np.concatenate([box_lo, box_hi], axis=1))

    def bounds(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of every building and the ground."""
        boxes = np.concatenate([b for _, _, b in self._parts.values()])
        return (float(boxes[:, 0].min()), float(boxes[:, 1].min()), float(boxes[:, 2].max()), float(boxes[:, 3].max()))

    def crop(self, box: tuple[float, float, float, float], out_dir: Path) -> Path | None:
        """Write the scene over ``box`` (x0, y0, x1, y1) into ``out_dir``; None (nothing written) when the box
        holds the whole scene's buildings, so the original scene serves as it is."""
        import copy  # noqa: PLC0415

        x0, y0, x1, y1 = box
        keep: dict[str, np.ndarray] = {}
        for rel, (mesh, part, boxes) in self._parts.items():
            meets = (boxes[:, 0] <= x1) & (boxes[:, 2] >= x0) & (boxes[:, 1] <= y1) & (boxes[:, 3] >= y0)
            keep[rel] = meets[part]
        if all(k.all() for rel, k in keep.items() if not rel.endswith("ground.ply")):
            return None
        out_dir = Path(out_dir)
        (out_dir / "meshes").mkdir(parents=True, exist_ok=True)
        tree = copy.deepcopy(self._tree)
        root = tree.getroot()
        for shape in list(root.iter("shape")):
            rel = next(c.get("value") for c in shape if c.get("name") == "filename")
            mesh, faces = self._parts[rel][0], keep[rel]
            if not faces.any():
                root.remove(shape)
                continue
            sub = trimesh.Trimesh(vertices=mesh.vertices, faces=mesh.faces[faces], process=False)
            sub.remove_unreferenced_vertices()
            sub.export(out_dir / rel, file_type="ply", encoding="binary")
        tree.write(out_dir / SCENE_XML, encoding="utf-8")
        meta = self.scene_xml.with_name(SCENE_METADATA)
        if meta.is_file():  # the mesh mode (per_building scenes keep their shapes apart when loaded)
            (out_dir / SCENE_METADATA).write_text(meta.read_text(encoding="utf-8"), encoding="utf-8")
        return out_dir / SCENE_XML
