"""Channels for optimizers: the PyTorch Dataset and the Sionna CIRDataset generator against the file's own
values (read here with netCDF4 directly, not through the loader), and Sionna's frequency response
against the loader's."""

from __future__ import annotations

import netCDF4
import numpy as np
import pytest
import xarray as xr

from pipeline.io import channel_vectors, load_channels
from pipeline.io.channels import slot_cir
from pipeline.io.pathstore import SlotPaths, attach_rows, write_path_dataset

N_T, N_UE, N_TX, N_RX_ANT, N_TX_ANT, N_P = 3, 4, 3, 2, 1, 5


def synthetic_channels(path, seed: int = 0) -> None:
    """3 slots x 4 cars x (2 BS sectors + 1 satellite), 2 rx antennas; each link has 0..5 paths (some none);
    satellite delays ~3 ms as in the real files."""
    rng = np.random.default_rng(seed)
    slots = []
    for _ in range(N_T):
        valid = rng.random((N_UE, N_TX, N_P)) < 0.6
        valid[0, 0] = False  # a link without paths
        valid[1, 1] = True  # a link with the most paths
        a = (rng.normal(size=(N_UE, N_TX, N_RX_ANT, N_TX_ANT, N_P))
             + 1j * rng.normal(size=(N_UE, N_TX, N_RX_ANT, N_TX_ANT, N_P))) * 1e-6
        tau = rng.uniform(1e-7, 2e-6, (N_UE, N_TX, N_P))
        tau[:, 2] += 3.1e-3
        slots.append(SlotPaths.from_dense(a, valid, tau_s=tau,
                                          doppler_hz=rng.uniform(-80e3, 80e3, (N_UE, N_TX, N_P)).astype(np.float32)))
    static = xr.Dataset(
        {"gain_db": (("time", "ue", "tx"), rng.uniform(-140, -90, (N_T, N_UE, N_TX)).astype(np.float32)),
         **{f"ue_{c}_m": (("time", "ue"), rng.uniform(0, 500, (N_T, N_UE))) for c in "xyz"}},
        coords={"time": np.arange(N_T), "ue": [f"ue{k:02d}" for k in range(N_UE)], "tx": ["bs00-s0", "bs00-s1", "sat0"],
                "tx_kind": (("tx",), ["bs", "bs", "sat"]), "rx_ant": np.arange(N_RX_ANT), "tx_ant": np.arange(N_TX_ANT)},
        attrs={"freq_hz": 3.5e9})
    write_path_dataset(attach_rows(static, slots), path)


@pytest.fixture()
def channels_path(tmp_path):
    path = tmp_path / "channels.nc"
    synthetic_channels(path)
    return path


def raw_links(path, t: int) -> dict[tuple[int, int], dict[str, np.ndarray]]:
    """The file's rows of slot t per link, read with netCDF4 (independent of pipeline.io)."""
    with netCDF4.Dataset(path) as f:
        start, n = int(f["slot_path_start"][t]), int(f["slot_num_paths"][t])
        num = np.asarray(f["num_paths"][t])
        a = np.asarray(f["a_real"][start:start + n]) + 1j * np.asarray(f["a_imag"][start:start + n])
        tau = np.asarray(f["tau_s"][start:start + n])
        dop = np.asarray(f["doppler_hz"][start:start + n])
    out, row = {}, 0
    for k in range(num.shape[0]):
        for j in range(num.shape[1]):
            m = int(num[k, j])
            out[k, j] = {"a": a[row:row + m], "tau": tau[row:row + m], "doppler": dop[row:row + m]}
            row += m
    assert row == n
    return out


