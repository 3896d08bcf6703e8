"""The ragged path store: rows sized by the paths found, streamed slot by slot, read lazily."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from pipeline.io.pathstore import (
    PathStoreWriter, SlotPaths, attach_rows, read_slot, ragged_dataset, write_path_dataset)


def _dense(rng: np.random.Generator, n_ue: int = 3, n_tx: int = 4, n_p: int = 5, rx: int = 2, txa: int = 1):
    valid = rng.random((n_ue, n_tx, n_p)) < 0.4
    a = (rng.normal(size=(n_ue, n_tx, rx, txa, n_p)) + 1j * rng.normal(size=(n_ue, n_tx, rx, txa, n_p))).astype(np.complex64)
    a *= valid[:, :, None, None, :]
    tau = rng.uniform(1e-7, 1e-5, (n_ue, n_tx, n_p))
    return a, valid, tau


def test_rows_hold_exactly_the_valid_paths_in_link_then_delay_order():
    a, valid, tau = _dense(np.random.default_rng(1))
    s = SlotPaths.from_dense(a, valid, tau_s=tau, doppler_hz=tau * 1e6)
    assert s.n_rows == valid.sum() and (s.num_paths == valid.sum(-1)).all()
    link = s.link_of_row()
    assert (np.diff(link) >= 0).all()
    same = np.diff(link) == 0
    assert (np.diff(s.tau_s)[same] > 0).all()  # by delay within a link
    # per-link power is the dense sum whatever the order
    power = s.per_link((np.abs(s.a) ** 2).sum(axis=(1, 2)))
    np.testing.assert_allclose(power, (np.abs(a) ** 2).sum(axis=(2, 3, 4)), rtol=1e-5)
    d = s.dense()
    assert d["a"].shape[-1] == valid.sum(-1).max()  # the slot's longest link, not the input's padding
    np.testing.assert_allclose(np.sort(d["tau_s"][d["valid"]]), np.sort(tau[valid]))
    np.testing.assert_allclose((np.abs(d["a"]) ** 2).sum(axis=(2, 3, 4)), (np.abs(a) ** 2).sum(axis=(2, 3, 4)), rtol=1e-5)


def test_path_order_inside_the_tracer_does_not_matter():
    """Batched receivers may get their paths in another order: the rows are the same."""
    a, valid, tau = _dense(np.random.default_rng(2))
    perm = np.random.default_rng(3).permutation(a.shape[-1])
    s1 = SlotPaths.from_dense(a, valid, tau_s=tau)
    s2 = SlotPaths.from_dense(a[..., perm], valid[..., perm], tau_s=tau[..., perm])
    np.testing.assert_array_equal(s1.a, s2.a)
    np.testing.assert_array_equal(s1.tau_s, s2.tau_s)


def test_merge_along_transmitters_equals_the_joint_dense_set():
    rng = np.random.default_rng(4)
    a1, v1, t1 = _dense(rng, n_tx=3, txa=2)
    a2, v2, t2 = _dense(rng, n_tx=2, n_p=3, txa=1)
    merged = SlotPaths.merge_tx([SlotPaths.from_dense(a1, v1, tau_s=t1), SlotPaths.from_dense(a2, v2, tau_s=t2)])
    n_p = 5
    a2p = np.pad(a2, [(0, 0)] * 3 + [(0, 1), (0, n_p - 3)])
    joint = SlotPaths.from_dense(np.concatenate([a1, a2p], axis=1),
                                 np.concatenate([v1, np.pad(v2, [(0, 0), (0, 0), (0, n_p - 3)])], axis=1),
                                 tau_s=np.concatenate([t1, np.pad(t2, [(0, 0), (0, 0), (0, n_p - 3)])], axis=1))
    np.testing.assert_array_equal(merged.num_paths, joint.num_paths)
    np.testing.assert_array_equal(merged.a, joint.a)
    np.testing.assert_array_equal(merged.tau_s, joint.tau_s)
    sub = merged.take_ue(np.array([False, True, True]))
    np.testing.assert_array_equal(sub.num_paths, merged.num_paths[1:])
    assert sub.n_rows == merged.num_paths[1:].sum()


def _static(n_time: int, n_ue: int, n_tx: int, rx: int, txa: int) -> xr.Dataset:
    return xr.Dataset({"ue_x_m": (("time", "ue"), np.zeros((n_time, n_ue)))},
                      coords={"time": np.arange(n_time), "ue": [f"u{k}" for k in range(n_ue)],
                              "tx": [f"t{j}" for j in range(n_tx)], "rx_ant": np.arange(rx), "tx_ant": np.arange(txa)})


def test_streamed_file_reads_back_slot_by_slot_and_is_reproducible(tmp_path):
    rng = np.random.default_rng(5)
    slots = [SlotPaths.from_dense(*_dense(rng)[:2], tau_s=_dense(rng)[2]) for _ in range(3)]
    files = []
    for name in ("one.nc", "two.nc"):
        with PathStoreWriter(tmp_path / name, _static(3, 3, 4, 2, 1),
                             {"gain_db": (("time", "ue", "tx"), "f4", {"units": "dB"})}) as w:
            for t, s in enumerate(slots):
                w.write_slot(t, s, gain_db=np.full((3, 4), float(t)))
        files.append((tmp_path / name).read_bytes())
    assert files[0] == files[1]  # same input, same bytes
    with xr.open_dataset(tmp_path / "one.nc") as ds:
        assert ds.sizes["path"] == sum(s.n_rows for s in slots)
        for t, s in enumerate(slots):
            back = read_slot(ds, t)
            np.testing.assert_array_equal(back.num_paths, s.num_paths)
            np.testing.assert_array_equal(back.a, s.a)
            np.testing.assert_array_equal(back.tau_s, s.tau_s)
            assert float(ds.gain_db[t, 0, 0]) == t
    # the in-memory form writes the same rows
    write_path_dataset(attach_rows(_static(3, 3, 4, 2, 1), slots).assign(
        gain_db=(("time", "ue", "tx"), np.stack([np.full((3, 4), float(t), np.float32) for t in range(3)]))),
        tmp_path / "mem.nc")
    with xr.open_dataset(tmp_path / "mem.nc") as ds:
        np.testing.assert_array_equal(read_slot(ds, 2).a, slots[2].a)


def test_an_interrupted_write_leaves_nothing(tmp_path):
    target = tmp_path / "paths.nc"
    rng = np.random.default_rng(6)
    with pytest.raises(RuntimeError, match="1 of 2 slots"):
        with PathStoreWriter(target, _static(2, 3, 4, 2, 1), {}) as w:
            w.write_slot(0, SlotPaths.from_dense(*_dense(rng)[:2]))
    assert not target.exists() and list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="in order"):
        with PathStoreWriter(target, _static(2, 3, 4, 2, 1), {}) as w:
            w.write_slot(1, SlotPaths.from_dense(*_dense(rng)[:2]))
    assert list(tmp_path.iterdir()) == []


def test_dense_files_are_converted_and_old_ones_refused():
    rng = np.random.default_rng(7)
    a, valid, tau = _dense(rng)
    dense = xr.Dataset({"a_real": (("time", "ue", "tx", "rx_ant", "tx_ant", "path"), a.real[None]),
                        "a_imag": (("time", "ue", "tx", "rx_ant", "tx_ant", "path"), a.imag[None]),
                        "tau_s": (("time", "ue", "tx", "path"), tau[None]),
                        "path_valid": (("time", "ue", "tx", "path"), valid[None].astype(np.uint8))})
    from pipeline.errors import StinError

    with pytest.raises(StinError, match="rerun the raypaths"):
        read_slot(dense, 0)
    s = read_slot(ragged_dataset(dense), 0)
    assert s.n_rows == valid.sum()
