"""Extrusion, materials, scene XML round trip through Sionna RT, segments and sites."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import trimesh
from shapely.geometry import MultiPolygon, Polygon, box

from pipeline.config import BBox
from pipeline.errors import StinError
from pipeline.geometry.frame import LocalFrame
from pipeline.geometry.scene import MaterialTable, extrude_volume, write_scene
from pipeline.geometry.sites import anchor_point, assign_segments, place_sites, segment_grid

U_SHAPE = Polygon([(0, 0), (30, 0), (30, 30), (20, 30), (20, 10), (10, 10), (10, 30), (0, 30)])  # 700 m2
TABLE = MaterialTable(default="concrete", by_building_material={"glass": "glass", "wood": "wood"},
                      by_building_type={"greenhouse": "glass"}, ground="medium_dry_ground", thickness_m=0.2)


def _roof_area(mesh: trimesh.Trimesh, z: float) -> float:
    up = (mesh.face_normals[:, 2] > 0.99) & np.isclose(mesh.triangles_center[:, 2], z)
    return float(mesh.area_faces[up].sum())


def test_concave_roof_is_not_fan_triangulated():
    mesh = extrude_volume(U_SHAPE, 0.0, 12.0)
    assert mesh.is_watertight
    assert mesh.volume == pytest.approx(700.0 * 12.0)
    # a fan from one vertex would cover the U's notch and give 900 m2 of roof
    assert _roof_area(mesh, 12.0) == pytest.approx(700.0)
    # every roof triangle lies inside the footprint
    centers = mesh.triangles_center[mesh.face_normals[:, 2] > 0.99]
    assert all(U_SHAPE.buffer(1e-6).contains(Polygon(t[:, :2])) for t in
               mesh.triangles[mesh.face_normals[:, 2] > 0.99])
    assert len(centers) > 0


def test_courtyard_hole_and_multipolygon_extrude_closed():
    courtyard = Polygon([(0, 0), (40, 0), (40, 40), (0, 40)], holes=[[(10, 10), (30, 10), (30, 30), (10, 30)]])
    mesh = extrude_volume(MultiPolygon([courtyard, box(50, 0, 60, 10)]), 0.0, 10.0)
    assert mesh.is_watertight
    assert mesh.volume == pytest.approx((1200.0 + 100.0) * 10.0)
    assert _roof_area(mesh, 10.0) == pytest.approx(1300.0)


def test_base_height_lifts_the_volume():
    mesh = extrude_volume(box(0, 0, 10, 10), 6.0, 21.0)
    assert mesh.bounds[0, 2] == pytest.approx(6.0) and mesh.bounds[1, 2] == pytest.approx(21.0)
    assert mesh.volume == pytest.approx(100.0 * 15.0)


def test_outward_normals():
    mesh = extrude_volume(box(0, 0, 10, 10), 0.0, 5.0)
    centre = np.array([5.0, 5.0, 2.5])
    outward = np.einsum("ij,ij->i", mesh.face_normals, mesh.triangles_center - centre)
    assert (outward > 0).all()


def test_material_table_order_and_validation():
    assert TABLE.material_for("glass", None, "yes") == "glass"  # facade tag first
    assert TABLE.material_for(None, "Wood", "yes") == "wood"  # case-insensitive
    assert TABLE.material_for(None, None, "greenhouse") == "glass"
    assert TABLE.material_for(float("nan"), None, "office") == "concrete"
    with pytest.raises(StinError, match="unknown radio material"):
        MaterialTable.from_params({"materials": {"default": "unobtainium"}})


def _volumes(frame_crs) -> gpd.GeoDataFrame:
    rows = [
        dict(volume_id=0, building_id="way/1", building="yes", building_material=None, facade_material=None,
             height_m=20.0, min_height_m=0.0, geometry=U_SHAPE),
        dict(volume_id=1, building_id="way/2", building="yes", building_material="glass", facade_material=None,
             height_m=35.0, min_height_m=0.0, geometry=box(60, 0, 80, 20)),
        dict(volume_id=2, building_id="way/3", building="yes", building_material=None, facade_material=None,
             height_m=12.0, min_height_m=0.0, geometry=box(-80, -60, -60, -40)),
    ]
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=frame_crs)


def test_scene_round_trip_through_sionna(tmp_path):
    from pipeline.runtime import import_sionna_rt

    frame = LocalFrame(51.515, -0.09)
    stats = write_scene(tmp_path, _volumes(frame.crs), TABLE, (-100.0, -100.0, 100.0, 100.0), 10.0,
                        {"frame": frame.to_dict()})
    meta = json.loads((tmp_path / "metadata.json").read_text())
    assert meta["frame"]["lat0_deg"] == 51.515 and meta["n_triangles"] == stats["n_triangles"]
    rt = import_sionna_rt()
    scene = rt.load_scene(str(tmp_path / "scene.xml"))
    materials = {obj.radio_material.name for obj in scene.objects.values()}
    assert materials == {"concrete", "glass", "medium_dry_ground"}
    n_loaded = sum(int(obj.mi_mesh.face_count()) for obj in scene.objects.values())
    assert n_loaded == stats["n_triangles"]
    # ground spans the area plus margin
    ground = next(o for o in scene.objects.values() if o.radio_material.name == "medium_dry_ground")
    bb = ground.mi_mesh.bbox()
    assert (bb.min[0], bb.max[1]) == pytest.approx((-110.0, 110.0))


def test_segment_grid_tiles_the_area():
    bbox = BBox(60.0, 24.0, 60.012, 24.013)
    grid = segment_grid(bbox, 0.005, 0.006)
    assert len(grid) == 3 * 3  # 0.012/0.005 -> 3 rows, 0.013/0.006 -> 3 cols
    assert grid.union_all().area == pytest.approx(0.012 * 0.013)
    assert sum(g.area for g in grid.geometry) == pytest.approx(0.012 * 0.013)  # no overlaps
    assert list(grid.segment_id[:2]) == ["r0c0", "r0c1"]


def test_anchor_is_inside_concave_footprint():
    # the centroid of a U lies in its notch; the anchor must not
    assert not U_SHAPE.contains(U_SHAPE.centroid)
    assert U_SHAPE.contains(anchor_point(U_SHAPE))


def test_site_on_highest_building_of_each_segment():
    frame = LocalFrame(60.0, 24.0)
    bbox = BBox(59.999, 23.998, 60.001, 24.002)  # ~222 m x 222 m, centred on the frame
    volumes = _volumes(frame.crs)
    # segments split west/east at lon 24.0 (x = 0)
    volumes = assign_segments(volumes, bbox, 0.002, 0.002, frame)
    sites = place_sites(volumes, mast_height_m=5.0)
    assert list(sites.segment_id) == ["r0c0", "r0c1"]
    west, east = sites.iloc[0], sites.iloc[1]
    assert west.building_id == "way/3" and west.z_m == pytest.approx(17.0)  # only building there
    assert east.building_id == "way/2" and east.z_m == pytest.approx(40.0)  # 35 m beats 20 m
    assert box(60, 0, 80, 20).contains(gpd.points_from_xy([east.x_m], [east.y_m])[0])
    x, y = frame.to_local(east.lon, east.lat)
    assert (float(x), float(y)) == pytest.approx((east.x_m, east.y_m), abs=1e-3)


@pytest.mark.parametrize("mesh_mode", ["per_material", "per_building"])
def test_tile_scene_keeps_whole_buildings_over_the_box_and_drops_the_rest(tmp_path, mesh_mode):
    from pipeline.geometry.scene import SceneCropper
    from pipeline.runtime import import_sionna_rt

    frame = LocalFrame(51.515, -0.09)
    write_scene(tmp_path / "city", _volumes(frame.crs), TABLE, (-100.0, -100.0, 100.0, 100.0), 10.0,
                {"frame": frame.to_dict()}, mesh_mode=mesh_mode)
    cropper = SceneCropper(tmp_path / "city" / "scene.xml")
    assert cropper.bounds() == pytest.approx((-110.0, -110.0, 110.0, 110.0))
    assert cropper.crop((-90.0, -70.0, 85.0, 40.0), tmp_path / "all") is None  # every building: no copy
    assert not (tmp_path / "all").exists()
    # a box over the U-shaped building's lower edge only: the U is kept whole, the others are dropped
    xml = cropper.crop((-5.0, -5.0, 25.0, 5.0), tmp_path / "tile")
    rt = import_sionna_rt()
    scene = rt.load_scene(str(xml), merge_shapes=False)
    meshes = {name: trimesh.Trimesh(np.asarray(o.mi_mesh.vertex_positions_buffer()).reshape(-1, 3),
                                    np.asarray(o.mi_mesh.faces_buffer()).reshape(-1, 3))
              for name, o in scene.objects.items()}
    buildings = [m for name, m in meshes.items() if "ground" not in name]
    assert len(buildings) == 1
    kept = buildings[0]
    assert kept.is_watertight and len(kept.faces) == len(extrude_volume(U_SHAPE, 0.0, 20.0).faces)
    assert kept.bounds[:, :2].ravel() == pytest.approx([0.0, 0.0, 30.0, 30.0])
    assert {o.radio_material.name for o in scene.objects.values()} == {"concrete", "medium_dry_ground"}