def test_torch_dataset_round_trip(channels_path):
    torch = pytest.importorskip("torch")
    from pipeline.io.torch_dataset import ChannelDataset

    data = ChannelDataset(channels_path)
    assert len(data) == N_T and data.n_paths == N_P
    with netCDF4.Dataset(channels_path) as f:
        gain = np.asarray(f["gain_db"][:])
    for t in range(N_T):
        sample = data[t]
        assert sample["a"].dtype == torch.complex64 and tuple(sample["a"].shape) == (N_UE, N_RX_ANT, N_TX, N_TX_ANT, N_P)
        for (k, j), link in raw_links(channels_path, t).items():
            m = len(link["tau"])
            # a is (rx, rx_ant, tx, tx_ant, path); the file's rows are (path, rx_ant, tx_ant)
            np.testing.assert_array_equal(sample["a"][k, :, j, :, :m].numpy(), np.moveaxis(link["a"], 0, -1))
            assert not sample["a"][k, :, j, :, m:].any() and sample["valid"][k, j].sum() == m
            np.testing.assert_array_equal(sample["tau_s"][k, j, :m].numpy(), link["tau"].astype(np.float32))
            np.testing.assert_array_equal(sample["doppler_hz"][k, j, :m].numpy(), link["doppler"])
        np.testing.assert_array_equal(sample["gain_db"].numpy(), gain[t])
    # one car at one slot, and batches through the default collate
    cars = ChannelDataset(channels_path, sample="car_slot", tx="sat")
    assert len(cars) == N_T * N_UE
    item = cars[2 * N_UE + 3]
    assert int(item["time_index"]) == 2 and int(item["ue_index"]) == 3
    np.testing.assert_array_equal(item["a"].numpy(), data[2]["a"][3][:, 2:3].numpy())
    batch = next(iter(torch.utils.data.DataLoader(cars, batch_size=5)))
    assert tuple(batch["a"].shape) == (5, N_RX_ANT, 1, N_TX_ANT, N_P)
    with pytest.raises(IndexError):
        cars[len(cars)]


def test_sionna_cir_dataset_and_frequency_response(channels_path):
    pytest.importorskip("torch")
    channel = pytest.importorskip("sionna.phy.channel")
    import torch

    from pipeline.io.sionna_cir import CIRGenerator

    gen = CIRGenerator(channels_path, normalize_delays=False)
    assert gen.dims == {"num_rx": N_UE, "num_rx_ant": N_RX_ANT, "num_tx": N_TX, "num_tx_ant": N_TX_ANT,
                        "num_paths": N_P, "num_time_steps": 1}
    slots = list(gen())
    assert len(slots) == N_T
    # Sionna's own CIRDataset takes the generator and batches it (in its shuffled order)
    model = channel.CIRDataset(gen, batch_size=2, **gen.dims)
    a_batch, tau_batch = model()
    assert tuple(a_batch.shape) == (2, N_UE, N_RX_ANT, N_TX, N_TX_ANT, N_P, 1)
    for a_b in a_batch:
        assert any(np.array_equal(a_b.numpy(), a) for a, _ in slots)
    # Sionna's frequency response = the loader's (sum_p a_p exp(-j 2 pi f tau_p)), BS links (float32 delays
    # of ~1 us are exact enough; the satellite's 3 ms needs the normalised delays below)
    f = np.array([-2e6, 0.0, 1e6, 5e6])
    ds = load_channels(channels_path)
    for t, (a, tau) in enumerate(slots):
        h_sionna = channel.cir_to_ofdm_channel(torch.tensor(f, dtype=torch.float32), torch.from_numpy(a[None]),
                                               torch.from_numpy(tau[None]))[0, ..., 0, :].numpy()
        h_ref = np.moveaxis(channel_vectors(ds, t, f), 2, 1)  # (ue, rx_ant, tx, tx_ant, F)
        np.testing.assert_allclose(h_sionna[:, :, :2], h_ref[:, :, :2], atol=1e-9, rtol=1e-4)
    # normalised delays: each link's first path at 0; |H| unchanged, for the satellite too
    a_n, tau_n = next(iter(CIRGenerator(channels_path)()))
    h_n = channel.cir_to_ofdm_channel(torch.tensor(f, dtype=torch.float32), torch.from_numpy(a_n[None]),
                                      torch.from_numpy(tau_n[None]))[0, ..., 0, :].numpy()
    h_ref = np.moveaxis(channel_vectors(ds, 0, f), 2, 1)
    np.testing.assert_allclose(np.abs(h_n), np.abs(h_ref), atol=1e-9, rtol=1e-4)
    assert tau_n[1, 2, 0] == 0.0


def test_doppler_time_steps(channels_path):
    ds = load_channels(channels_path)
    fs = 1e6
    a, _ = slot_cir(ds, 1, time_offsets_s=np.arange(3) / fs)
    dense = slot_cir(ds, 1)[0][..., 0]
    from pipeline.io.pathstore import read_slot

    dop = read_slot(ds, 1).dense()["doppler_hz"]  # (ue, tx, path)
    for n in range(3):
        rot = np.exp(2j * np.pi * dop * n / fs)[:, None, :, None, :]
        np.testing.assert_allclose(a[..., n], dense * rot, rtol=2e-6, atol=1e-12)
